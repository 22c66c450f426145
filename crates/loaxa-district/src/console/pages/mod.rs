//! The console's pages, one module per part of the office's work.

mod account;
mod bulletins;
mod fleet;
mod organisation;
mod publish;
mod reports;
mod schedules;
mod send;

use axum::Router;
use axum::http::header;
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};

use super::Shared;

pub fn routes(app: Shared) -> Router<Shared> {
    // Uploads may be as large as the office allows; every other body is small.
    let upload_limit = usize::try_from(app.config.max_upload_bytes)
        .unwrap_or(usize::MAX)
        .saturating_add(64 * 1024);
    Router::new()
        .route("/", get(|| async { Redirect::to("/fleet") }))
        .route("/assets/console.css", get(stylesheet))
        .route("/assets/console.js", get(script))
        .route("/fleet", get(fleet::list))
        .route("/fleet/rows", get(fleet::fragment))
        .route("/fleet/box/{id}", get(fleet::show))
        .route("/login", get(account::login_form).post(account::login))
        .route("/logout", post(account::logout))
        .route(
            "/password",
            get(account::password_form).post(account::change_password),
        )
        .route("/lang/{code}", get(account::choose_language))
        .route(
            "/accounts",
            get(account::accounts).post(account::create_account),
        )
        .route("/accounts/{id}/{action}", post(account::account_action))
        .route("/audit", get(account::audit_log))
        .route("/organisation", get(organisation::show))
        .route("/organisation/commune", post(organisation::put_commune))
        .route("/organisation/group", post(organisation::put_group))
        .route("/organisation/box", post(organisation::register_box))
        .route(
            "/organisation/box/all",
            post(organisation::register_all_as_claimed),
        )
        .route(
            "/organisation/box/remove",
            post(organisation::unregister_box),
        )
        .route("/bulletins", get(bulletins::list))
        .route("/bulletins/new", get(bulletins::new_form))
        .route(
            "/bulletins/upload",
            post(bulletins::upload).layer(axum::extract::DefaultBodyLimit::max(upload_limit)),
        )
        .route("/bulletins/{id}", get(bulletins::show))
        .route("/bulletins/{id}/audio", get(bulletins::audio))
        .route("/bulletins/{id}/approve", post(bulletins::approve))
        .route("/schedules", get(schedules::list).post(schedules::create))
        .route("/schedules/new", get(schedules::new_form))
        .route("/schedules/{id}/delete", post(schedules::delete))
        .route(
            "/schedules/publish",
            get(schedules::review).post(schedules::publish),
        )
        .route("/schedules/week", get(schedules::week))
        .route("/send", get(send::form).post(send::send))
        .route("/send/outcome", get(send::outcome))
        .route("/send/outcome/rows", get(send::outcome_fragment))
        .route("/reports", get(reports::show))
        .route("/reports.csv", get(reports::csv))
        .route("/reports.xlsx", get(reports::xlsx))
        .route("/reports/bulletin", get(reports::bulletin))
}

async fn stylesheet() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
        include_str!("../assets/console.css"),
    )
}

async fn script() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        include_str!("../assets/console.js"),
    )
}

/// The office's register of boxes, for publishing: who belongs to which commune.
/// Unreadable, it is empty: every box is taken at its word, as before the register, and the
/// publication still happens.
pub async fn registry(app: &Shared) -> crate::publish::Registry {
    let archive = app.archive.clone();
    let read = tokio::task::spawn_blocking(move || archive.register().map_err(|e| e.to_string()))
        .await
        .unwrap_or_else(|e| Err(e.to_string()));
    read.unwrap_or_else(|error| {
        tracing::warn!(%error, "the register of boxes could not be read; boxes are taken at their word");
        Default::default()
    })
}

/// The commune of each box: the office's register, else the box's own status.
pub async fn box_commune_lookup(
    app: &Shared,
) -> impl Fn(&str) -> Option<String> + Send + Sync + use<> {
    let communes = box_communes(app).await;
    move |box_id: &str| communes.get(box_id).cloned()
}

/// Each box's commune (see [`Archive::box_communes`]); none when the archive cannot be read.
///
/// [`Archive::box_communes`]: crate::archive::Archive::box_communes
async fn box_communes(app: &Shared) -> std::collections::BTreeMap<String, String> {
    let archive = app.archive.clone();
    let read =
        tokio::task::spawn_blocking(move || archive.box_communes().map_err(|e| e.to_string()))
            .await
            .unwrap_or_else(|e| Err(e.to_string()));
    read.unwrap_or_else(|error| {
        tracing::warn!(%error, "which commune each box is in could not be read");
        Default::default()
    })
}

/// The communes the office named, and those its boxes say they are in (by id) that it has not.
pub async fn known_communes(app: &Shared) -> Vec<super::db::Commune> {
    let mut communes = app
        .db
        .call(|conn| super::db::communes(conn))
        .await
        .unwrap_or_default();
    let heard: std::collections::BTreeSet<String> = box_communes(app).await.into_values().collect();
    for id in heard {
        if !communes.iter().any(|c| c.id == id) {
            communes.push(super::db::Commune {
                name: id.clone(),
                id,
            });
        }
    }
    communes
}
