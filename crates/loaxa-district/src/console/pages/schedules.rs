//! Schedules: programmes made with a form, a scope's schedule checked and previewed, then
//! signed and published as its next revision; and the week ahead.

use std::collections::{BTreeMap, BTreeSet};

use axum::Form;
use axum::extract::{Path, Query};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime, NaiveTime, Utc};
use loaxa_core::i18n::FluentValue;
use loaxa_core::protocol::Scope;
use loaxa_core::schedule::Priority;
use maud::{Markup, html};
use serde::Deserialize;

use crate::console::auth::Role;
use crate::console::content::{self, BulletinState};
use crate::console::html::{self, csrf_field, page};
use crate::console::pages::bulletins::{
    NewPublicationOwned, check_within, level_text, publications_table, record, slug,
};
use crate::console::programmes::{self, CHIME, Programme, Timing};
use crate::console::targets::{Organisation, Target};
use crate::console::{AuditLine, Staff, db};

/// Day names in the order of the form, with their crontab numbers (Monday first, as Vietnamese
/// calendars do).
const DAYS: [(u8, &str); 7] = [
    (1, "day-mon"),
    (2, "day-tue"),
    (3, "day-wed"),
    (4, "day-thu"),
    (5, "day-fri"),
    (6, "day-sat"),
    (0, "day-sun"),
];

struct Everything {
    programmes: Vec<Programme>,
    bulletins: Vec<content::Bulletin>,
    communes: Vec<db::Commune>,
    groups: Vec<db::Group>,
}

async fn everything(staff: &Staff) -> Result<Everything, Response> {
    staff
        .app
        .db
        .call(|conn| {
            Ok(Everything {
                programmes: programmes::programmes(conn)?,
                bulletins: content::bulletins(conn)?,
                communes: db::communes(conn)?,
                groups: db::groups(conn)?,
            })
        })
        .await
        .map_err(|e| html::internal_error(&e))
}

fn timing_text(staff: &Staff, timing: &Timing) -> String {
    match timing {
        Timing::Weekly { days, times } => {
            let days: Vec<String> = DAYS
                .iter()
                .filter(|(n, _)| days.contains(n) || days.is_empty())
                .map(|(_, id)| staff.t(id))
                .collect();
            let times: Vec<String> = times
                .iter()
                .map(|t| t.format("%H:%M").to_string())
                .collect();
            format!("{} · {}", days.join(", "), times.join(", "))
        }
        Timing::Once { at } => at
            .iter()
            .map(|t| t.format("%d/%m/%Y %H:%M:%S").to_string())
            .collect::<Vec<_>>()
            .join(", "),
        Timing::Cron { line } => format!("cron {line}"),
    }
}

/// The scopes the programmes publish to, each once.
fn scopes_of(staff: &Staff, all: &Everything) -> Vec<Scope> {
    let none = |_: &str| None;
    let organisation = Organisation {
        office_id: &staff.app.config.office.id,
        groups: &all.groups,
        box_commune: &none,
    };
    let targets: Vec<Target> = all.programmes.iter().map(|p| p.target.clone()).collect();
    organisation.all_scopes(&targets)
}

pub async fn list(staff: Staff) -> Response {
    let all = match everything(&staff).await {
        Ok(all) => all,
        Err(response) => return response,
    };
    let titles: BTreeMap<&str, &str> = all
        .bulletins
        .iter()
        .map(|b| (b.id.as_str(), b.title.as_str()))
        .collect();
    let scopes = scopes_of(&staff, &all);
    let body = html! {
        @if staff.account.may(Role::Editor) {
            p { a.button href="/schedules/new" { (staff.t("programme-new")) } }
        }
        table #programmes {
            thead { tr {
                th { (staff.t("programme-title")) } th { (staff.t("programme-target")) }
                th { (staff.t("programme-when")) } th { (staff.t("programme-items")) }
                th { (staff.t("bulletin-level")) } th {}
            } }
            tbody {
                @for p in &all.programmes {
                    tr data-programme=(p.id) {
                        td { (p.title) }
                        td { (p.target.to_string()) }
                        td { (timing_text(&staff, &p.timing)) }
                        td { (p.items.iter().map(|i| if i == CHIME { staff.t("programme-chime") } else { titles.get(i.as_str()).map_or(i.clone(), |t| t.to_string()) }).collect::<Vec<_>>().join(" + ")) }
                        td { (level_text(&staff, p.priority)) }
                        td {
                            @if staff.account.may(Role::Editor) {
                                form.inline method="post" action={ "/schedules/" (p.id) "/delete" } {
                                    (csrf_field(&staff))
                                    button type="submit" { (staff.t("programme-delete")) }
                                }
                            }
                        }
                    }
                }
            }
        }
        h2 { (staff.t("schedule-scopes")) }
        ul {
            @for scope in &scopes {
                li {
                    code { (scope.to_string()) } " · "
                    a href={ "/schedules/week?scope=" (scope.to_string()) } { (staff.t("schedule-week")) } " · "
                    a href={ "/schedules/publish?scope=" (scope.to_string()) } { (staff.t("schedule-review")) }
                }
            }
        }
    };
    page(&staff, &staff.t("nav-schedules"), body).into_response()
}

pub async fn new_form(staff: Staff) -> Response {
    if let Err(refused) = staff.require(Role::Editor) {
        return refused;
    }
    form_page(&staff, None, StatusCode::OK).await
}

async fn form_page(staff: &Staff, problem: Option<&str>, status: StatusCode) -> Response {
    let mut all = match everything(staff).await {
        Ok(all) => all,
        Err(response) => return response,
    };
    all.communes = crate::console::pages::known_communes(&staff.app).await;
    let own = staff.account.commune.as_deref();
    let approved = all
        .bulletins
        .iter()
        .filter(|b| b.state == BulletinState::Published);
    let body = html! {
        @if let Some(problem) = problem { p.problem role="alert" { (problem) } }
        form method="post" action="/schedules" {
            (csrf_field(staff))
            label { (staff.t("programme-title")) input name="title" required maxlength="200"; }
            label { (staff.t("programme-target"))
                select name="target" {
                    @if own.is_none() { option value="office" { (staff.t("target-office")) } }
                    @for c in all.communes.iter().filter(|c| own.is_none_or(|o| o == c.id)) {
                        option value={ "commune/" (c.id) } { (c.name) }
                    }
                    @for g in &all.groups { option value={ "group/" (g.id) } { (g.name) } }
                }
            }
            label { (staff.t("bulletin-other-targets")) input name="target_text" placeholder="commune/phu-dong"; }
            fieldset {
                legend { (staff.t("programme-items")) }
                label.check { input type="checkbox" name="chime" value="1" checked; (staff.t("programme-chime")) }
                @for b in approved {
                    label.check { input type="checkbox" name="bulletin" value=(b.id); (b.title) " (" (html::duration(b.duration_ms)) ")" }
                }
            }
            fieldset {
                legend { (staff.t("programme-when")) }
                label.check { input type="radio" name="kind" value="weekly" checked; (staff.t("programme-weekly")) }
                div.days {
                    @for (n, id) in DAYS { label.check { input type="checkbox" name="day" value=(n) checked; (staff.t(id)) } }
                }
                label { (staff.t("programme-times")) input name="times" placeholder="06:00, 17:30"; }
                label.check { input type="radio" name="kind" value="once"; (staff.t("programme-once")) }
                label { (staff.t("programme-once-times")) textarea name="once" rows="3" placeholder="25/12/2026 07:00" {} }
                label.check { input type="radio" name="kind" value="cron"; (staff.t("programme-cron")) }
                label { "cron" input name="cron" placeholder="30 5 * * 1-5"; }
            }
            label { (staff.t("bulletin-level"))
                select name="priority" {
                    @for level in [Priority::Normal, Priority::Priority, Priority::Emergency] {
                        option value=(level.to_string()) { (level_text(staff, level)) }
                    }
                }
            }
            button type="submit" { (staff.t("programme-save")) }
        }
    };
    (status, page(staff, &staff.t("programme-new"), body)).into_response()
}

pub async fn create(staff: Staff, Form(fields): Form<Vec<(String, String)>>) -> Response {
    if let Err(refused) = staff.require(Role::Editor) {
        return refused;
    }
    let one = |name: &str| {
        fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.trim().to_owned())
            .unwrap_or_default()
    };
    let many = |name: &str| {
        fields
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.trim().to_owned())
            .collect::<Vec<_>>()
    };
    let title = one("title");
    if title.is_empty() || title.chars().count() > 200 {
        return form_page(
            &staff,
            Some(&staff.t("bulletin-bad-title")),
            StatusCode::BAD_REQUEST,
        )
        .await;
    }
    let target_text = one("target_text");
    let target_text = if target_text.is_empty() {
        one("target")
    } else {
        target_text
    };
    let Ok(target) = target_text.parse::<Target>() else {
        let message = staff.t_args(
            "bulletin-bad-target",
            &[("target", FluentValue::from(target_text))],
        );
        return form_page(&staff, Some(&message), StatusCode::BAD_REQUEST).await;
    };
    let mut items = Vec::new();
    if one("chime") == "1" {
        items.push(CHIME.to_owned());
    }
    items.extend(
        many("bulletin")
            .into_iter()
            .filter(|b| loaxa_core::ids::is_name(b)),
    );
    if items.iter().all(|i| i == CHIME) {
        return form_page(
            &staff,
            Some(&staff.t("programme-no-bulletin")),
            StatusCode::BAD_REQUEST,
        )
        .await;
    }
    let timing = match parse_timing(
        &one("kind"),
        &many("day"),
        &one("times"),
        &one("once"),
        &one("cron"),
    ) {
        Ok(timing) => timing,
        Err(problem) => {
            let message = staff.t_args(problem.id, &[("text", FluentValue::from(problem.text))]);
            return form_page(&staff, Some(&message), StatusCode::BAD_REQUEST).await;
        }
    };
    let Some(priority) = content::parse_priority(&one("priority")) else {
        return form_page(
            &staff,
            Some(&staff.t("bulletin-bad-level")),
            StatusCode::BAD_REQUEST,
        )
        .await;
    };
    if let Err(refused) = check_within(&staff, std::slice::from_ref(&target)).await {
        return refused;
    }
    let programme = Programme {
        id: slug(&title),
        title,
        target,
        timing,
        items,
        priority,
        commune: staff.account.commune.clone(),
        created_by: staff.account.id,
    };
    let saved = staff
        .audited("programme_created", move |tx, now| {
            let id = programmes::insert(tx, &programme, now)?;
            let detail = format!("{} → {}", programme.title, programme.target);
            Ok(((), AuditLine::new(id, detail)))
        })
        .await;
    match saved {
        Ok(()) => Redirect::to("/schedules").into_response(),
        Err(response) => response,
    }
}

/// Why the form's times could not be read: the message id and the text at fault.
#[derive(Debug, PartialEq)]
struct TimingProblem {
    id: &'static str,
    text: String,
}

fn parse_timing(
    kind: &str,
    days: &[String],
    times: &str,
    once: &str,
    cron: &str,
) -> Result<Timing, TimingProblem> {
    let problem = |id, text: &str| TimingProblem {
        id,
        text: text.to_owned(),
    };
    match kind {
        "once" => {
            let at = once
                .split(['\n', ','])
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| parse_local_date_time(s).ok_or_else(|| problem("programme-bad-once", s)))
                .collect::<Result<Vec<_>, _>>()?;
            if at.is_empty() {
                return Err(problem("programme-no-times", ""));
            }
            Ok(Timing::Once { at })
        }
        "cron" => {
            loaxa_core::schedule::cron::CronExpr::parse(cron)
                .map_err(|e| problem("programme-bad-cron", &e.to_string()))?;
            Ok(Timing::Cron {
                line: cron.to_owned(),
            })
        }
        _ => {
            let days = days
                .iter()
                .filter_map(|d| d.parse::<u8>().ok())
                .filter(|d| *d < 7)
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect::<Vec<_>>();
            if days.is_empty() {
                return Err(problem("programme-no-days", ""));
            }
            let times = times
                .split([',', ' ', ';'])
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| parse_time_of_day(s).ok_or_else(|| problem("programme-bad-time", s)))
                .collect::<Result<Vec<_>, _>>()?;
            if times.is_empty() {
                return Err(problem("programme-no-times", ""));
            }
            Ok(Timing::Weekly { days, times })
        }
    }
}

/// `17:30`, `7:05`, `17h30`, `17:30:15`.
fn parse_time_of_day(text: &str) -> Option<NaiveTime> {
    let text = text.replace(['h', 'H'], ":");
    let text = text.trim_end_matches(':');
    // chrono reads no time from an hour alone.
    let text = if text.contains(':') {
        text.to_owned()
    } else {
        format!("{text}:00")
    };
    ["%H:%M:%S", "%H:%M"]
        .iter()
        .find_map(|format| NaiveTime::parse_from_str(&text, format).ok())
}

/// `25/12/2026 07:00`, `25/12/2026 07:00:30`, `2026-12-25 07:00` or `2026-12-25T07:00:00`.
fn parse_local_date_time(text: &str) -> Option<NaiveDateTime> {
    let text = text.replace('T', " ");
    let (date, time) = text.trim().split_once(' ')?;
    let date = ["%d/%m/%Y", "%Y-%m-%d", "%d-%m-%Y"]
        .iter()
        .find_map(|format| NaiveDate::parse_from_str(date.trim(), format).ok())?;
    Some(date.and_time(parse_time_of_day(time.trim())?))
}

pub async fn delete(staff: Staff, Path(id): Path<String>) -> Response {
    if let Err(refused) = staff.require(Role::Editor) {
        return refused;
    }
    let all = match everything(&staff).await {
        Ok(all) => all,
        Err(response) => return response,
    };
    let Some(programme) = all.programmes.iter().find(|p| p.id == id) else {
        return staff.refuse(StatusCode::NOT_FOUND, &staff.t("error-not-found"));
    };
    if let Err(refused) = check_within(&staff, std::slice::from_ref(&programme.target)).await {
        return refused;
    }
    let deleted = staff
        .audited("programme_deleted", move |tx, _| {
            programmes::delete(tx, &id)?;
            Ok(((), AuditLine::new(id, "")))
        })
        .await;
    match deleted {
        Ok(()) => Redirect::to("/schedules").into_response(),
        Err(response) => response,
    }
}

#[derive(Deserialize)]
pub struct ScopeQuery {
    scope: String,
}

/// The schedule document of `scope` from the console's programmes, and what checking it found.
async fn prepare(
    staff: &Staff,
    scope: &Scope,
) -> Result<(String, programmes::Check, usize), Response> {
    let all = everything(staff).await?;
    let none = |_: &str| None;
    let organisation = Organisation {
        office_id: &staff.app.config.office.id,
        groups: &all.groups,
        box_commune: &none,
    };
    let targets = organisation.targets_of_scope(scope);
    let chosen: Vec<&Programme> = all
        .programmes
        .iter()
        .filter(|p| targets.contains(&p.target))
        .collect();
    let tz = staff.app.config.timezone;
    let text = programmes::render(&chosen, tz);
    let lengths = all
        .bulletins
        .iter()
        .map(|b| (b.id.clone(), b.duration_ms))
        .collect();
    // Each box's own broadcast windows are checked when it is published (`publish_schedule`
    // names the boxes that would refuse it); here, what holds for every box.
    let windows = loaxa_core::schedule::windows::Windows::all_day();
    let mut check = programmes::check(&text, &scope.to_string(), windows, tz, &lengths, Utc::now());
    let held: BTreeSet<&str> = all
        .bulletins
        .iter()
        .filter(|b| b.state == BulletinState::Published)
        .map(|b| b.id.as_str())
        .collect();
    for p in &chosen {
        for item in p
            .items
            .iter()
            .filter(|i| *i != CHIME && !held.contains(i.as_str()))
        {
            check.warnings.push(staff.t_args(
                "schedule-unpublished-bulletin",
                &[
                    ("programme", FluentValue::from(p.title.as_str())),
                    ("bulletin", FluentValue::from(item.as_str())),
                ],
            ));
        }
    }
    Ok((text, check, chosen.len()))
}

fn parse_scope(staff: &Staff, text: &str) -> Result<Scope, Response> {
    text.parse::<Scope>().map_err(|_| {
        staff.refuse(
            StatusCode::BAD_REQUEST,
            &staff.t_args(
                "bulletin-bad-target",
                &[("target", FluentValue::from(text))],
            ),
        )
    })
}

pub async fn review(staff: Staff, Query(query): Query<ScopeQuery>) -> Response {
    let scope = match parse_scope(&staff, &query.scope) {
        Ok(scope) => scope,
        Err(response) => return response,
    };
    let (text, check, count) = match prepare(&staff, &scope).await {
        Ok(prepared) => prepared,
        Err(response) => return response,
    };
    let what = format!("schedule {scope}");
    let publications = match staff
        .app
        .db
        .call(move |conn| content::publications(conn, &what))
        .await
    {
        Ok(p) => p,
        Err(e) => return html::internal_error(&e),
    };
    let body = html! {
        p { (staff.t_args("schedule-summary", &[("scope", FluentValue::from(scope.to_string())), ("count", FluentValue::from(count))])) }
        (problems(&staff, &check))
        details { summary { (staff.t("schedule-document")) } pre { (text) } }
        @if staff.account.may(Role::Approver) && check.errors.is_empty() {
            form method="post" action="/schedules/publish" {
                (csrf_field(&staff))
                input type="hidden" name="scope" value=(scope.to_string());
                @if !check.warnings.is_empty() {
                    label.check { input type="checkbox" name="confirm" value="1" required; (staff.t("schedule-confirm-warnings")) }
                }
                button type="submit" name="publish" { (staff.t("schedule-publish")) }
            }
        }
        (publications_table(&staff, &publications))
    };
    page(&staff, &staff.t("schedule-review"), body).into_response()
}

fn problems(staff: &Staff, check: &programmes::Check) -> Markup {
    html! {
        @if !check.errors.is_empty() {
            h2 { (staff.t("schedule-errors")) }
            ul.problem { @for e in &check.errors { li { (e) } } }
        }
        @if !check.warnings.is_empty() {
            h2 { (staff.t("schedule-warnings")) }
            ul.warning { @for w in &check.warnings { li { (w) } } }
        }
    }
}

#[derive(Deserialize)]
pub struct PublishForm {
    scope: String,
}

pub async fn publish(staff: Staff, Form(form): Form<PublishForm>) -> Response {
    if let Err(refused) = staff.require(Role::Approver) {
        return refused;
    }
    let scope = match parse_scope(&staff, &form.scope) {
        Ok(scope) => scope,
        Err(response) => return response,
    };
    let target = match &scope {
        Scope::Commune(id) => Target::Commune(id.clone()),
        Scope::Box(id) => Target::Box(id.clone()),
        _ => Target::Office,
    };
    if let Err(refused) = check_within(&staff, &[target]).await {
        return refused;
    }
    let (text, check, _) = match prepare(&staff, &scope).await {
        Ok(prepared) => prepared,
        Err(response) => return response,
    };
    if !check.errors.is_empty() {
        return staff.refuse(StatusCode::UNPROCESSABLE_ENTITY, &check.errors.join("\n"));
    }
    let approver = crate::console::pages::publish::approver(&staff);
    let tz = staff.app.config.timezone;
    let options = programmes::load_options(tz);
    let file = std::path::PathBuf::from(scope.to_string());
    let registry = crate::console::pages::registry(&staff.app).await;
    let spec = crate::publish::ScheduleSpec {
        scope: &scope,
        schedule: &text,
        file: &file,
        options: &options,
        windows: None,
        approver: &approver,
        revision: None,
        force: false,
        answer_wait: crate::console::pages::publish::ANSWER_WAIT,
        registry: &registry,
    };
    let published =
        crate::publish::publish_schedule(&staff.app.config.broker(), &staff.app.key, &spec).await;
    let (outcome, revision, answers) = match &published {
        Ok(report) if report.withdrawn.is_some() => (
            "withdrawn".to_owned(),
            Some(report.revision),
            report.feedback.per_box.clone(),
        ),
        Ok(report) => (
            "published".to_owned(),
            Some(report.revision),
            report.feedback.per_box.clone(),
        ),
        Err(e) => (format!("failed: {e}"), None, BTreeMap::new()),
    };
    if let Err(response) = record(
        &staff,
        NewPublicationOwned {
            what: format!("schedule {scope}"),
            scope: scope.to_string(),
            revision,
            outcome: outcome.clone(),
            answers,
        },
    )
    .await
    {
        return response;
    }
    if let Err(response) = staff
        .audit("schedule_published", &scope.to_string(), &outcome)
        .await
    {
        return response;
    }
    match published {
        Ok(report) if report.withdrawn.is_some() => staff.refuse(
            StatusCode::CONFLICT,
            &staff.t_args(
                "publish-failed",
                &[("reason", FluentValue::from(staff.t("publish-withdrawn")))],
            ),
        ),
        Ok(_) => Redirect::to(&format!("/schedules/publish?scope={scope}")).into_response(),
        Err(e) => staff.refuse(
            StatusCode::BAD_GATEWAY,
            &staff.t_args(
                "publish-failed",
                &[("reason", FluentValue::from(e.to_string()))],
            ),
        ),
    }
}

pub async fn week(staff: Staff, Query(query): Query<ScopeQuery>) -> Response {
    let scope = match parse_scope(&staff, &query.scope) {
        Ok(scope) => scope,
        Err(response) => return response,
    };
    let (text, check, _) = match prepare(&staff, &scope).await {
        Ok(prepared) => prepared,
        Err(response) => return response,
    };
    let tz = staff.app.config.timezone;
    let options = programmes::load_options(tz);
    let loaded = loaxa_core::schedule::parse(&text, std::path::Path::new("week"), &options);
    let programs: Vec<_> = loaded
        .programs
        .into_iter()
        .map(std::sync::Arc::new)
        .collect();
    let now = Utc::now();
    let week = loaxa_core::schedule::plan::occurrences_between(
        &programs,
        now,
        now + Duration::days(7),
        5_000,
    );
    let mut days: BTreeMap<NaiveDate, Vec<(String, String)>> = BTreeMap::new();
    for occurrence in &week {
        let local = occurrence.scheduled.with_timezone(&tz);
        days.entry(local.date_naive()).or_default().push((
            local.format("%H:%M:%S").to_string(),
            occurrence.program.title.clone(),
        ));
    }
    let body = html! {
        (problems(&staff, &check))
        div.week {
            @for (day, entries) in &days {
                section.day {
                    h2 { (staff.t(DAYS.iter().find(|(n, _)| u32::from(*n) == day.weekday().num_days_from_sunday()).map_or("day-mon", |(_, id)| id))) " " (day.format("%d/%m/%Y")) }
                    table { @for (time, title) in entries { tr { td { (time) } td { (title) } } } }
                }
            }
            @if days.is_empty() { p { (staff.t("schedule-week-empty")) } }
        }
    };
    let title = staff.t_args(
        "schedule-week-of",
        &[("scope", FluentValue::from(scope.to_string()))],
    );
    page(&staff, &title, body).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_of_day_are_read_the_ways_people_write_them() {
        let t = |h, m, s| NaiveTime::from_hms_opt(h, m, s);
        assert_eq!(parse_time_of_day("17:30"), t(17, 30, 0));
        assert_eq!(parse_time_of_day("7:05"), t(7, 5, 0));
        assert_eq!(parse_time_of_day("17h30"), t(17, 30, 0));
        assert_eq!(parse_time_of_day("17h"), t(17, 0, 0));
        assert_eq!(parse_time_of_day("17:30:15"), t(17, 30, 15));
        assert_eq!(parse_time_of_day("25:30"), None);
    }

    #[test]
    fn one_off_times_are_read_day_first_or_iso() {
        let expected = "2026-12-25T07:00:30".parse::<NaiveDateTime>().ok();
        assert_eq!(parse_local_date_time("25/12/2026 07:00:30"), expected);
        assert_eq!(parse_local_date_time("2026-12-25T07:00:30"), expected);
        assert_eq!(parse_local_date_time("2026-12-25 7:00:30"), expected);
        assert_eq!(parse_local_date_time("25/12/2026"), None);
    }

    #[test]
    fn a_weekly_form_needs_days_and_readable_times() {
        let days = vec!["1".to_owned(), "3".to_owned()];
        assert!(matches!(
            parse_timing("weekly", &days, "06:00, 17h30", "", ""),
            Ok(Timing::Weekly { ref times, .. }) if times.len() == 2
        ));
        assert_eq!(
            parse_timing("weekly", &days, "6 giờ", "", "")
                .unwrap_err()
                .id,
            "programme-bad-time"
        );
        assert_eq!(
            parse_timing("weekly", &[], "06:00", "", "").unwrap_err().id,
            "programme-no-days"
        );
        assert_eq!(
            parse_timing("cron", &[], "", "", "61 * * * *")
                .unwrap_err()
                .id,
            "programme-bad-cron"
        );
    }
}
