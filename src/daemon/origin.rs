//! Where a programme came from, for its as-run entry. A programme carries the name of its
//! source (for messages: "district schedule commune/phu-dong revision 7"); the daemon names the
//! sources it makes, so the name alone says the origin, and it travels with the programme
//! wherever it waits (the arbiter's queue, a retry after a stop). Pure.

use std::path::Path;

use chrono::{DateTime, Utc};
use loaxa_core::protocol::{CommandDoc, Origin, Scope};
use loaxa_core::schedule::{Item, Program};

const SCHEDULE: &str = "district schedule ";
const REVISION: &str = " revision ";
const COMMAND: &str = "play-now command ";
const ISSUED: &str = " issued ";
/// The source of a `play-now` from the box's own command line.
pub const OPERATOR: &str = "play-now request";

/// The id of a programme made to play at once: `play-now` for the operator's, `play-now-ID`
/// for the office's command to air bulletin ID.
const PLAY_NOW: &str = "play-now";

/// The id of the programme a play-now makes: of `bulletin` by the office's command, or the
/// operator's (None).
pub fn play_now_id(bulletin: Option<&str>) -> String {
    match bulletin {
        Some(bulletin) => format!("{PLAY_NOW}-{bulletin}"),
        None => PLAY_NOW.to_owned(),
    }
}

/// Whether `program` is the id of a play-now (the operator's or the office's), not a
/// schedule's: the operator is told it was played now rather than shown a made-up id.
pub fn is_play_now(program: &str) -> bool {
    program
        .strip_prefix(PLAY_NOW)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('-'))
}

/// The source name of the district's schedule for `scope` at `revision`.
pub fn schedule_source(scope: &str, revision: u64) -> String {
    format!("{SCHEDULE}{scope}{REVISION}{revision}")
}

/// The source name of the programme a district `play-now` command makes.
pub fn command_source(command: &CommandDoc) -> String {
    format!(
        "{COMMAND}{}{ISSUED}{}",
        command.scope,
        command.issued_at.to_rfc3339()
    )
}

/// The origin a source name says; anything the daemon did not name is the box's own.
pub fn origin(source: &Path) -> Origin {
    let text = source.to_string_lossy();
    let schedule = text
        .strip_prefix(SCHEDULE)
        .and_then(|rest| rest.rsplit_once(REVISION))
        .and_then(|(scope, revision)| Some((scope.parse().ok()?, revision.parse().ok()?)));
    if let Some((scope, revision)) = schedule {
        return Origin::Schedule { scope, revision };
    }
    let command = text
        .strip_prefix(COMMAND)
        .and_then(|rest| rest.split_once(ISSUED))
        .and_then(|(scope, issued_at)| {
            let scope: Scope = scope.parse().ok()?;
            let issued_at = DateTime::parse_from_rfc3339(issued_at).ok()?;
            Some((scope, issued_at.with_timezone(&Utc)))
        });
    if let Some((scope, issued_at)) = command {
        return Origin::Command { scope, issued_at };
    }
    if text == OPERATOR {
        Origin::Operator
    } else {
        Origin::Local
    }
}

/// The bulletins `program`'s `bulletin:ID` items name (a relay's fallback too), in order, once
/// each.
pub fn bulletins(program: &Program) -> Vec<String> {
    fn add(items: &[Item], named: &mut Vec<String>) {
        for item in items {
            match item {
                Item::Bulletin { id } if !named.contains(id) => named.push(id.clone()),
                Item::Relay { fallback, .. } => add(fallback, named),
                Item::Bulletin { .. } | Item::Chime | Item::File { .. } => {}
            }
        }
    }
    let mut named = Vec::new();
    add(&program.items, &mut named);
    named
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_play_now_is_known_by_its_id_and_a_schedules_programme_is_not() {
        assert!(is_play_now(&play_now_id(None)));
        assert!(is_play_now(&play_now_id(Some("bao-lu"))));
        assert!(!is_play_now("play-nowhere"));
        assert!(!is_play_now("tin-sang"));
    }
    use loaxa_core::protocol::RemoteAction;

    #[test]
    fn the_sources_the_daemon_names_say_their_origin_and_any_other_is_local() {
        let scope: Scope = "commune/phu-dong".parse().unwrap();
        let named = schedule_source("commune/phu-dong", 7);
        assert_eq!(named, "district schedule commune/phu-dong revision 7");
        assert_eq!(
            origin(Path::new(&named)),
            Origin::Schedule {
                scope: scope.clone(),
                revision: 7
            }
        );
        let issued_at: DateTime<Utc> = "2026-11-24T02:40:00.123Z".parse().unwrap();
        let command = CommandDoc {
            scope: scope.clone(),
            issued_at,
            valid_until: issued_at + chrono::Duration::minutes(30),
            approver: "huyện".into(),
            action: RemoteAction::Stop,
        };
        assert_eq!(
            origin(Path::new(&command_source(&command))),
            Origin::Command { scope, issued_at }
        );
        assert_eq!(origin(Path::new(OPERATOR)), Origin::Operator);
        for local in [
            "/etc/loaxa/schedules/morning.toml",
            "local programme sang",
            "district schedule commune/phu-dong revision x",
            "play-now command nowhere issued 2026-11-24T02:40:00Z",
        ] {
            assert_eq!(origin(Path::new(local)), Origin::Local, "{local}");
        }
    }

    #[test]
    fn the_bulletins_a_programme_names_are_listed_once_each_relay_fallbacks_too() {
        let bulletin = |id: &str| Item::Bulletin { id: id.into() };
        let program = Program::immediate(
            "p",
            "P",
            vec![
                Item::Chime,
                bulletin("a"),
                Item::Relay {
                    url: "http://radio.local/live".into(),
                    duration: std::time::Duration::from_secs(60),
                    fallback: vec![bulletin("b"), bulletin("a")],
                },
            ],
            loaxa_core::schedule::Priority::Normal,
            chrono_tz::Asia::Ho_Chi_Minh,
            OPERATOR,
        );
        assert_eq!(bulletins(&program), ["a", "b"]);
    }
}
