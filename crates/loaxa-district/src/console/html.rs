//! The pages' frame and the small pieces every page shares. maud escapes everything it inserts,
//! so text from users (titles, names) can never become markup.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use loaxa_core::i18n::Lang;
use maud::{DOCTYPE, Markup, html};

use super::auth::Role;
use super::{App, CSRF_FIELD, Staff};

/// The navigation: path, message id, the role needed to see it.
const NAV: &[(&str, &str, Role)] = &[
    ("/fleet", "nav-fleet", Role::Viewer),
    ("/bulletins", "nav-bulletins", Role::Viewer),
    ("/schedules", "nav-schedules", Role::Viewer),
    ("/send", "nav-send", Role::Approver),
    ("/reports", "nav-reports", Role::Viewer),
    ("/accounts", "nav-accounts", Role::Admin),
    ("/organisation", "nav-organisation", Role::Admin),
    ("/audit", "nav-audit", Role::Viewer),
];

fn head(app: &App, lang: Lang, title: &str) -> Markup {
    html! {
        head {
            meta charset="utf-8";
            meta name="viewport" content="width=device-width, initial-scale=1";
            title { (title) " · " (app.config.office.name) }
            link rel="stylesheet" href="/assets/console.css";
            script src="/assets/console.js" defer {}
            meta name="loaxa-lang" content=(lang.code());
        }
    }
}

/// A page for a logged-in member of staff.
pub fn page(staff: &Staff, title: &str, body: Markup) -> Markup {
    let app = &staff.app;
    let other = match staff.lang {
        Lang::Vi => Lang::En,
        Lang::En => Lang::Vi,
    };
    html! {
        (DOCTYPE)
        html lang=(staff.lang.code()) {
            (head(app, staff.lang, title))
            body {
                header {
                    span.office { (app.config.office.name) }
                    nav {
                        @for (path, id, role) in NAV {
                            @if staff.account.may(*role) {
                                a href=(path) { (staff.t(id)) }
                            }
                        }
                    }
                    span.who {
                        (staff.account.display_name) " (" (staff.t(role_message(staff.account.role))) ")"
                        " · " a href={ "/lang/" (other.code()) } { (other.code().to_uppercase()) }
                        form.inline method="post" action="/logout" {
                            (csrf_field(staff))
                            button type="submit" { (staff.t("logout")) }
                        }
                    }
                }
                main {
                    h1 { (title) }
                    (body)
                }
            }
        }
    }
}

/// A page without the navigation (login, errors before a session exists).
pub fn bare_page(app: &App, lang: Lang, message: &str) -> Markup {
    bare(
        app,
        lang,
        &app.t(lang, "console-title"),
        html! { p.problem { (message) } },
    )
}

pub fn bare(app: &App, lang: Lang, title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang=(lang.code()) {
            (head(app, lang, title))
            body.bare {
                main {
                    p.office { (app.config.office.name) }
                    h1 { (title) }
                    (body)
                }
            }
        }
    }
}

pub fn message_page(staff: &Staff, message: &str) -> Markup {
    page(
        staff,
        &staff.t("error-title"),
        html! { p.problem { (message) } },
    )
}

/// The hidden field every form carries.
pub fn csrf_field(staff: &Staff) -> Markup {
    html! { input type="hidden" name=(CSRF_FIELD) value=(staff.csrf); }
}

pub fn role_message(role: Role) -> &'static str {
    match role {
        Role::Viewer => "role-viewer",
        Role::Editor => "role-editor",
        Role::Approver => "role-approver",
        Role::Admin => "role-admin",
    }
}

/// `dd/mm/yyyy HH:MM` in the office's time zone, as Vietnamese write it.
pub fn date_time(at: DateTime<Utc>, tz: Tz) -> String {
    at.with_timezone(&tz).format("%d/%m/%Y %H:%M").to_string()
}

/// `dd/mm/yyyy HH:MM:SS`, where seconds matter (as-run).
pub fn date_time_seconds(at: DateTime<Utc>, tz: Tz) -> String {
    at.with_timezone(&tz)
        .format("%d/%m/%Y %H:%M:%S")
        .to_string()
}

/// A length of audio as `m:ss` (or `h:mm:ss`).
pub fn duration(ms: u64) -> String {
    let seconds = ms / 1000;
    let (h, m, s) = (seconds / 3600, seconds / 60 % 60, seconds % 60);
    if h > 0 {
        format!("{h}:{m:02}:{s:02}")
    } else {
        format!("{m}:{s:02}")
    }
}

/// What the visitor sees when something failed on our side; the details go to the log only.
pub fn internal_error(error: &dyn std::fmt::Display) -> Response {
    tracing::error!(error = %error, "console request failed");
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        "Lỗi máy chủ; xem nhật ký của máy chủ. / Server error; see the server's log.",
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_day_month_year_and_24_hour_in_the_office_time_zone() {
        let at = DateTime::parse_from_rfc3339("2026-12-01T10:30:05Z")
            .unwrap()
            .with_timezone(&Utc);
        let tz: Tz = "Asia/Ho_Chi_Minh".parse().unwrap();
        assert_eq!(date_time(at, tz), "01/12/2026 17:30");
        assert_eq!(date_time_seconds(at, tz), "01/12/2026 17:30:05");
    }

    #[test]
    fn durations_read_as_minutes_and_seconds() {
        assert_eq!(duration(11_259), "0:11");
        assert_eq!(duration(125_000), "2:05");
        assert_eq!(duration(3_725_000), "1:02:05");
    }

    #[test]
    fn text_from_users_is_escaped() {
        let title = "<script>alert(1)</script>";
        let markup = html! { td { (title) } }.into_string();
        assert_eq!(markup, "<td>&lt;script&gt;alert(1)&lt;/script&gt;</td>");
    }
}
