//! The office's organisation (admin): communes by name, and named groups of boxes.

use axum::Form;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::Utc;
use maud::html;
use serde::Deserialize;

use crate::console::auth::Role;
use crate::console::html::{self, csrf_field, page};
use crate::console::{Staff, db};

pub async fn show(staff: Staff) -> Response {
    if let Err(refused) = staff.require(Role::Admin) {
        return refused;
    }
    let communes = super::known_communes(&staff.app).await;
    let groups = match staff.app.db.call(|conn| db::groups(conn)).await {
        Ok(groups) => groups,
        Err(e) => return html::internal_error(&e),
    };
    let body = html! {
        h2 { (staff.t("organisation-communes")) }
        table #communes {
            thead { tr { th { (staff.t("organisation-id")) } th { (staff.t("organisation-name")) } } }
            tbody { @for c in &communes { tr { td { code { (c.id) } } td { (c.name) } } } }
        }
        form method="post" action="/organisation/commune" {
            (csrf_field(&staff))
            label { (staff.t("organisation-id")) input name="id" required pattern="[A-Za-z0-9][A-Za-z0-9._-]{0,63}"; }
            label { (staff.t("organisation-name")) input name="name" required maxlength="200"; }
            button type="submit" { (staff.t("organisation-save-commune")) }
        }
        h2 { (staff.t("organisation-groups")) }
        table #groups {
            thead { tr { th { (staff.t("organisation-id")) } th { (staff.t("organisation-name")) } th { (staff.t("organisation-boxes")) } } }
            tbody { @for g in &groups { tr { td { code { (g.id) } } td { (g.name) } td { (g.boxes.join(", ")) } } } }
        }
        form method="post" action="/organisation/group" {
            (csrf_field(&staff))
            label { (staff.t("organisation-id")) input name="id" required pattern="[A-Za-z0-9][A-Za-z0-9._-]{0,63}"; }
            label { (staff.t("organisation-name")) input name="name" required maxlength="200"; }
            label { (staff.t("organisation-boxes")) input name="boxes" required placeholder="pd-01, pd-02"; }
            button type="submit" { (staff.t("organisation-save-group")) }
        }
    };
    page(&staff, &staff.t("nav-organisation"), body).into_response()
}

#[derive(Deserialize)]
pub struct CommuneForm {
    id: String,
    name: String,
}

pub async fn put_commune(staff: Staff, Form(form): Form<CommuneForm>) -> Response {
    if let Err(refused) = staff.require(Role::Admin) {
        return refused;
    }
    let commune = db::Commune {
        id: form.id.trim().to_owned(),
        name: form.name.trim().to_owned(),
    };
    if !loaxa_core::ids::is_name(&commune.id) || commune.name.is_empty() {
        return staff.refuse(StatusCode::BAD_REQUEST, &staff.t("account-bad-commune"));
    }
    save(
        &staff,
        "commune_saved",
        commune.id.clone(),
        commune.name.clone(),
        move |conn| db::put_commune(conn, &commune),
    )
    .await
}

#[derive(Deserialize)]
pub struct GroupForm {
    id: String,
    name: String,
    boxes: String,
}

pub async fn put_group(staff: Staff, Form(form): Form<GroupForm>) -> Response {
    if let Err(refused) = staff.require(Role::Admin) {
        return refused;
    }
    let boxes: Vec<String> = form
        .boxes
        .split([',', ' ', '\n'])
        .map(str::trim)
        .filter(|b| !b.is_empty())
        .map(str::to_owned)
        .collect();
    let group = db::Group {
        id: form.id.trim().to_owned(),
        name: form.name.trim().to_owned(),
        boxes,
    };
    let valid = loaxa_core::ids::is_name(&group.id)
        && !group.name.is_empty()
        && !group.boxes.is_empty()
        && group.boxes.iter().all(|b| loaxa_core::ids::is_name(b));
    if !valid {
        return staff.refuse(StatusCode::BAD_REQUEST, &staff.t("organisation-bad-group"));
    }
    let detail = group.boxes.join(", ");
    save(
        &staff,
        "group_saved",
        group.id.clone(),
        detail,
        move |conn| db::put_group(conn, &group),
    )
    .await
}

async fn save(
    staff: &Staff,
    action: &'static str,
    subject: String,
    detail: String,
    work: impl FnOnce(&mut rusqlite::Connection) -> Result<(), db::DbError> + Send + 'static,
) -> Response {
    let (username, ip) = (staff.account.username.clone(), staff.ip.clone());
    let saved = staff
        .app
        .db
        .call(move |conn| {
            work(conn)?;
            db::audit(conn, Utc::now(), &username, &ip, action, &subject, &detail)
        })
        .await;
    match saved {
        Ok(()) => Redirect::to("/organisation").into_response(),
        Err(e) => html::internal_error(&e),
    }
}
