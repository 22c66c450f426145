//! The office's web console, `loaxa-district serve`: server-rendered pages over the same
//! library code as the command line (signing and publishing in [`crate::publish`], what the
//! boxes said in [`crate::archive`]).
//!
//! A request goes: [`guard`] (the CSRF and origin checks every POST passes) → an extractor that
//! finds the session ([`Staff`]) → a page handler in [`pages`] → HTML from [`html`], every word
//! from the message catalogue. Nothing here builds HTML or SQL from strings: maud escapes what it
//! inserts, rusqlite binds parameters.

// A refusal is a whole page (`Response`), returned early with `?` from the checks a handler makes;
// boxing it would only add noise, since the handler returns a `Response` either way.
#![allow(clippy::result_large_err)]

pub mod auth;
pub mod config;
pub mod content;
pub mod db;
pub mod html;
pub mod pages;
pub mod programmes;
pub mod targets;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::Router;
use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header, request::Parts};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{DateTime, Utc};
use loaxa_core::i18n::{Catalogue, FluentValue, Lang};
use loaxa_core::trust::SecretKey;

pub use config::ConsoleConfig;
use db::Db;

/// The cookie holding the session token.
pub const SESSION_COOKIE: &str = "loaxa_session";
/// The cookie holding the chosen language.
pub const LANG_COOKIE: &str = "loaxa_lang";
/// The form field (or, for uploads, query parameter) carrying the CSRF token.
pub const CSRF_FIELD: &str = "csrf";
/// A form's fields, other than uploads, fit in this.
const FORM_LIMIT: usize = 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    #[error("{0}")]
    Config(#[from] config::ConfigError),
    #[error("{0}")]
    Db(#[from] db::DbError),
    #[error("{}: cannot read the signing key: {reason}", path.display())]
    Key {
        path: std::path::PathBuf,
        reason: String,
    },
    #[error("{}: {source}", path.display())]
    MediaDir {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("message catalogue: {0}")]
    Catalogue(#[from] loaxa_core::i18n::CatalogueError),
    #[error("{0}")]
    Archive(#[from] crate::archive::ArchiveError),
    #[error("{0}")]
    Collector(#[from] crate::archive::collector::CollectorError),
}

/// Everything a request may need.
pub struct App {
    pub config: ConsoleConfig,
    pub db: Db,
    /// What the boxes said (statuses, as-run), kept by the collector `serve` runs.
    pub archive: crate::archive::Archive,
    pub text: Catalogue,
    pub key: SecretKey,
}

pub type Shared = Arc<App>;

impl App {
    pub fn open(config: ConsoleConfig) -> Result<App, ConsoleError> {
        let db = Db::open(&config.database)?;
        let archive = crate::archive::Archive::open(&config.database)?;
        refuse_shared_key(&config.signing_key)?;
        let key_text =
            std::fs::read_to_string(&config.signing_key).map_err(|e| ConsoleError::Key {
                path: config.signing_key.clone(),
                reason: e.to_string(),
            })?;
        let key = SecretKey::parse(&key_text).map_err(|e| ConsoleError::Key {
            path: config.signing_key.clone(),
            reason: e.to_string(),
        })?;
        std::fs::create_dir_all(&config.media_dir).map_err(|source| ConsoleError::MediaDir {
            path: config.media_dir.clone(),
            source,
        })?;
        Ok(App {
            config,
            db,
            archive,
            text: crate::text::catalogue()?,
            key,
        })
    }

    pub fn t(&self, lang: Lang, id: &str) -> String {
        self.text.text(lang, id, &[])
    }

    pub fn t_args(&self, lang: Lang, id: &str, args: &[(&str, FluentValue)]) -> String {
        self.text.text(lang, id, args)
    }
}

/// The signing key approves what every loudspeaker of the office airs: a key file other users
/// may read is refused, as ssh refuses a private key others can read.
fn refuse_shared_key(path: &std::path::Path) -> Result<(), ConsoleError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path)
            .map_err(|e| ConsoleError::Key {
                path: path.to_owned(),
                reason: e.to_string(),
            })?
            .permissions()
            .mode();
        if mode & 0o077 != 0 {
            return Err(ConsoleError::Key {
                path: path.to_owned(),
                reason: format!(
                    "other users may read it (mode {:o}); make it readable by the console's user alone: chmod 600 {}",
                    mode & 0o777,
                    path.display()
                ),
            });
        }
    }
    Ok(())
}

/// Serves the console, and runs the archive's collector beside it, until SIGTERM or Ctrl-C.
pub async fn serve(app: App) -> Result<(), ConsoleError> {
    let addr = app.config.listen;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| ConsoleError::Listen { addr, source })?;
    let local = listener.local_addr().unwrap_or(addr);
    let settings = crate::archive::collector::Settings {
        client_id: format!("loaxa-console-{}", app.config.office.id),
        ..Default::default()
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let broker = app.config.broker();
    let archive = app.archive.clone();
    let collector = tokio::spawn(async move {
        let shutdown = async move {
            let _ = stopped.await;
        };
        crate::archive::collector::run(&broker, archive, &settings, shutdown).await
    });
    tracing::info!(url = %format!("http://{local}/"), "console listening");
    let served = serve_pages(listener, Arc::new(app), shutdown_signal())
        .await
        .map_err(|source| ConsoleError::Listen { addr, source });
    let _ = stop.send(());
    match tokio::time::timeout(std::time::Duration::from_secs(5), collector).await {
        Ok(Ok(Err(e))) => return Err(e.into()),
        Ok(Err(e)) => tracing::error!(error = %e, "the archive collector ended abnormally"),
        Err(_) => tracing::warn!("the archive collector did not stop within 5 s"),
        Ok(Ok(Ok(()))) => {}
    }
    served
}

/// Serves the console's pages on `listener` until `shutdown` completes; no collector (`serve`
/// runs one beside it).
pub async fn serve_pages(
    listener: tokio::net::TcpListener,
    app: Shared,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(
        listener,
        router(app).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(term) => term,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}

pub fn router(app: Shared) -> Router {
    pages::routes(app.clone())
        .layer(axum::middleware::from_fn_with_state(app.clone(), guard))
        .with_state(app)
}

/// The cookies of a request, by name.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
}

/// The address a request came from: the peer's, or behind a reverse proxy the office trusts
/// (`trusted_proxies`), the one the proxy names in `X-Forwarded-For`, so that the audit log
/// and the login throttle see each person's address and not the proxy's.
pub fn client_ip(app: &App, parts: &Parts) -> String {
    let Some(peer) = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|info| info.0.ip())
    else {
        return "?".into();
    };
    let forwarded = parts
        .headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .collect::<Vec<_>>()
        .join(",");
    forwarded_client(peer, &forwarded, &app.config.trusted_proxies).to_string()
}

/// Walks `X-Forwarded-For` from the right (each proxy appends the address it was reached
/// from) past the trusted proxies: the first address a trusted proxy vouches for is the
/// client. Anything to its left was written by the client itself and proves nothing.
fn forwarded_client(peer: IpAddr, forwarded_for: &str, trusted: &[IpAddr]) -> IpAddr {
    let mut client = peer;
    for hop in forwarded_for.rsplit(',') {
        if !trusted.contains(&client) {
            break;
        }
        match hop.trim().parse::<IpAddr>() {
            Ok(address) => client = address,
            Err(_) => break,
        }
    }
    client
}

/// The language of a request: the visitor's choice, else the office's.
pub fn request_lang(app: &App, headers: &HeaderMap) -> Lang {
    cookie(headers, LANG_COOKIE)
        .and_then(Lang::parse)
        .unwrap_or(app.config.language)
}

/// Every POST passes here first. It refuses one sent from another site (an `Origin` that is
/// not this host), and, except for the login form, one without the session's CSRF token: in
/// the form body, or for an upload (whose body is too large to read twice) in the query string.
async fn guard(State(app): State<Shared>, request: Request, next: Next) -> Response {
    if request.method() != Method::POST {
        return next.run(request).await;
    }
    let lang = request_lang(&app, request.headers());
    let refuse = |app: &App| {
        (
            StatusCode::FORBIDDEN,
            html::bare_page(app, lang, &app.t(lang, "error-csrf")),
        )
            .into_response()
    };
    if !same_origin(request.headers()) {
        tracing::warn!(path = %request.uri().path(), "POST from another site refused");
        return refuse(&app);
    }
    if request.uri().path() == "/login" {
        return next.run(request).await;
    }
    let Some(token) = cookie(request.headers(), SESSION_COOKIE).map(str::to_owned) else {
        return Redirect::to("/login").into_response();
    };
    let now = Utc::now();
    let session = match app
        .db
        .call(move |conn| auth::session(conn, &token, now))
        .await
    {
        Ok(Some(session)) => session,
        Ok(None) => return Redirect::to("/login").into_response(),
        Err(e) => return html::internal_error(&e),
    };
    let from_query = request
        .uri()
        .query()
        .and_then(|q| form_field(q.as_bytes(), CSRF_FIELD));
    let is_form = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    let (request, sent) = if let Some(sent) = from_query {
        (request, Some(sent))
    } else if is_form {
        let (parts, body) = request.into_parts();
        let Ok(bytes) = axum::body::to_bytes(body, FORM_LIMIT).await else {
            return (StatusCode::PAYLOAD_TOO_LARGE, "form too large").into_response();
        };
        let sent = form_field(&bytes, CSRF_FIELD);
        (
            Request::from_parts(parts, axum::body::Body::from(bytes)),
            sent,
        )
    } else {
        (request, None)
    };
    match sent {
        Some(sent) if auth::same_secret(&sent, &session.csrf) => next.run(request).await,
        _ => {
            tracing::warn!(path = %request.uri().path(), account = %session.account.username, "POST without a valid CSRF token refused");
            refuse(&app)
        }
    }
}

/// Whether the request's `Origin` (when the browser sends one) is this host.
fn same_origin(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return true;
    };
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let origin_host = origin
        .split_once("://")
        .map_or(origin, |(_, rest)| rest)
        .trim_end_matches('/');
    origin_host == host
}

fn form_field(body: &[u8], name: &str) -> Option<String> {
    form_urlencoded(body)
        .into_iter()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value)
}

/// `a=1&b=x+y` → pairs, percent- and plus-decoded.
fn form_urlencoded(body: &[u8]) -> Vec<(String, String)> {
    serde_urlencoded::from_bytes::<Vec<(String, String)>>(body).unwrap_or_default()
}

/// A logged-in member of staff, and how to speak to them. Pages that need a login take this;
/// without a live session the visitor is sent to the login page.
pub struct Staff {
    pub app: Shared,
    pub account: auth::Account,
    pub csrf: String,
    pub lang: Lang,
    pub ip: String,
}

impl Staff {
    pub fn t(&self, id: &str) -> String {
        self.app.t(self.lang, id)
    }

    pub fn t_args(&self, id: &str, args: &[(&str, FluentValue)]) -> String {
        self.app.t_args(self.lang, id, args)
    }

    /// Refuses the request unless the account has at least `role`.
    pub fn require(&self, role: auth::Role) -> Result<(), Response> {
        if self.account.may(role) {
            Ok(())
        } else {
            Err(self.refuse(StatusCode::FORBIDDEN, &self.t("error-role")))
        }
    }

    /// A page saying why the request was refused.
    pub fn refuse(&self, status: StatusCode, message: &str) -> Response {
        (status, html::message_page(self, message)).into_response()
    }

    /// Writes one line of the audit log.
    pub async fn audit(&self, action: &str, subject: &str, detail: &str) -> Result<(), Response> {
        let line = AuditLine::new(subject, detail);
        self.audited(action, move |_, _| Ok(((), line))).await
    }

    /// Makes a change and writes its line of the audit log in one transaction, so that no
    /// change goes unrecorded and no line tells of a change that did not happen. `change` gets
    /// the transaction and the time, and returns its result with what the line says.
    pub async fn audited<T, F>(&self, action: &str, change: F) -> Result<T, Response>
    where
        T: Send + 'static,
        F: FnOnce(&rusqlite::Transaction<'_>, DateTime<Utc>) -> Result<(T, AuditLine), db::DbError>
            + Send
            + 'static,
    {
        let (account, ip, action) = (
            self.account.username.clone(),
            self.ip.clone(),
            action.to_owned(),
        );
        self.app
            .db
            .call(move |conn| {
                let now = Utc::now();
                let tx = conn.transaction()?;
                let (value, line) = change(&tx, now)?;
                db::audit(
                    &tx,
                    now,
                    &account,
                    &ip,
                    &action,
                    &line.subject,
                    &line.detail,
                )?;
                tx.commit()?;
                Ok(value)
            })
            .await
            .map_err(|e| html::internal_error(&e))
    }
}

/// What a line of the audit log says of a change: what it was done to, and how.
pub struct AuditLine {
    pub subject: String,
    pub detail: String,
}

impl AuditLine {
    pub fn new(subject: impl Into<String>, detail: impl Into<String>) -> AuditLine {
        AuditLine {
            subject: subject.into(),
            detail: detail.into(),
        }
    }
}

impl FromRequestParts<Shared> for Staff {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, app: &Shared) -> Result<Staff, Response> {
        let lang = request_lang(app, &parts.headers);
        let ip = client_ip(app, parts);
        let login = || Redirect::to("/login").into_response();
        let token = cookie(&parts.headers, SESSION_COOKIE)
            .map(str::to_owned)
            .ok_or_else(login)?;
        let now = Utc::now();
        let session = app
            .db
            .call(move |conn| auth::session(conn, &token, now))
            .await
            .map_err(|e| html::internal_error(&e))?
            .ok_or_else(login)?;
        let staff = Staff {
            app: app.clone(),
            account: session.account,
            csrf: session.csrf,
            lang,
            ip,
        };
        // A one-time password must be replaced before anything else.
        if staff.account.must_change_password && parts.uri.path() != "/password" {
            return Err(Redirect::to("/password").into_response());
        }
        Ok(staff)
    }
}

/// A visitor who may not be logged in (the login page).
pub struct Visitor {
    pub app: Shared,
    pub lang: Lang,
    pub ip: String,
}

impl FromRequestParts<Shared> for Visitor {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        app: &Shared,
    ) -> Result<Visitor, Self::Rejection> {
        Ok(Visitor {
            app: app.clone(),
            lang: request_lang(app, &parts.headers),
            ip: client_ip(app, parts),
        })
    }
}

/// `loaxa-district init`: creates the database and the first admin, and returns the admin's
/// one-time password.
pub fn init(config: &ConsoleConfig, username: &str) -> Result<String, InitError> {
    let db = Db::open(&config.database)?;
    let password = auth::one_time_password();
    db.call_now(|conn| {
        let existing: i64 =
            conn.query_row("SELECT count(*) FROM console_accounts", [], |r| r.get(0))?;
        Ok(existing)
    })
    .map_err(InitError::Db)
    .and_then(|existing| {
        if existing > 0 {
            Err(InitError::AlreadyDone)
        } else {
            Ok(())
        }
    })?;
    db.call_now(|conn| {
        let now = Utc::now();
        auth::create_account(
            conn,
            &auth::NewAccount {
                username,
                display_name: username,
                role: auth::Role::Admin,
                commune: None,
                password: &password,
                must_change_password: true,
            },
            now,
        )
        .map_err(|e| db::DbError::Corrupt(e.to_string()))?;
        db::audit(
            conn,
            now,
            "init",
            "local",
            "account_created",
            username,
            "admin",
        )
    })?;
    Ok(password)
}

#[derive(Debug, thiserror::Error)]
pub enum InitError {
    #[error("{0}")]
    Db(#[from] db::DbError),
    #[error("the console already has accounts; an admin can add more from the Accounts page")]
    AlreadyDone,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn behind_a_trusted_proxy_the_client_is_the_address_the_proxy_names() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let proxy = [ip("127.0.0.1")];
        assert_eq!(
            forwarded_client(ip("127.0.0.1"), "10.0.0.7", &proxy),
            ip("10.0.0.7")
        );
        // What the client wrote itself (left of what the proxy appended) is not believed.
        assert_eq!(
            forwarded_client(ip("127.0.0.1"), "1.2.3.4, 10.0.0.7", &proxy),
            ip("10.0.0.7")
        );
        // From anyone else the header is the client's own claim.
        assert_eq!(
            forwarded_client(ip("10.0.0.9"), "1.2.3.4", &proxy),
            ip("10.0.0.9")
        );
        assert_eq!(
            forwarded_client(ip("10.0.0.9"), "1.2.3.4", &[]),
            ip("10.0.0.9")
        );
        // A garbled hop ends the walk at the last address a trusted proxy gave.
        assert_eq!(
            forwarded_client(ip("127.0.0.1"), "junk", &proxy),
            ip("127.0.0.1")
        );
        assert_eq!(
            forwarded_client(ip("127.0.0.1"), "", &proxy),
            ip("127.0.0.1")
        );
        assert_eq!(
            forwarded_client(ip("127.0.0.1"), "10.0.0.7, 127.0.0.1", &proxy),
            ip("10.0.0.7")
        );
    }

    #[test]
    fn an_origin_from_another_site_is_not_the_same_origin() {
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, "127.0.0.1:8080".parse().unwrap());
        assert!(same_origin(&headers));
        headers.insert(header::ORIGIN, "http://127.0.0.1:8080".parse().unwrap());
        assert!(same_origin(&headers));
        headers.insert(header::ORIGIN, "http://evil.example".parse().unwrap());
        assert!(!same_origin(&headers));
    }

    #[test]
    fn a_form_field_is_found_decoded() {
        assert_eq!(
            form_field(b"title=B%E1%BA%A3n+tin&csrf=abc%2Bd", "csrf").as_deref(),
            Some("abc+d")
        );
        assert_eq!(form_field(b"title=x", "csrf"), None);
    }
}
