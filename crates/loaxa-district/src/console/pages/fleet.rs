//! The fleet: every box as its last status describes it, refreshed every second; and one box
//! with its recent as-run and refusals.

use std::collections::BTreeMap;

use axum::extract::{Path, Query};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};
use serde::Deserialize;

use crate::archive::report::FleetRow;
use crate::console::html::{self, date_time, date_time_seconds, page};
use crate::console::{Shared, Staff, db};

#[derive(Deserialize, Default)]
pub struct Filter {
    #[serde(default)]
    commune: String,
    #[serde(default)]
    group: String,
}

impl Filter {
    fn query(&self) -> String {
        serde_urlencoded::to_string([("commune", &self.commune), ("group", &self.group)])
            .unwrap_or_default()
    }
}

/// Every box the archive knows, as rows.
pub async fn rows(app: &Shared) -> Result<Vec<FleetRow>, Response> {
    let archive = app.archive.clone();
    tokio::task::spawn_blocking(move || archive.fleet(None))
        .await
        .map_err(|e| html::internal_error(&e))?
        .map_err(|e| html::internal_error(&e))
}

/// The newest revision the console published per scope, to tell a box in sync from one behind.
async fn latest_revisions(staff: &Staff) -> Result<BTreeMap<String, u64>, Response> {
    staff
        .app
        .db
        .call(|conn| {
            let mut statement = conn.prepare(
                "SELECT scope, max(revision) FROM console_publications
                 WHERE revision IS NOT NULL AND outcome = 'published' GROUP BY scope",
            )?;
            let rows = statement.query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
        .map_err(|e| html::internal_error(&e))
}

async fn filtered(staff: &Staff, filter: &Filter) -> Result<Vec<FleetRow>, Response> {
    let mut boxes = rows(&staff.app).await?;
    let own = staff.account.commune.clone();
    let commune = own.or(Some(filter.commune.clone()).filter(|c| !c.is_empty()));
    if let Some(commune) = commune {
        boxes.retain(|b| b.commune.as_deref() == Some(&commune));
    }
    if !filter.group.is_empty() {
        let groups = staff
            .app
            .db
            .call(|conn| db::groups(conn))
            .await
            .map_err(|e| html::internal_error(&e))?;
        let members = groups
            .into_iter()
            .find(|g| g.id == filter.group)
            .map(|g| g.boxes)
            .unwrap_or_default();
        boxes.retain(|b| members.contains(&b.box_id));
    }
    Ok(boxes)
}

pub async fn list(staff: Staff, Query(filter): Query<Filter>) -> Response {
    let table = match table_rows(&staff, &filter).await {
        Ok(rows) => rows,
        Err(response) => return response,
    };
    let body = html! {
        form.filters method="get" action="/fleet" {
            label { (staff.t("account-commune")) input name="commune" value=(filter.commune); }
            label { (staff.t("fleet-group")) input name="group" value=(filter.group); }
            button type="submit" { (staff.t("fleet-filter")) }
        }
        table #fleet {
            thead { tr {
                th { (staff.t("fleet-box")) } th { (staff.t("fleet-state")) } th { (staff.t("fleet-last-seen")) }
                th { (staff.t("account-commune")) } th { (staff.t("fleet-on-air")) } th { (staff.t("fleet-schedule")) }
                th { (staff.t("fleet-transfers")) } th { (staff.t("fleet-disk")) } th { (staff.t("fleet-volume")) }
                th { (staff.t("fleet-version")) }
            } }
            tbody data-refresh={ "/fleet/rows?" (filter.query()) } { (table) }
        }
    };
    page(&staff, &staff.t("nav-fleet"), body).into_response()
}

/// The table's rows alone: what the page re-fetches every second.
pub async fn fragment(staff: Staff, Query(filter): Query<Filter>) -> Response {
    match table_rows(&staff, &filter).await {
        Ok(rows) => rows.into_response(),
        Err(response) => response,
    }
}

async fn table_rows(staff: &Staff, filter: &Filter) -> Result<Markup, Response> {
    let boxes = filtered(staff, filter).await?;
    let latest = latest_revisions(staff).await?;
    let tz = staff.app.config.timezone;
    Ok(html! {
        @for b in &boxes {
            tr data-box=(b.box_id) data-state=(b.state) {
                td { a href={ "/fleet/box/" (b.box_id) } { (b.box_id) } }
                td class={ "box-" (b.state) } { (staff.t(state_message(b))) }
                td { @if let Some(seen) = b.last_seen { (date_time_seconds(seen, tz)) } }
                td { (commune(staff, b)) }
                td { (b.on_air.clone().unwrap_or_default()) }
                td { (revisions(staff, &b.revisions, &latest)) }
                td { @for t in &b.transfers { (t.bulletin) " " (t.chunks_held) "/" (t.chunks) br; } }
                td { @if let Some(free) = b.disk_free { (format!("{:.1} GB", free as f64 / 1e9)) } }
                td { @if let Some(volume) = b.volume { (volume) " %" } }
                td { (b.version.clone().unwrap_or_default()) }
            }
        }
    })
}

fn state_message(row: &FleetRow) -> &'static str {
    match row.state.as_str() {
        "online" => "fleet-online",
        "offline" => "fleet-offline",
        _ if row.last_seen.is_none() => "fleet-never-seen",
        _ => "fleet-unknown",
    }
}

/// The commune the box counts in, and a warning where the box reports another, or where the
/// office has not registered it (it is taken at its word).
fn commune(staff: &Staff, row: &FleetRow) -> Markup {
    html! {
        (row.commune.clone().unwrap_or_default())
        @if row.claims_another_commune() {
            " " span.warning { "(" (staff.t_args("fleet-claims", &[("commune", row.claimed_commune.clone().unwrap_or_default().into())])) ")" }
        } @else if !row.registered {
            " " span.note { "(" (staff.t("fleet-not-registered")) ")" }
        }
    }
}

fn revisions(
    staff: &Staff,
    held: &BTreeMap<String, u64>,
    latest: &BTreeMap<String, u64>,
) -> Markup {
    html! {
        @for (scope, revision) in held {
            @let behind = latest.get(scope).is_some_and(|l| l > revision);
            span class=(if behind { "warning" } else { "" }) {
                (scope) " r" (revision) " "
                @if behind { "(" (staff.t("fleet-behind")) ")" } @else { "(" (staff.t("fleet-in-sync")) ")" }
            }
            br;
        }
    }
}

pub async fn show(staff: Staff, Path(box_id): Path<String>) -> Response {
    let archive = staff.app.archive.clone();
    let id = box_id.clone();
    let found = tokio::task::spawn_blocking(move || {
        Ok::<_, crate::archive::ArchiveError>((
            archive.fleet_box(&id)?,
            archive.recent_as_run(&id, 50, false)?,
            archive.recent_rejections(&id, 20)?,
        ))
    })
    .await;
    let (row, as_run, rejections) = match found {
        Ok(Ok((Some(row), as_run, rejections))) => (row, as_run, rejections),
        Ok(Ok((None, ..))) => {
            return staff.refuse(StatusCode::NOT_FOUND, &staff.t("error-not-found"));
        }
        Ok(Err(e)) => return html::internal_error(&e),
        Err(e) => return html::internal_error(&e),
    };
    if staff.account.commune.is_some() && staff.account.commune != row.commune {
        return staff.refuse(StatusCode::FORBIDDEN, &staff.t("error-role"));
    }
    let tz = staff.app.config.timezone;
    let body = html! {
        dl.facts {
            dt { (staff.t("fleet-state")) } dd class={ "box-" (row.state) } { (staff.t(state_message(&row))) }
            dt { (staff.t("fleet-last-seen")) } dd { @if let Some(seen) = row.last_seen { (date_time_seconds(seen, tz)) } }
            dt { (staff.t("account-commune")) } dd { (commune(&staff, &row)) }
            dt { (staff.t("fleet-on-air")) } dd { (row.on_air.clone().unwrap_or_default()) }
            dt { (staff.t("fleet-version")) } dd { (row.version.clone().unwrap_or_default()) }
        }
        h2 { (staff.t("fleet-as-run")) }
        table.as-run {
            thead { tr {
                th { (staff.t("report-scheduled-at")) } th { (staff.t("programme-title")) }
                th { (staff.t("report-outcome")) } th { (staff.t("audit-detail")) }
            } }
            tbody {
                @for entry in as_run.iter().map(|row| &row.entry) {
                    tr {
                        td { (date_time_seconds(entry.scheduled, tz)) }
                        td { (entry.name()) }
                        td { (entry.outcome) }
                        td { (entry.detail) }
                    }
                }
            }
        }
        h2 { (staff.t("fleet-problems")) }
        table {
            tbody {
                @for r in &rejections {
                    tr { td { (date_time(r.at, tz)) } td { (r.topic.clone().unwrap_or_default()) } td { (r.reason) } }
                }
            }
        }
    };
    page(&staff, &box_id, body).into_response()
}
