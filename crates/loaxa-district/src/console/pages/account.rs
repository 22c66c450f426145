//! Logging in and out, one's own password and language, the accounts (admin) and the audit log.

use axum::Form;
use axum::extract::Path;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::Utc;
use loaxa_core::i18n::{FluentValue, Lang};
use maud::html;
use serde::Deserialize;

use crate::console::auth::{self, Role};
use crate::console::html::{self, csrf_field, date_time_seconds, page, role_message};
use crate::console::{LANG_COOKIE, SESSION_COOKIE, Staff, Visitor, cookie, db};

pub async fn login_form(visitor: Visitor) -> Response {
    login_page(&visitor, None, StatusCode::OK)
}

fn login_page(visitor: &Visitor, problem: Option<&str>, status: StatusCode) -> Response {
    let app = &visitor.app;
    let t = |id: &str| app.t(visitor.lang, id);
    let body = html! {
        @if let Some(problem) = problem { p.problem role="alert" { (problem) } }
        form method="post" action="/login" {
            label { (t("login-username")) input name="username" autocomplete="username" required autofocus; }
            label { (t("login-password")) input name="password" type="password" autocomplete="current-password" required; }
            button type="submit" { (t("login-submit")) }
        }
    };
    (
        status,
        html::bare(app, visitor.lang, &t("login-title"), body),
    )
        .into_response()
}

#[derive(Deserialize)]
pub struct LoginForm {
    username: String,
    password: String,
}

pub async fn login(visitor: Visitor, Form(form): Form<LoginForm>) -> Response {
    let app = visitor.app.clone();
    let now = Utc::now();
    let (username, ip) = (form.username.trim().to_owned(), visitor.ip.clone());
    let lookup = {
        let (username, ip) = (username.clone(), ip.clone());
        app.db
            .call(move |conn| {
                let wait = auth::throttled(conn, &username, &ip, now)?;
                Ok((wait, auth::account_for_login(conn, &username)?))
            })
            .await
    };
    let (wait, found) = match lookup {
        Ok(found) => found,
        Err(e) => return html::internal_error(&e),
    };
    if let Some(wait) = wait {
        let minutes = wait.as_secs().div_ceil(60);
        tracing::warn!(username = %username, ip = %ip, "login throttled");
        let message = app.t_args(
            visitor.lang,
            "login-throttled",
            &[("minutes", FluentValue::from(minutes))],
        );
        return login_page(&visitor, Some(&message), StatusCode::TOO_MANY_REQUESTS);
    }
    let password = form.password;
    let (account, hash) = match found {
        Some((account, hash)) if !account.disabled => (Some(account), hash),
        _ => (None, auth::decoy_hash().to_owned()),
    };
    let matches = tokio::task::spawn_blocking(move || auth::verify_password(&hash, &password))
        .await
        .unwrap_or(false);
    let outcome = app
        .db
        .call(move |conn| match account.filter(|_| matches) {
            Some(account) => {
                let token = auth::start_session(conn, account.id, &ip, now)?;
                db::audit(
                    conn,
                    now,
                    &account.username,
                    &ip,
                    "login",
                    &account.username,
                    "",
                )?;
                Ok(Some(token))
            }
            None => {
                auth::record_failure(conn, &username, &ip, now)?;
                db::audit(conn, now, &username, &ip, "login_failed", &username, "")?;
                Ok(None)
            }
        })
        .await;
    match outcome {
        Ok(Some(token)) => {
            let cookie = session_cookie(
                &token,
                auth::SESSION_LIFETIME.as_secs(),
                app.config.secure_cookies,
            );
            ([(header::SET_COOKIE, cookie)], Redirect::to("/fleet")).into_response()
        }
        Ok(None) => login_page(
            &visitor,
            Some(&app.t(visitor.lang, "login-failed")),
            StatusCode::UNAUTHORIZED,
        ),
        Err(e) => html::internal_error(&e),
    }
}

fn session_cookie(token: &str, max_age: u64, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!(
        "{SESSION_COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}"
    )
}

pub async fn logout(staff: Staff, headers: HeaderMap) -> Response {
    if let Some(token) = cookie(&headers, SESSION_COOKIE).map(str::to_owned) {
        let (username, ip) = (staff.account.username.clone(), staff.ip.clone());
        let ended = staff
            .app
            .db
            .call(move |conn| {
                auth::end_session(conn, &token)?;
                db::audit(conn, Utc::now(), &username, &ip, "logout", &username, "")
            })
            .await;
        if let Err(e) = ended {
            return html::internal_error(&e);
        }
    }
    let cookie = session_cookie("", 0, staff.app.config.secure_cookies);
    ([(header::SET_COOKIE, cookie)], Redirect::to("/login")).into_response()
}

pub async fn choose_language(
    visitor: Visitor,
    Path(code): Path<String>,
    headers: HeaderMap,
) -> Response {
    let lang = Lang::parse(&code).unwrap_or(visitor.app.config.language);
    let back = headers
        .get(header::REFERER)
        .and_then(|v| v.to_str().ok())
        .and_then(|r| r.split_once("://").map(|(_, rest)| rest))
        .and_then(|rest| rest.find('/').map(|i| rest[i..].to_owned()))
        .filter(|path| path.starts_with('/') && !path.starts_with("//"))
        .unwrap_or_else(|| "/".into());
    let cookie = format!(
        "{LANG_COOKIE}={}; Path=/; SameSite=Strict; Max-Age=31536000",
        lang.code()
    );
    ([(header::SET_COOKIE, cookie)], Redirect::to(&back)).into_response()
}

pub async fn password_form(staff: Staff) -> Response {
    password_page(&staff, None)
}

fn password_page(staff: &Staff, problem: Option<&str>) -> Response {
    let body = html! {
        @if staff.account.must_change_password { p { (staff.t("password-must-change")) } }
        @if let Some(problem) = problem { p.problem role="alert" { (problem) } }
        form method="post" action="/password" {
            (csrf_field(staff))
            label { (staff.t("password-new")) input name="password" type="password" autocomplete="new-password" minlength="10" required; }
            label { (staff.t("password-again")) input name="again" type="password" autocomplete="new-password" required; }
            button type="submit" { (staff.t("password-submit")) }
        }
    };
    page(staff, &staff.t("password-title"), body).into_response()
}

#[derive(Deserialize)]
pub struct PasswordForm {
    password: String,
    again: String,
}

/// The shortest password the console takes.
const MIN_PASSWORD: usize = 10;

pub async fn change_password(staff: Staff, Form(form): Form<PasswordForm>) -> Response {
    if form.password != form.again {
        return password_page(&staff, Some(&staff.t("password-mismatch")));
    }
    if form.password.chars().count() < MIN_PASSWORD {
        return password_page(&staff, Some(&staff.t("password-short")));
    }
    let id = staff.account.id;
    let (username, ip) = (staff.account.username.clone(), staff.ip.clone());
    let changed = staff
        .app
        .db
        .call(move |conn| {
            let now = Utc::now();
            auth::set_password(conn, id, &form.password, false)
                .map_err(|e| db::DbError::Corrupt(e.to_string()))?;
            db::audit(conn, now, &username, &ip, "password_changed", &username, "")?;
            auth::start_session(conn, id, &ip, now)
        })
        .await;
    match changed {
        Ok(token) => {
            let cookie = session_cookie(
                &token,
                auth::SESSION_LIFETIME.as_secs(),
                staff.app.config.secure_cookies,
            );
            ([(header::SET_COOKIE, cookie)], Redirect::to("/fleet")).into_response()
        }
        Err(e) => html::internal_error(&e),
    }
}

pub async fn accounts(staff: Staff) -> Response {
    accounts_page(&staff, None).await
}

async fn accounts_page(staff: &Staff, notice: Option<maud::Markup>) -> Response {
    if let Err(refused) = staff.require(Role::Admin) {
        return refused;
    }
    let listed = staff
        .app
        .db
        .call(|conn| Ok((auth::accounts(conn)?, db::communes(conn)?)))
        .await;
    let (accounts, communes) = match listed {
        Ok(found) => found,
        Err(e) => return html::internal_error(&e),
    };
    let body = html! {
        @if let Some(notice) = notice { (notice) }
        table {
            thead { tr {
                th { (staff.t("account-username")) } th { (staff.t("account-name")) }
                th { (staff.t("account-role")) } th { (staff.t("account-commune")) }
                th { (staff.t("account-state")) } th {}
            } }
            tbody {
                @for account in &accounts {
                    tr data-account=(account.username) {
                        td { (account.username) } td { (account.display_name) }
                        td { (staff.t(role_message(account.role))) }
                        td { (account.commune.clone().unwrap_or_else(|| staff.t("account-whole-office"))) }
                        td { (staff.t(if account.disabled { "account-disabled" } else { "account-active" })) }
                        td.actions {
                            @if account.id != staff.account.id {
                                @let (action, label) = if account.disabled {
                                    ("enable", "account-enable")
                                } else {
                                    ("disable", "account-disable")
                                };
                                form.inline method="post" action=(format!("/accounts/{}/{action}", account.id)) {
                                    (csrf_field(staff))
                                    button type="submit" name="action" value=(action) { (staff.t(label)) }
                                }
                                form.inline method="post" action=(format!("/accounts/{}/reset", account.id)) {
                                    (csrf_field(staff))
                                    button type="submit" name="action" value="reset" { (staff.t("account-reset")) }
                                }
                            }
                        }
                    }
                }
            }
        }
        h2 { (staff.t("account-new")) }
        form #new-account method="post" action="/accounts" {
            (csrf_field(staff))
            label { (staff.t("account-username")) input name="username" required pattern="[A-Za-z0-9][A-Za-z0-9._-]{0,63}"; }
            label { (staff.t("account-name")) input name="display_name" required; }
            label { (staff.t("account-role"))
                select name="role" {
                    @for role in Role::ALL { option value=(role.as_str()) { (staff.t(role_message(role))) } }
                }
            }
            label { (staff.t("account-commune"))
                input name="commune" list="communes" placeholder=(staff.t("account-whole-office"));
                datalist #communes { @for c in &communes { option value=(c.id) { (c.name) } } }
            }
            button type="submit" { (staff.t("account-create")) }
        }
    };
    page(staff, &staff.t("nav-accounts"), body).into_response()
}

#[derive(Deserialize)]
pub struct NewAccountForm {
    username: String,
    display_name: String,
    role: String,
    #[serde(default)]
    commune: String,
}

pub async fn create_account(staff: Staff, Form(form): Form<NewAccountForm>) -> Response {
    if let Err(refused) = staff.require(Role::Admin) {
        return refused;
    }
    let Some(role) = Role::parse(&form.role) else {
        return staff.refuse(StatusCode::BAD_REQUEST, &staff.t("account-bad-role"));
    };
    let commune = Some(form.commune.trim().to_owned()).filter(|c| !c.is_empty());
    if commune
        .as_deref()
        .is_some_and(|c| !loaxa_core::ids::is_name(c))
    {
        return staff.refuse(StatusCode::BAD_REQUEST, &staff.t("account-bad-commune"));
    }
    let password = auth::one_time_password();
    let (admin, ip) = (staff.account.username.clone(), staff.ip.clone());
    let username = form.username.trim().to_owned();
    let created = {
        let (password, username) = (password.clone(), username.clone());
        staff
            .app
            .db
            .call(move |conn| {
                let now = Utc::now();
                let made = auth::create_account(
                    conn,
                    &auth::NewAccount {
                        username: &username,
                        display_name: form.display_name.trim(),
                        role,
                        commune: commune.as_deref(),
                        password: &password,
                        must_change_password: true,
                    },
                    now,
                );
                if made.is_ok() {
                    let detail = format!(
                        "{} {}",
                        role.as_str(),
                        commune.as_deref().unwrap_or("office")
                    );
                    db::audit(
                        conn,
                        now,
                        &admin,
                        &ip,
                        "account_created",
                        &username,
                        &detail,
                    )?;
                }
                Ok(made)
            })
            .await
    };
    let notice = match created {
        Ok(Ok(_)) => html! {
            p.notice role="status" {
                (staff.t_args("account-created", &[("username", FluentValue::from(username.as_str()))]))
                " " code.password { (password) }
            }
        },
        Ok(Err(auth::AuthError::Taken(_))) => html! { p.problem { (staff.t("account-taken")) } },
        Ok(Err(auth::AuthError::BadUsername)) => {
            html! { p.problem { (staff.t("account-bad-username")) } }
        }
        Ok(Err(e)) => return html::internal_error(&e),
        Err(e) => return html::internal_error(&e),
    };
    accounts_page(&staff, Some(notice)).await
}

/// What an admin may do to another account from its row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AccountAction {
    /// Refuse its logins and end its sessions (the account and its history stay).
    Disable,
    Enable,
    /// A new one-time password, to be replaced at the next login; its sessions end.
    Reset,
}

impl AccountAction {
    fn audit_name(self) -> &'static str {
        match self {
            AccountAction::Disable => "account_disabled",
            AccountAction::Enable => "account_enabled",
            AccountAction::Reset => "password_reset",
        }
    }
}

pub async fn account_action(
    staff: Staff,
    Path((id, action)): Path<(i64, AccountAction)>,
) -> Response {
    if let Err(refused) = staff.require(Role::Admin) {
        return refused;
    }
    // An admin who locks themselves out may leave the office with no admin at all.
    if id == staff.account.id {
        return staff.refuse(StatusCode::BAD_REQUEST, &staff.t("account-not-yourself"));
    }
    let password = auth::one_time_password();
    let (admin, ip) = (staff.account.username.clone(), staff.ip.clone());
    let done = {
        let password = password.clone();
        staff
            .app
            .db
            .call(move |conn| {
                let Some(account) = auth::account(conn, id)? else {
                    return Ok(None);
                };
                match action {
                    AccountAction::Disable => auth::set_disabled(conn, id, true)?,
                    AccountAction::Enable => auth::set_disabled(conn, id, false)?,
                    AccountAction::Reset => auth::set_password(conn, id, &password, true)
                        .map_err(|e| db::DbError::Corrupt(e.to_string()))?,
                }
                let now = Utc::now();
                db::audit(
                    conn,
                    now,
                    &admin,
                    &ip,
                    action.audit_name(),
                    &account.username,
                    "",
                )?;
                Ok(Some(account.username))
            })
            .await
    };
    let username = match done {
        Ok(Some(username)) => username,
        Ok(None) => return staff.refuse(StatusCode::NOT_FOUND, &staff.t("account-unknown")),
        Err(e) => return html::internal_error(&e),
    };
    let name = [("username", FluentValue::from(username.as_str()))];
    let notice = match action {
        AccountAction::Reset => html! {
            p.notice role="status" {
                (staff.t_args("account-reset-done", &name)) " " code.password { (password) }
            }
        },
        AccountAction::Disable => {
            html! { p.notice role="status" { (staff.t_args("account-disabled-done", &name)) } }
        }
        AccountAction::Enable => {
            html! { p.notice role="status" { (staff.t_args("account-enabled-done", &name)) } }
        }
    };
    accounts_page(&staff, Some(notice)).await
}

pub async fn audit_log(staff: Staff) -> Response {
    let rows = match staff.app.db.call(|conn| db::audit_log(conn, 500)).await {
        Ok(rows) => rows,
        Err(e) => return html::internal_error(&e),
    };
    let tz = staff.app.config.timezone;
    let body = html! {
        table {
            thead { tr {
                th { (staff.t("audit-at")) } th { (staff.t("audit-who")) } th { (staff.t("audit-from")) }
                th { (staff.t("audit-action")) } th { (staff.t("audit-subject")) } th { (staff.t("audit-detail")) }
            } }
            tbody {
                @for row in &rows {
                    tr {
                        td { (date_time_seconds(row.at, tz)) } td { (row.account) } td { (row.ip) }
                        td { (row.action) } td { (row.subject) } td { (row.detail) }
                    }
                }
            }
        }
    };
    page(&staff, &staff.t("nav-audit"), body).into_response()
}
