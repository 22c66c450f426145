//! Send now: an approved bulletin aired at once on a scope's boxes (an emergency cuts in), and
//! each box's outcome, live.

use std::collections::BTreeMap;
use std::time::Duration;

use axum::Form;
use axum::extract::Query;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{DateTime, Utc};
use loaxa_core::i18n::FluentValue;
use loaxa_core::protocol::{RemoteAction, Scope};
use loaxa_core::schedule::Priority;
use maud::{Markup, html};
use serde::Deserialize;

use crate::console::auth::Role;
use crate::console::content::{self, BulletinState};
use crate::console::html::{self, csrf_field, date_time_seconds, page};
use crate::console::pages::bulletins::{
    NewPublicationOwned, answer_text, check_within, level_text, record,
};
use crate::console::pages::publish::{ANSWER_WAIT, approver};
use crate::console::targets::{Organisation, Target};
use crate::console::{Staff, db};

/// How long a bulletin the boxes did not hold may take to arrive before the command is given
/// up on.
const ARRIVAL_WAIT: Duration = Duration::from_secs(60);

pub async fn form(staff: Staff) -> Response {
    if let Err(refused) = staff.require(Role::Approver) {
        return refused;
    }
    let bulletins = match staff.app.db.call(|conn| content::bulletins(conn)).await {
        Ok(found) => found,
        Err(e) => return html::internal_error(&e),
    };
    let body = html! {
        form method="post" action="/send" {
            (csrf_field(&staff))
            label { (staff.t("send-bulletin"))
                select name="bulletin" required {
                    @for b in bulletins.iter().filter(|b| b.state == BulletinState::Published) {
                        option value=(b.id) { (b.title) " (" (level_text(&staff, b.level)) ")" }
                    }
                }
            }
            label { (staff.t("programme-target")) input name="target" required placeholder="commune/phu-dong"; }
            label { (staff.t("bulletin-level"))
                select name="priority" {
                    @for level in [Priority::Emergency, Priority::Priority, Priority::Normal] {
                        option value=(level.to_string()) { (level_text(&staff, level)) }
                    }
                }
            }
            label.check { input type="checkbox" name="confirm" value="1" required; (staff.t("send-confirm")) }
            button type="submit" name="send" { (staff.t("send-submit")) }
        }
    };
    page(&staff, &staff.t("nav-send"), body).into_response()
}

#[derive(Deserialize)]
pub struct SendForm {
    bulletin: String,
    target: String,
    priority: String,
    #[serde(default)]
    confirm: String,
}

pub async fn send(staff: Staff, Form(form): Form<SendForm>) -> Response {
    if let Err(refused) = staff.require(Role::Approver) {
        return refused;
    }
    if form.confirm != "1" {
        return staff.refuse(StatusCode::BAD_REQUEST, &staff.t("send-not-confirmed"));
    }
    let Ok(target) = form.target.trim().parse::<Target>() else {
        return staff.refuse(
            StatusCode::BAD_REQUEST,
            &staff.t_args(
                "bulletin-bad-target",
                &[("target", FluentValue::from(form.target.as_str()))],
            ),
        );
    };
    let Some(priority) = content::parse_priority(&form.priority) else {
        return staff.refuse(StatusCode::BAD_REQUEST, &staff.t("bulletin-bad-level"));
    };
    if let Err(refused) = check_within(&staff, std::slice::from_ref(&target)).await {
        return refused;
    }
    let id = form.bulletin.clone();
    let bulletin = match staff
        .app
        .db
        .call(move |conn| content::bulletin(conn, &id))
        .await
    {
        Ok(Some(b)) if b.state == BulletinState::Published => b,
        Ok(_) => return staff.refuse(StatusCode::NOT_FOUND, &staff.t("send-not-approved")),
        Err(e) => return html::internal_error(&e),
    };
    let groups = match staff.app.db.call(|conn| db::groups(conn)).await {
        Ok(groups) => groups,
        Err(e) => return html::internal_error(&e),
    };
    let none = |_: &str| None;
    let scopes = Organisation {
        office_id: &staff.app.config.office.id,
        groups: &groups,
        box_commune: &none,
    }
    .scopes(&target);
    let sent_at = Utc::now();
    for scope in &scopes {
        let (outcome, answers) = send_to(&staff, &bulletin, scope, priority).await;
        if let Err(response) = record(
            &staff,
            NewPublicationOwned {
                what: what(&bulletin.id, sent_at),
                scope: scope.to_string(),
                revision: None,
                outcome,
                answers,
            },
        )
        .await
        {
            return response;
        }
    }
    if let Err(response) = staff
        .audit(
            "play_now_sent",
            &bulletin.id,
            &format!("{target} {priority}"),
        )
        .await
    {
        return response;
    }
    let query = serde_urlencoded::to_string([
        ("bulletin", bulletin.id.as_str()),
        ("at", &sent_at.to_rfc3339()),
    ])
    .unwrap_or_default();
    Redirect::to(&format!("/send/outcome?{query}")).into_response()
}

fn what(bulletin: &str, at: DateTime<Utc>) -> String {
    format!("play-now {bulletin} {}", at.to_rfc3339())
}

/// Sends the play-now to one scope; a bulletin its boxes do not hold is published to them
/// first and sent once it has arrived.
async fn send_to(
    staff: &Staff,
    bulletin: &content::Bulletin,
    scope: &Scope,
    priority: Priority,
) -> (String, BTreeMap<String, content::BoxAnswer>) {
    let broker = staff.app.config.broker();
    let signer = approver(staff);
    let registry = super::registry(&staff.app).await;
    let command = || crate::publish::CommandSpec {
        scope,
        action: RemoteAction::PlayNow {
            bulletin: bulletin.id.clone(),
            priority,
        },
        approver: &signer,
        valid_for: Duration::from_secs(30 * 60),
        answer_wait: ANSWER_WAIT,
        force: false,
        registry: &registry,
    };
    let mut sent = crate::publish::send_command(&broker, &staff.app.key, command()).await;
    if matches!(sent, Err(crate::publish::PublishError::NotHeld { .. })) {
        let file = staff.app.config.media_dir.join(bulletin.file_name());
        let spec = crate::publish::BulletinSpec {
            file: &file,
            id: &bulletin.id,
            title: &bulletin.title,
            scope,
            approver: &signer,
            valid_until: bulletin.valid_until,
            force: false,
            answer_wait: ANSWER_WAIT,
            registry: &registry,
        };
        if let Err(e) =
            crate::publish::publish_bulletin(&broker, &staff.app.key, &spec, |_, _| {}).await
        {
            return (format!("failed: {e}"), BTreeMap::new());
        }
        let deadline = tokio::time::Instant::now() + ARRIVAL_WAIT;
        loop {
            sent = crate::publish::send_command(&broker, &staff.app.key, command()).await;
            let waiting = matches!(sent, Err(crate::publish::PublishError::NotHeld { .. }));
            if !waiting || tokio::time::Instant::now() >= deadline {
                break;
            }
            tokio::time::sleep(Duration::from_secs(2)).await;
        }
    }
    match sent {
        Ok(feedback) => ("sent".to_owned(), feedback.per_box),
        Err(e) => (format!("failed: {e}"), BTreeMap::new()),
    }
}

#[derive(Deserialize)]
pub struct OutcomeQuery {
    bulletin: String,
    at: String,
}

pub async fn outcome(staff: Staff, Query(query): Query<OutcomeQuery>) -> Response {
    let title = staff.t_args(
        "send-outcome-of",
        &[("bulletin", FluentValue::from(query.bulletin.as_str()))],
    );
    let rows = match outcome_rows(&staff, &query).await {
        Ok(rows) => rows,
        Err(response) => return response,
    };
    let refresh = format!(
        "/send/outcome/rows?{}",
        serde_urlencoded::to_string([("bulletin", &query.bulletin), ("at", &query.at)])
            .unwrap_or_default()
    );
    let body = html! {
        table #outcome {
            thead { tr { th { (staff.t("fleet-box")) } th { (staff.t("send-answer")) } th { (staff.t("send-aired")) } } }
            tbody data-refresh=(refresh) { (rows) }
        }
    };
    page(&staff, &title, body).into_response()
}

pub async fn outcome_fragment(staff: Staff, Query(query): Query<OutcomeQuery>) -> Response {
    match outcome_rows(&staff, &query).await {
        Ok(rows) => rows.into_response(),
        Err(response) => response,
    }
}

/// Each box's answer to the command, and what its as-run says since.
async fn outcome_rows(staff: &Staff, query: &OutcomeQuery) -> Result<Markup, Response> {
    let Ok(at) = DateTime::parse_from_rfc3339(&query.at).map(|t| t.with_timezone(&Utc)) else {
        return Err(staff.refuse(StatusCode::BAD_REQUEST, &staff.t("error-not-found")));
    };
    let what = what(&query.bulletin, at);
    let publications = staff
        .app
        .db
        .call(move |conn| content::publications(conn, &what))
        .await
        .map_err(|e| html::internal_error(&e))?;
    let answers: BTreeMap<String, content::BoxAnswer> =
        publications.into_iter().flat_map(|p| p.answers).collect();
    let archive = staff.app.archive.clone();
    let boxes: Vec<String> = answers.keys().cloned().collect();
    let bulletin = query.bulletin.clone();
    let aired = tokio::task::spawn_blocking(move || {
        boxes
            .into_iter()
            .map(|b| {
                let rows = archive.recent_as_run(&b, 20, false).unwrap_or_default();
                let entry = rows.into_iter().map(|r| r.entry).find(|entry| {
                    entry.scheduled >= at - chrono::Duration::seconds(5)
                        && entry.bulletins.contains(&bulletin)
                });
                (b, entry)
            })
            .collect::<BTreeMap<_, _>>()
    })
    .await
    .map_err(|e| html::internal_error(&e))?;
    let tz = staff.app.config.timezone;
    Ok(html! {
        @for (box_id, answer) in &answers {
            tr data-box=(box_id) {
                td { (box_id) }
                td { (answer_text(staff, answer)) }
                td {
                    @if let Some(Some(entry)) = aired.get(box_id) {
                        (entry.outcome) " " @if let Some(s) = entry.started { (date_time_seconds(s, tz)) } " " (entry.detail)
                    }
                }
            }
        }
    })
}
