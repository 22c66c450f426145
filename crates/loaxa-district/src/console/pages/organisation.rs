//! The office's organisation (admin): communes by name, the register of boxes (which commune
//! each box is in, as the office decides, not as the box claims), and named groups of boxes.

use axum::Form;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use maud::html;
use serde::Deserialize;

use crate::console::auth::Role;
use crate::console::html::{self, csrf_field, page};
use crate::console::{AuditLine, Staff, db};

pub async fn show(staff: Staff) -> Response {
    if let Err(refused) = staff.require(Role::Admin) {
        return refused;
    }
    let communes = super::known_communes(&staff.app).await;
    let groups = match staff.app.db.call(|conn| db::groups(conn)).await {
        Ok(groups) => groups,
        Err(e) => return html::internal_error(&e),
    };
    let boxes = match super::fleet::rows(&staff.app).await {
        Ok(boxes) => boxes,
        Err(response) => return response,
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
        h2 { (staff.t("organisation-boxes-register")) }
        p { (staff.t("organisation-register-why")) }
        @let claiming = boxes.iter().filter(|b| !b.registered && b.claimed_commune.is_some()).count();
        @if claiming > 1 {
            form method="post" action="/organisation/box/all" {
                (csrf_field(&staff))
                button type="submit" { (staff.t_args("organisation-register-all-as-claimed", &[("boxes", claiming.into())])) }
            }
        }
        table #register {
            thead { tr {
                th { (staff.t("fleet-box")) } th { (staff.t("organisation-registered-commune")) }
                th { (staff.t("organisation-claimed-commune")) } th {}
            } }
            tbody { @for b in &boxes {
                tr data-box=(b.box_id) {
                    td { code { (b.box_id) } }
                    td { @if b.registered { (b.commune.clone().unwrap_or_default()) } @else { em { (staff.t("organisation-not-registered")) } } }
                    td class=(if b.claims_another_commune() { "warning" } else { "" }) {
                        (b.claimed_commune.clone().unwrap_or_default())
                    }
                    td {
                        @if b.registered {
                            form.inline method="post" action="/organisation/box/remove" {
                                (csrf_field(&staff))
                                input type="hidden" name="id" value=(b.box_id);
                                button type="submit" { (staff.t("organisation-unregister")) }
                            }
                        } @else if let Some(claimed) = &b.claimed_commune {
                            form.inline method="post" action="/organisation/box" {
                                (csrf_field(&staff))
                                input type="hidden" name="id" value=(b.box_id);
                                input type="hidden" name="commune" value=(claimed);
                                button type="submit" { (staff.t_args("organisation-register-as-claimed", &[("commune", claimed.clone().into())])) }
                            }
                        }
                    }
                }
            } }
        }
        form method="post" action="/organisation/box" {
            (csrf_field(&staff))
            label { (staff.t("fleet-box")) input name="id" required pattern="[A-Za-z0-9][A-Za-z0-9._-]{0,63}"; }
            label { (staff.t("account-commune")) select name="commune" required {
                @for c in &communes { option value=(c.id) { (c.name) " (" (c.id) ")" } }
            } }
            button type="submit" { (staff.t("organisation-register")) }
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
pub struct BoxForm {
    id: String,
    #[serde(default)]
    commune: String,
}

/// Registers a box in a commune the office knows (by name, or because a box said so).
pub async fn register_box(staff: Staff, Form(form): Form<BoxForm>) -> Response {
    if let Err(refused) = staff.require(Role::Admin) {
        return refused;
    }
    let (box_id, commune) = (form.id.trim().to_owned(), form.commune.trim().to_owned());
    if !loaxa_core::ids::is_name(&box_id) {
        return staff.refuse(StatusCode::BAD_REQUEST, &staff.t("organisation-bad-box"));
    }
    let known = super::known_communes(&staff.app).await;
    if !known.iter().any(|c| c.id == commune) {
        let message = staff.t_args(
            "organisation-unknown-commune",
            &[("commune", commune.clone().into())],
        );
        return staff.refuse(StatusCode::BAD_REQUEST, &message);
    }
    put_on_register(&staff, "box_registered", box_id, Some(commune)).await
}

/// Registers every box heard but not registered in the commune it reports, in one step.
pub async fn register_all_as_claimed(staff: Staff) -> Response {
    if let Err(refused) = staff.require(Role::Admin) {
        return refused;
    }
    let archive = staff.app.archive.clone();
    let registered = match tokio::task::spawn_blocking(move || archive.register_as_claimed()).await
    {
        Ok(Ok(registered)) => registered,
        Ok(Err(e)) => return html::internal_error(&e),
        Err(e) => return html::internal_error(&e),
    };
    let list: Vec<String> = registered
        .iter()
        .map(|(box_id, commune)| format!("{box_id}: {commune}"))
        .collect();
    tracing::info!(boxes = registered.len(), account = %staff.account.username, "boxes registered in the communes they report");
    if let Err(response) = staff
        .audit(
            "boxes_registered",
            &registered.len().to_string(),
            &list.join(", "),
        )
        .await
    {
        return response;
    }
    Redirect::to("/organisation").into_response()
}

/// Takes a box off the register: its own status's commune counts again.
pub async fn unregister_box(staff: Staff, Form(form): Form<BoxForm>) -> Response {
    if let Err(refused) = staff.require(Role::Admin) {
        return refused;
    }
    let box_id = form.id.trim().to_owned();
    if !loaxa_core::ids::is_name(&box_id) {
        return staff.refuse(StatusCode::BAD_REQUEST, &staff.t("organisation-bad-box"));
    }
    put_on_register(&staff, "box_unregistered", box_id, None).await
}

async fn put_on_register(
    staff: &Staff,
    action: &str,
    box_id: String,
    commune: Option<String>,
) -> Response {
    let archive = staff.app.archive.clone();
    let (id, place) = (box_id.clone(), commune.clone());
    let registered =
        tokio::task::spawn_blocking(move || archive.register_box(&id, place.as_deref())).await;
    match registered {
        Ok(Ok(())) => {}
        Ok(Err(e)) => return html::internal_error(&e),
        Err(e) => return html::internal_error(&e),
    }
    tracing::info!(box_id = %box_id, commune = ?commune, account = %staff.account.username, "box register changed");
    if let Err(response) = staff
        .audit(action, &box_id, &commune.unwrap_or_default())
        .await
    {
        return response;
    }
    Redirect::to("/organisation").into_response()
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
    work: impl FnOnce(&rusqlite::Connection) -> Result<(), db::DbError> + Send + 'static,
) -> Response {
    let saved = staff
        .audited(action, move |tx, _| {
            work(tx)?;
            Ok(((), AuditLine::new(subject, detail)))
        })
        .await;
    match saved {
        Ok(()) => Redirect::to("/organisation").into_response(),
        Err(response) => response,
    }
}
