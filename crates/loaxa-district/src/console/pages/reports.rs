//! Reports from the archive: a date range × scope (× bulletin), per commune and per box, a
//! daily chart, CSV and Excel downloads; and where one bulletin aired.

use axum::extract::Query;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{Datelike, NaiveDate, Utc};
use loaxa_core::i18n::FluentValue;
use maud::{PreEscaped, html};
use serde::Deserialize;

use crate::archive::labels::Labels;
use crate::archive::report::{Counts, Report, ReportQuery, ReportScope};
use crate::archive::{chart, export};
use crate::console::html::{self, page};
use crate::console::{Staff, db};

#[derive(Deserialize, Default, Clone)]
pub struct ReportForm {
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    /// `all`, `commune/ID`, `box/ID` or `group/ID`.
    #[serde(default)]
    scope: String,
    #[serde(default)]
    bulletin: String,
}

/// The report the form asks for, checked; a commune account sees only its commune.
async fn query(staff: &Staff, form: &ReportForm) -> Result<ReportQuery, Response> {
    let tz = staff.app.config.timezone;
    let today = Utc::now().with_timezone(&tz).date_naive();
    let date = |text: &str, default: NaiveDate| -> Result<NaiveDate, Response> {
        if text.trim().is_empty() {
            return Ok(default);
        }
        ["%Y-%m-%d", "%d/%m/%Y"]
            .iter()
            .find_map(|f| NaiveDate::parse_from_str(text.trim(), f).ok())
            .ok_or_else(|| {
                staff.refuse(
                    StatusCode::BAD_REQUEST,
                    &staff.t_args("report-bad-date", &[("text", FluentValue::from(text))]),
                )
            })
    };
    let from = date(&form.from, today.with_day(1).unwrap_or(today))?;
    let to = date(&form.to, today)?;
    let scope = match (staff.account.commune.clone(), form.scope.trim()) {
        (Some(own), _) => ReportScope::Commune(own),
        (None, "" | "all") => ReportScope::All,
        (None, text) => match text.split_once('/') {
            Some(("commune", id)) => ReportScope::Commune(id.to_owned()),
            Some(("box", id)) => ReportScope::Box(id.to_owned()),
            Some(("district", id)) => ReportScope::District(id.to_owned()),
            Some(("group", id)) => {
                let id = id.to_owned();
                let groups = staff
                    .app
                    .db
                    .call(|conn| db::groups(conn))
                    .await
                    .map_err(|e| html::internal_error(&e))?;
                ReportScope::Boxes(
                    groups
                        .into_iter()
                        .find(|g| g.id == id)
                        .map(|g| g.boxes)
                        .unwrap_or_default(),
                )
            }
            _ => {
                return Err(staff.refuse(
                    StatusCode::BAD_REQUEST,
                    &staff.t_args(
                        "bulletin-bad-target",
                        &[("target", FluentValue::from(text))],
                    ),
                ));
            }
        },
    };
    Ok(ReportQuery {
        from,
        to,
        tz,
        scope,
        bulletin: Some(form.bulletin.trim().to_owned()).filter(|b| !b.is_empty()),
    })
}

async fn run(staff: &Staff, form: &ReportForm) -> Result<Report, Response> {
    let query = query(staff, form).await?;
    let archive = staff.app.archive.clone();
    tokio::task::spawn_blocking(move || archive.report(&query))
        .await
        .map_err(|e| html::internal_error(&e))?
        .map_err(|e| html::internal_error(&e))
}

fn share(counts: &Counts) -> String {
    counts
        .share_aired()
        .map_or("—".into(), |s| format!("{:.0} %", s * 100.0))
}

pub async fn show(staff: Staff, Query(form): Query<ReportForm>) -> Response {
    let report = match run(&staff, &form).await {
        Ok(report) => report,
        Err(response) => return response,
    };
    let labels = Labels::new(&staff.app.text, staff.lang);
    let svg = chart::daily_svg(&report.days, &labels).unwrap_or_default();
    let query = serde_urlencoded::to_string([
        ("from", report.query.from.to_string()),
        ("to", report.query.to.to_string()),
        ("scope", form.scope.clone()),
        ("bulletin", form.bulletin.clone()),
    ])
    .unwrap_or_default();
    let headers = &labels.communes;
    let body = html! {
        form.filters method="get" action="/reports" {
            label { (staff.t("report-from")) input type="date" name="from" value=(report.query.from.to_string()); }
            label { (staff.t("report-to")) input type="date" name="to" value=(report.query.to.to_string()); }
            @if staff.account.commune.is_none() {
                label { (staff.t("report-scope")) input name="scope" value=(form.scope) placeholder="all, commune/phu-dong, group/thon-1, box/pd-01"; }
            }
            label { (staff.t("report-bulletin")) input name="bulletin" value=(form.bulletin); }
            button type="submit" { (staff.t("report-show")) }
        }
        p {
            a.button href={ "/reports.csv?" (query) } download { "CSV" } " "
            a.button href={ "/reports.xlsx?" (query) } download { "Excel (.xlsx)" }
            @if !form.bulletin.is_empty() {
                " " a href={ "/reports/bulletin?" (query) } { (staff.t("report-where-aired")) }
            }
        }
        dl.facts #total {
            dt { (staff.t("report-scheduled")) } dd data-count="scheduled" { (report.total.scheduled) }
            dt { (staff.t("report-aired")) } dd data-count="aired" { (report.total.aired) }
            dt { (staff.t("report-late")) } dd data-count="late" { (report.total.late) }
            dt { (staff.t("report-missed")) } dd data-count="missed" { (report.total.missed) }
            dt { (staff.t("report-failed")) } dd data-count="failed" { (report.total.failed) }
            dt { (staff.t("report-minutes")) } dd { (format!("{:.1}", report.total.minutes_aired())) }
            dt { (staff.t("report-share")) } dd { (share(&report.total)) }
        }
        figure.chart { (PreEscaped(svg)) }
        h2 { (staff.t("report-by-commune")) }
        table #communes {
            thead { tr { @for h in headers { th { (h) } } } }
            tbody {
                @for c in &report.communes {
                    tr {
                        td { (c.commune.clone().unwrap_or_else(|| labels.unknown.to_owned())) }
                        td { (c.boxes) }
                        td { (c.counts.scheduled) } td { (c.counts.aired) } td { (c.counts.late) }
                        td { (c.counts.missed) } td { (c.counts.failed) } td { (c.counts.interrupted) }
                        td { (format!("{:.1}", c.counts.minutes_aired())) } td { (share(&c.counts)) }
                    }
                }
            }
        }
        h2 { (staff.t("report-by-box")) }
        table #boxes {
            thead { tr { @for h in &labels.boxes { th { (h) } } } }
            tbody {
                @for b in &report.boxes {
                    tr data-box=(b.box_id) {
                        td { (b.box_id) } td { (b.commune.clone().unwrap_or_default()) }
                        td { (b.counts.scheduled) } td data-count="aired" { (b.counts.aired) } td { (b.counts.late) }
                        td { (b.counts.missed) } td { (b.counts.failed) } td { (b.counts.interrupted) }
                        td { (format!("{:.1}", b.counts.minutes_aired())) } td { (share(&b.counts)) }
                    }
                }
            }
        }
    };
    page(&staff, &staff.t("nav-reports"), body).into_response()
}

fn download(bytes: Vec<u8>, mime: &str, name: &str) -> Response {
    (
        [
            (header::CONTENT_TYPE, mime.to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        bytes,
    )
        .into_response()
}

const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

fn file_name(report: &Report, ext: &str) -> String {
    format!(
        "bao-cao-{}-{}.{ext}",
        report.query.from.format("%Y%m%d"),
        report.query.to.format("%Y%m%d")
    )
}

pub async fn csv(staff: Staff, Query(form): Query<ReportForm>) -> Response {
    let report = match run(&staff, &form).await {
        Ok(report) => report,
        Err(response) => return response,
    };
    match export::boxes_csv(&report, &Labels::new(&staff.app.text, staff.lang)) {
        Ok(bytes) => download(bytes, "text/csv; charset=utf-8", &file_name(&report, "csv")),
        Err(e) => html::internal_error(&e),
    }
}

pub async fn xlsx(staff: Staff, Query(form): Query<ReportForm>) -> Response {
    let report = match run(&staff, &form).await {
        Ok(report) => report,
        Err(response) => return response,
    };
    match export::report_xlsx(&report, &Labels::new(&staff.app.text, staff.lang)) {
        Ok(bytes) => download(bytes, XLSX, &file_name(&report, "xlsx")),
        Err(e) => html::internal_error(&e),
    }
}

/// Where one bulletin aired: every box's entries naming it in the range.
pub async fn bulletin(staff: Staff, Query(form): Query<ReportForm>) -> Response {
    let query = match query(&staff, &form).await {
        Ok(query) => query,
        Err(response) => return response,
    };
    let Some(bulletin) = query.bulletin.clone() else {
        return staff.refuse(StatusCode::BAD_REQUEST, &staff.t("report-no-bulletin"));
    };
    let archive = staff.app.archive.clone();
    let (id, from, to, tz) = (bulletin.clone(), query.from, query.to, query.tz);
    let rows = match tokio::task::spawn_blocking(move || archive.airings(&id, from, to, tz)).await {
        Ok(Ok(rows)) => rows,
        Ok(Err(e)) => return html::internal_error(&e),
        Err(e) => return html::internal_error(&e),
    };
    let own = staff.account.commune.clone();
    let rows: Vec<_> = rows
        .into_iter()
        .filter(|r| own.is_none() || r.commune == own)
        .collect();
    let labels = Labels::new(&staff.app.text, staff.lang);
    let body = html! {
        table #airings {
            thead { tr { @for h in &labels.airings { th { (h) } } } }
            tbody {
                @for r in &rows {
                    @let local = |t: chrono::DateTime<Utc>| t.with_timezone(&tz);
                    tr data-box=(r.box_id) {
                        td { (r.box_id) } td { (r.commune.clone().unwrap_or_default()) }
                        @let entry = &r.entry;
                        td { (local(entry.scheduled).format("%d/%m/%Y")) }
                        td { (local(entry.scheduled).format("%H:%M:%S")) }
                        td { @if let Some(s) = entry.started { (local(s).format("%H:%M:%S")) } }
                        td { @if let Some(e) = entry.ended { (local(e).format("%H:%M:%S")) } }
                        td { (entry.name()) }
                        td { (labels.outcome(&entry.outcome)) }
                        td { (entry.detail) }
                    }
                }
            }
        }
    };
    let title = staff.t_args(
        "report-where-aired-of",
        &[("bulletin", FluentValue::from(bulletin))],
    );
    page(&staff, &title, body).into_response()
}
