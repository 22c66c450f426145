//! Bulletins: upload (checked by decoding), the list, one bulletin with its audio and its
//! publications, and approval, which signs the manifest and publishes it to the targets.

use std::path::PathBuf;

use axum::extract::{Multipart, Path};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use loaxa_core::i18n::FluentValue;
use loaxa_core::schedule::Priority;
use maud::{Markup, html};
use sha2::Digest;

use crate::console::auth::Role;
use crate::console::content::{self, Bulletin, BulletinState, NewBulletin, NewPublication};
use crate::console::html::{self, csrf_field, date_time, duration, page};
use crate::console::targets::{Organisation, Target};
use crate::console::{AuditLine, CSRF_FIELD, Staff, db};

pub async fn list(staff: Staff) -> Response {
    let bulletins = match staff.app.db.call(|conn| content::bulletins(conn)).await {
        Ok(found) => found,
        Err(e) => return html::internal_error(&e),
    };
    let tz = staff.app.config.timezone;
    let body = html! {
        @if staff.account.may(Role::Editor) {
            p { a.button href="/bulletins/new" { (staff.t("bulletin-upload")) } }
        }
        table #bulletins {
            thead { tr {
                th { (staff.t("bulletin-title")) } th { (staff.t("bulletin-level")) }
                th { (staff.t("bulletin-state")) } th { (staff.t("bulletin-duration")) }
                th { (staff.t("bulletin-targets")) } th { (staff.t("bulletin-uploaded")) }
            } }
            tbody {
                @for b in &bulletins {
                    tr data-bulletin=(b.id) {
                        td { a href={ "/bulletins/" (b.id) } { (b.title) } }
                        td { (level_text(&staff, b.level)) }
                        td { (state_text(&staff, b.state)) }
                        td { (duration(b.duration_ms)) }
                        td { (targets_text(&b.targets)) }
                        td { (date_time(b.uploaded_at, tz)) " · " (b.uploader) }
                    }
                }
            }
        }
    };
    page(&staff, &staff.t("nav-bulletins"), body).into_response()
}

pub fn level_text(staff: &Staff, level: Priority) -> String {
    staff.t(match level {
        Priority::Normal => "level-normal",
        Priority::Priority => "level-priority",
        Priority::Emergency => "level-emergency",
    })
}

fn state_text(staff: &Staff, state: BulletinState) -> String {
    staff.t(match state {
        BulletinState::Draft => "state-draft",
        BulletinState::Approved => "state-approved",
        BulletinState::Published => "state-published",
    })
}

fn targets_text(targets: &[Target]) -> String {
    targets
        .iter()
        .map(|t| t.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

pub async fn new_form(staff: Staff) -> Response {
    if let Err(refused) = staff.require(Role::Editor) {
        return refused;
    }
    upload_page(&staff, None, StatusCode::OK).await
}

async fn upload_page(staff: &Staff, problem: Option<&str>, status: StatusCode) -> Response {
    let communes = crate::console::pages::known_communes(&staff.app).await;
    let groups = match staff.app.db.call(|conn| db::groups(conn)).await {
        Ok(found) => found,
        Err(e) => return html::internal_error(&e),
    };
    let own = staff.account.commune.as_deref();
    let action = format!("/bulletins/upload?{CSRF_FIELD}={}", staff.csrf);
    let max_mb = staff.app.config.max_upload_bytes / (1024 * 1024);
    let body = html! {
        @if let Some(problem) = problem { p.problem role="alert" { (problem) } }
        form method="post" action=(action) enctype="multipart/form-data" {
            label { (staff.t("bulletin-file"))
                input type="file" name="file" required accept="audio/*,.mp3,.m4a,.flac,.ogg,.wav";
                small { (staff.t_args("bulletin-file-hint", &[("mb", FluentValue::from(max_mb))])) }
            }
            label { (staff.t("bulletin-title")) input name="title" required maxlength="200"; }
            label { (staff.t("bulletin-level"))
                select name="level" {
                    @for level in [Priority::Normal, Priority::Priority, Priority::Emergency] {
                        option value=(level.to_string()) { (level_text(staff, level)) }
                    }
                }
            }
            fieldset {
                legend { (staff.t("bulletin-targets")) }
                @if own.is_none() {
                    label.check { input type="checkbox" name="target" value="office"; (staff.t("target-office")) }
                }
                @for c in communes.iter().filter(|c| own.is_none_or(|o| o == c.id)) {
                    label.check { input type="checkbox" name="target" value={ "commune/" (c.id) }; (c.name) }
                }
                @for g in &groups {
                    label.check { input type="checkbox" name="target" value={ "group/" (g.id) }; (g.name) }
                }
                label { (staff.t("bulletin-other-targets"))
                    input name="target_text" placeholder="commune/phu-dong, box/pd-01";
                }
            }
            label { (staff.t("bulletin-valid-until"))
                input type="date" name="valid_date";
                input type="time" name="valid_time";
            }
            button type="submit" { (staff.t("bulletin-upload")) }
        }
    };
    (status, page(staff, &staff.t("bulletin-upload"), body)).into_response()
}

/// What the upload form sent, before it is checked.
#[derive(Default)]
struct UploadForm {
    file: Option<Stored>,
    title: String,
    level: String,
    targets: Vec<String>,
    valid_date: String,
    valid_time: String,
}

/// The uploaded file, written to a temporary name in the media directory.
struct Stored {
    temp: tempfile::TempPath,
    size: u64,
    sha256: String,
}

enum UploadProblem {
    TooLarge,
    Broken,
    Io(std::io::Error),
}

async fn read_upload(staff: &Staff, mut multipart: Multipart) -> Result<UploadForm, UploadProblem> {
    let mut form = UploadForm::default();
    let limit = staff.app.config.max_upload_bytes;
    let too_large =
        |e: &axum::extract::multipart::MultipartError| e.status() == StatusCode::PAYLOAD_TOO_LARGE;
    loop {
        let field = match multipart.next_field().await {
            Ok(Some(field)) => field,
            Ok(None) => break,
            Err(e) if too_large(&e) => return Err(UploadProblem::TooLarge),
            Err(_) => return Err(UploadProblem::Broken),
        };
        let name = field.name().unwrap_or_default().to_owned();
        if name == "file" {
            form.file = Some(store_field(&staff.app.config.media_dir, field, limit).await?);
            continue;
        }
        let text = match field.text().await {
            Ok(text) => text,
            Err(e) if too_large(&e) => return Err(UploadProblem::TooLarge),
            Err(_) => return Err(UploadProblem::Broken),
        };
        match name.as_str() {
            "title" => form.title = text,
            "level" => form.level = text,
            "target" => form.targets.push(text),
            "target_text" => form.targets.extend(
                text.split([',', ' ', '\n'])
                    .map(str::trim)
                    .filter(|t| !t.is_empty())
                    .map(str::to_owned),
            ),
            "valid_date" => form.valid_date = text,
            "valid_time" => form.valid_time = text,
            _ => {}
        }
    }
    Ok(form)
}

/// Streams the file to disk, hashing it on the way, and stops at the size limit.
async fn store_field(
    media_dir: &std::path::Path,
    mut field: axum::extract::multipart::Field<'_>,
    limit: u64,
) -> Result<Stored, UploadProblem> {
    use tokio::io::AsyncWriteExt;
    let temp = tempfile::Builder::new()
        .prefix(".upload-")
        .tempfile_in(media_dir)
        .map_err(UploadProblem::Io)?
        .into_temp_path();
    let mut file = tokio::fs::File::create(&temp)
        .await
        .map_err(UploadProblem::Io)?;
    let mut hasher = sha2::Sha256::new();
    let mut size = 0u64;
    loop {
        let chunk = match field.chunk().await {
            Ok(Some(chunk)) => chunk,
            Ok(None) => break,
            Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                return Err(UploadProblem::TooLarge);
            }
            Err(_) => return Err(UploadProblem::Broken),
        };
        size += chunk.len() as u64;
        if size > limit {
            return Err(UploadProblem::TooLarge);
        }
        hasher.update(&chunk);
        file.write_all(&chunk).await.map_err(UploadProblem::Io)?;
    }
    file.sync_all().await.map_err(UploadProblem::Io)?;
    Ok(Stored {
        temp,
        size,
        sha256: hasher
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect(),
    })
}

/// What decoding the upload found.
struct Probed {
    codec: String,
    duration_ms: u64,
    loudness_lufs: Option<f64>,
}

fn probe(path: PathBuf) -> Result<Probed, String> {
    let info = loaxa_media::decode::probe(&path).map_err(|e| {
        // The message starts with the temporary file's name, which means nothing to the user.
        let text = e.to_string();
        let prefix = format!("{}: ", path.display());
        text.strip_prefix(&prefix).unwrap_or(&text).to_owned()
    })?;
    let loudness = loaxa_media::loudness::measure_file(&path)
        .ok()
        .and_then(|l| l.integrated_lufs)
        .map(|l| (l * 10.0).round() / 10.0);
    Ok(Probed {
        codec: info.codec,
        duration_ms: u64::try_from(info.duration.as_millis()).unwrap_or(u64::MAX),
        loudness_lufs: loudness,
    })
}

pub async fn upload(staff: Staff, multipart: Multipart) -> Response {
    if let Err(refused) = staff.require(Role::Editor) {
        return refused;
    }
    let mb = staff.app.config.max_upload_bytes / (1024 * 1024);
    let form = match read_upload(&staff, multipart).await {
        Ok(form) => form,
        Err(UploadProblem::TooLarge) => {
            let message = staff.t_args("bulletin-too-large", &[("mb", FluentValue::from(mb))]);
            return upload_page(&staff, Some(&message), StatusCode::PAYLOAD_TOO_LARGE).await;
        }
        Err(UploadProblem::Broken) => {
            return upload_page(
                &staff,
                Some(&staff.t("bulletin-upload-broken")),
                StatusCode::BAD_REQUEST,
            )
            .await;
        }
        Err(UploadProblem::Io(e)) => return html::internal_error(&e),
    };
    let problem = |id: &str| staff.t(id);
    let Some(stored) = form.file.filter(|f| f.size > 0) else {
        return upload_page(
            &staff,
            Some(&problem("bulletin-no-file")),
            StatusCode::BAD_REQUEST,
        )
        .await;
    };
    let title = form.title.trim().to_owned();
    if title.is_empty() || title.chars().count() > 200 {
        return upload_page(
            &staff,
            Some(&problem("bulletin-bad-title")),
            StatusCode::BAD_REQUEST,
        )
        .await;
    }
    let Some(level) = content::parse_priority(&form.level) else {
        return upload_page(
            &staff,
            Some(&problem("bulletin-bad-level")),
            StatusCode::BAD_REQUEST,
        )
        .await;
    };
    let targets = match parse_targets(&form.targets) {
        Ok(targets) if !targets.is_empty() => targets,
        Ok(_) => {
            return upload_page(
                &staff,
                Some(&problem("bulletin-no-targets")),
                StatusCode::BAD_REQUEST,
            )
            .await;
        }
        Err(bad) => {
            let message =
                staff.t_args("bulletin-bad-target", &[("target", FluentValue::from(bad))]);
            return upload_page(&staff, Some(&message), StatusCode::BAD_REQUEST).await;
        }
    };
    let valid_until = match valid_until(
        &form.valid_date,
        &form.valid_time,
        staff.app.config.timezone,
    ) {
        Ok(valid) => valid,
        Err(()) => {
            return upload_page(
                &staff,
                Some(&problem("bulletin-bad-valid-until")),
                StatusCode::BAD_REQUEST,
            )
            .await;
        }
    };
    if valid_until.is_some_and(|v| v <= Utc::now()) {
        return upload_page(
            &staff,
            Some(&problem("bulletin-valid-until-past")),
            StatusCode::BAD_REQUEST,
        )
        .await;
    }
    if let Err(refused) = check_within(&staff, &targets).await {
        return refused;
    }
    // Decoding is the only check of what a file is: its name and the browser's type say nothing.
    let temp_path = stored.temp.to_path_buf();
    let probed = match tokio::task::spawn_blocking(move || probe(temp_path)).await {
        Ok(Ok(probed)) => probed,
        Ok(Err(reason)) => {
            let message = staff.t_args(
                "bulletin-not-audio",
                &[("reason", FluentValue::from(reason))],
            );
            return upload_page(&staff, Some(&message), StatusCode::UNPROCESSABLE_ENTITY).await;
        }
        Err(e) => return html::internal_error(&e),
    };
    let final_path = staff
        .app
        .config
        .media_dir
        .join(content::audio_file_name(&stored.sha256, &probed.codec));
    if let Err(e) = stored.temp.persist(&final_path) {
        return html::internal_error(&e.error);
    }
    let new = NewBulletin {
        id: slug(&title),
        title,
        level,
        sha256: stored.sha256,
        size: stored.size,
        codec: probed.codec,
        duration_ms: probed.duration_ms,
        loudness_lufs: probed.loudness_lufs,
        targets,
        valid_until,
        commune: staff.account.commune.clone(),
        uploaded_by: staff.account.id,
    };
    let inserted = staff
        .audited("bulletin_uploaded", move |tx, now| {
            let id = content::insert_bulletin(tx, &new, now)?;
            let detail = format!("{} ({} bytes, sha256 {})", new.title, new.size, new.sha256);
            Ok((id.clone(), AuditLine::new(id, detail)))
        })
        .await;
    match inserted {
        Ok(id) => Redirect::to(&format!("/bulletins/{id}")).into_response(),
        Err(response) => response,
    }
}

fn parse_targets(texts: &[String]) -> Result<Vec<Target>, String> {
    let mut targets = Vec::new();
    for text in texts {
        let target: Target = text.parse().map_err(|_| text.clone())?;
        if !targets.contains(&target) {
            targets.push(target);
        }
    }
    Ok(targets)
}

/// The end of validity from the form's date and time, in the office's time zone; a date without
/// a time means the end of that day.
fn valid_until(date: &str, time: &str, tz: chrono_tz::Tz) -> Result<Option<DateTime<Utc>>, ()> {
    if date.trim().is_empty() {
        return Ok(None);
    }
    let date = NaiveDate::parse_from_str(date.trim(), "%Y-%m-%d").map_err(|_| ())?;
    let time = if time.trim().is_empty() {
        NaiveTime::from_hms_opt(23, 59, 59).ok_or(())?
    } else {
        NaiveTime::parse_from_str(time.trim(), "%H:%M").map_err(|_| ())?
    };
    Ok(Some(loaxa_core::schedule::resolve_local(
        tz,
        date.and_time(time),
    )))
}

/// An id for `bulletin:ID` from a title: `Bản tin sáng` → `ban-tin-sang`.
pub fn slug(title: &str) -> String {
    let ascii = deunicode::deunicode(title).to_ascii_lowercase();
    let mut id = String::new();
    for c in ascii.chars() {
        if c.is_ascii_alphanumeric() {
            id.push(c);
        } else if !id.is_empty() && !id.ends_with('-') {
            id.push('-');
        }
    }
    let id: String = id.trim_end_matches('-').chars().take(48).collect();
    let id = id.trim_end_matches('-').to_owned();
    if id.is_empty() { "ban-tin".into() } else { id }
}

/// Refuses targets outside the account's commune.
pub async fn check_within(staff: &Staff, targets: &[Target]) -> Result<(), Response> {
    let Some(commune) = staff.account.commune.clone() else {
        return Ok(());
    };
    let groups = staff
        .app
        .db
        .call(|conn| db::groups(conn))
        .await
        .map_err(|e| html::internal_error(&e))?;
    let box_commune = crate::console::pages::box_commune_lookup(&staff.app).await;
    let organisation = Organisation {
        office_id: &staff.app.config.office.id,
        groups: &groups,
        box_commune: &box_commune,
    };
    match targets
        .iter()
        .find(|t| !organisation.within(Some(&commune), t))
    {
        None => Ok(()),
        Some(outside) => Err(staff.refuse(
            StatusCode::FORBIDDEN,
            &staff.t_args(
                "error-outside-commune",
                &[
                    ("target", FluentValue::from(outside.to_string())),
                    ("commune", FluentValue::from(commune)),
                ],
            ),
        )),
    }
}

async fn load(staff: &Staff, id: String) -> Result<Bulletin, Response> {
    match staff
        .app
        .db
        .call(move |conn| content::bulletin(conn, &id))
        .await
    {
        Ok(Some(bulletin)) => Ok(bulletin),
        Ok(None) => Err(staff.refuse(StatusCode::NOT_FOUND, &staff.t("error-not-found"))),
        Err(e) => Err(html::internal_error(&e)),
    }
}

pub async fn show(staff: Staff, Path(id): Path<String>) -> Response {
    let bulletin = match load(&staff, id).await {
        Ok(b) => b,
        Err(response) => return response,
    };
    let what = format!("bulletin {}", bulletin.id);
    let publications = match staff
        .app
        .db
        .call(move |conn| content::publications(conn, &what))
        .await
    {
        Ok(p) => p,
        Err(e) => return html::internal_error(&e),
    };
    let tz = staff.app.config.timezone;
    let may_approve = staff.account.may(Role::Approver)
        && bulletin.state != BulletinState::Published
        && (staff.app.config.allow_self_approval || bulletin.uploaded_by != staff.account.id);
    let body = html! {
        dl.facts {
            dt { (staff.t("bulletin-id")) } dd { code { "bulletin:" (bulletin.id) } }
            dt { (staff.t("bulletin-level")) } dd { (level_text(&staff, bulletin.level)) }
            dt { (staff.t("bulletin-state")) } dd #state { (state_text(&staff, bulletin.state)) }
            dt { (staff.t("bulletin-duration")) } dd { (duration(bulletin.duration_ms)) }
            dt { (staff.t("bulletin-loudness")) } dd {
                @match bulletin.loudness_lufs { Some(l) => { (format!("{l:.1} LUFS")) }, None => { "—" } }
            }
            dt { (staff.t("bulletin-size")) } dd { (format!("{:.1} MB", bulletin.size as f64 / 1e6)) " · " (bulletin.codec) }
            dt { (staff.t("bulletin-targets")) } dd { (targets_text(&bulletin.targets)) }
            dt { (staff.t("bulletin-valid-until")) } dd {
                @match bulletin.valid_until { Some(v) => { (date_time(v, tz)) }, None => { "—" } }
            }
            dt { (staff.t("bulletin-uploaded")) } dd { (date_time(bulletin.uploaded_at, tz)) " · " (bulletin.uploader) }
            @if let (Some(approver), Some(at)) = (&bulletin.approver, bulletin.approved_at) {
                dt { (staff.t("bulletin-approved")) } dd { (date_time(at, tz)) " · " (approver) }
            }
            dt { "SHA-256" } dd { code { (bulletin.sha256) } }
        }
        audio controls preload="none" src={ "/bulletins/" (bulletin.id) "/audio" } {}
        @if may_approve {
            form method="post" action={ "/bulletins/" (bulletin.id) "/approve" } {
                (csrf_field(&staff))
                button type="submit" name="approve" { (staff.t("bulletin-approve")) }
            }
        } @else if bulletin.state == BulletinState::Draft && staff.account.may(Role::Approver) {
            p { (staff.t("bulletin-other-approver")) }
        }
        (publications_table(&staff, &publications))
    };
    page(&staff, &bulletin.title, body).into_response()
}

pub fn publications_table(staff: &Staff, publications: &[content::Publication]) -> Markup {
    let tz = staff.app.config.timezone;
    html! {
        @if !publications.is_empty() {
            h2 { (staff.t("publication-title")) }
            @for p in publications {
                section.publication {
                    p { (date_time(p.at, tz)) " · " (p.scope) " · " (p.account) " · " strong { (p.outcome) } }
                    table.answers {
                        @for (box_id, answer) in &p.answers {
                            tr data-box=(box_id) {
                                td { (box_id) }
                                td { (answer_text(staff, answer)) }
                            }
                        }
                    }
                }
            }
        }
    }
}

pub fn answer_text(staff: &Staff, answer: &content::BoxAnswer) -> String {
    match answer {
        content::BoxAnswer::Received(_) => staff.t("answer-received"),
        content::BoxAnswer::Rejected(reason) => staff.t_args(
            "answer-rejected",
            &[("reason", FluentValue::from(reason.as_str()))],
        ),
        content::BoxAnswer::NoAnswer => staff.t("answer-none"),
        content::BoxAnswer::Offline => staff.t("answer-offline"),
    }
}

pub async fn audio(staff: Staff, Path(id): Path<String>) -> Response {
    let bulletin = match load(&staff, id).await {
        Ok(b) => b,
        Err(response) => return response,
    };
    let path = staff.app.config.media_dir.join(bulletin.file_name());
    let bytes = match tokio::fs::read(&path).await {
        Ok(bytes) => bytes,
        Err(e) => return html::internal_error(&format!("{}: {e}", path.display())),
    };
    let mime = match bulletin.codec.as_str() {
        "mp3" => "audio/mpeg",
        "aac" => "audio/mp4",
        "flac" => "audio/flac",
        "vorbis" => "audio/ogg",
        _ => "audio/wav",
    };
    ([(header::CONTENT_TYPE, mime)], bytes).into_response()
}

pub async fn approve(staff: Staff, Path(id): Path<String>) -> Response {
    if let Err(refused) = staff.require(Role::Approver) {
        return refused;
    }
    let bulletin = match load(&staff, id).await {
        Ok(b) => b,
        Err(response) => return response,
    };
    if bulletin.state == BulletinState::Published {
        return Redirect::to(&format!("/bulletins/{}", bulletin.id)).into_response();
    }
    if bulletin.uploaded_by == staff.account.id && !staff.app.config.allow_self_approval {
        return staff.refuse(StatusCode::FORBIDDEN, &staff.t("bulletin-self-approval"));
    }
    if let Err(refused) = check_within(&staff, &bulletin.targets).await {
        return refused;
    }
    let outcome = crate::console::pages::publish::bulletin(&staff, &bulletin).await;
    let state = if outcome.is_ok() {
        BulletinState::Published
    } else {
        BulletinState::Approved
    };
    let (account_id, bulletin_id) = (staff.account.id, bulletin.id.clone());
    let detail = match &outcome {
        Ok(()) => "published".to_owned(),
        Err(reason) => format!("not published: {reason}"),
    };
    let saved = staff
        .audited("bulletin_approved", move |tx, now| {
            content::set_bulletin_state(tx, &bulletin_id, state, Some(account_id), now)?;
            Ok(((), AuditLine::new(bulletin_id, detail)))
        })
        .await;
    if let Err(response) = saved {
        return response;
    }
    match outcome {
        Ok(()) => Redirect::to(&format!("/bulletins/{}", bulletin.id)).into_response(),
        Err(reason) => staff.refuse(
            StatusCode::BAD_GATEWAY,
            &staff.t_args("publish-failed", &[("reason", FluentValue::from(reason))]),
        ),
    }
}

/// Records one publication and its answers.
pub async fn record(staff: &Staff, publication: NewPublicationOwned) -> Result<(), Response> {
    let account_id = staff.account.id;
    staff
        .app
        .db
        .call(move |conn| {
            content::record_publication(
                conn,
                &NewPublication {
                    what: &publication.what,
                    scope: &publication.scope,
                    revision: publication.revision,
                    account_id,
                    outcome: &publication.outcome,
                    answers: &publication.answers,
                },
                Utc::now(),
            )
        })
        .await
        .map_err(|e| html::internal_error(&e))
}

pub struct NewPublicationOwned {
    pub what: String,
    pub scope: String,
    pub revision: Option<u64>,
    pub outcome: String,
    pub answers: std::collections::BTreeMap<String, content::BoxAnswer>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_vietnamese_title_becomes_an_ascii_id() {
        assert_eq!(slug("Bản tin sáng"), "ban-tin-sang");
        assert_eq!(
            slug("Thông báo: Tiêm chủng đợt 2!"),
            "thong-bao-tiem-chung-dot-2"
        );
        assert_eq!(slug("!!!"), "ban-tin");
        assert!(loaxa_core::ids::is_name(&slug(&"Đường ".repeat(40))));
    }

    #[test]
    fn validity_is_read_in_the_office_time_zone_and_a_bare_date_lasts_the_day() {
        let tz: chrono_tz::Tz = "Asia/Ho_Chi_Minh".parse().unwrap();
        let end = valid_until("2026-12-31", "", tz).unwrap().unwrap();
        assert_eq!(end.to_rfc3339(), "2026-12-31T16:59:59+00:00");
        let at = valid_until("2026-12-31", "07:30", tz).unwrap().unwrap();
        assert_eq!(at.to_rfc3339(), "2026-12-31T00:30:00+00:00");
        assert_eq!(valid_until("", "", tz), Ok(None));
        assert_eq!(valid_until("31/12/2026", "", tz), Err(()));
    }
}
