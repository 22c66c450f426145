//! The district's table of boxes (`loaxa fleet`): who is online, which schedule revisions each box
//! holds, and what it last aired.
//!
//! Everything comes from what the boxes already publish: each box's retained status (its last will
//! turns it "offline" when it vanishes) arrives the moment we subscribe, so the table needs no
//! database on the district side. Events are not retained, so the "last aired" column only knows
//! the as-run entries that reach us; see [`CLIENT_ID_PREFIX`] for which those are.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::publish::{Broker, PublishError, wait_connected};
use loaxa_core::ids::is_name;
use loaxa_core::protocol::{Event, EventBody, Status, Transfer, VERSION, topic};
use loaxa_link::{Link, LinkEvent};

/// The client id is *fixed* per district machine: `loaxa-fleet-HOSTNAME`.
///
/// The link always asks for a persistent session, so the broker queues the QoS 1 events published
/// while `loaxa fleet` is not running and hands them over on the next run: the "last aired"
/// column then covers everything aired since the previous run, not just the few seconds of this
/// one. A unique id per run would see only live events, and would also leave one abandoned
/// session per run on the broker, each queueing every box's events until the broker expires it.
/// The cost: two `loaxa fleet` running at once on one machine take the session from each other
/// (the broker disconnects the older one), and an event is consumed by the run that receives it,
/// so a box that has aired nothing since the previous run shows no "last aired".
pub const CLIENT_ID_PREFIX: &str = "loaxa-fleet-";

/// One box as the district sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BoxRow {
    pub box_id: String,
    /// "online" or "offline" from the retained status; "unknown" for a box heard only through
    /// events (it never published a status, or its status was cleared).
    pub state: String,
    /// The newest time the box itself reported (status or event). For an offline box this is a
    /// lower bound: the last will is composed when the box connects.
    pub last_seen: Option<DateTime<Utc>>,
    /// Schedule revision held per scope, from the newest status that listed them (the last will
    /// lists none, so an offline box keeps what an earlier status in this run said, if any).
    pub revisions: BTreeMap<String, u64>,
    /// What the box says is on air (online boxes only).
    pub on_air: Option<String>,
    /// Bulletins the box is still fetching.
    pub transfers: Vec<Transfer>,
    /// Free space for the box's state, in bytes.
    pub disk_free: Option<u64>,
    /// The program that last aired in full: from the box's status, or from an as-run event
    /// received in this run if newer (highest `seq`).
    pub last_aired: Option<String>,
    /// When that program started (its scheduled time if the box did not say). Kept as UTC here,
    /// shown in the box time zone by [`table`], so the row stays data rather than text.
    pub last_aired_at: Option<DateTime<Utc>>,
}

/// Connects like [`crate::publish::publish_schedule`], subscribes to every box's status and
/// events, collects for `wait` after the broker accepts us, disconnects cleanly, and returns one
/// row per box, sorted by id.
pub async fn collect(broker: &Broker, wait: Duration) -> Result<Vec<BoxRow>, PublishError> {
    let config = broker.link_config(client_id());
    let filters = vec![topic::status("+"), topic::events("+")];
    let (link, mut events) = Link::start(config, filters)?;
    if let Err(e) = wait_connected(&mut events, &broker.url).await {
        link.shutdown().await;
        return Err(e);
    }
    let mut fleet = Fleet::default();
    let deadline = tokio::time::Instant::now() + wait;
    while let Ok(Some(event)) = tokio::time::timeout_at(deadline, events.recv()).await {
        if let LinkEvent::Message(message) = event {
            fleet.absorb(&message.topic, &message.payload);
            // Acked once absorbed, so the session queue does not fill up with what we read.
            let _ = link.ack(&message);
        }
    }
    link.shutdown().await;
    Ok(fleet.rows())
}

fn client_id() -> String {
    let host = loaxa_core::ids::host_name().unwrap_or_else(|| "district".to_owned());
    format!("{CLIENT_ID_PREFIX}{host}")
}

/// Rows being built, with the `seq` of the as-run entry behind each `last_aired`.
#[derive(Default)]
struct Fleet {
    rows: BTreeMap<String, (BoxRow, Option<u64>)>,
}

impl Fleet {
    /// Takes in one message. Anything malformed is skipped with a warning: one broken box (or a
    /// stray publisher) must not hide the others.
    fn absorb(&mut self, topic: &str, payload: &[u8]) {
        let (kind, box_id) = match topic.strip_prefix("loaxa/").and_then(|t| t.split_once('/')) {
            Some((kind @ ("status" | "events"), id)) if is_name(id) => (kind, id),
            _ => return tracing::warn!(topic, "unexpected topic skipped"),
        };
        if kind == "status" {
            match serde_json::from_slice::<Status>(payload) {
                Ok(status) if status.v == VERSION && status.box_id == box_id => self.status(status),
                Ok(_) => tracing::warn!(topic, "status of another version or box skipped"),
                // An empty retained payload clears the topic: the box is gone from the broker.
                Err(_) if payload.is_empty() => {}
                Err(e) => tracing::warn!(topic, error = %e, "malformed status skipped"),
            }
        } else {
            match serde_json::from_slice::<Event>(payload) {
                Ok(event) if event.v == VERSION && event.box_id == box_id => self.event(event),
                Ok(_) => tracing::warn!(topic, "event of another version or box skipped"),
                Err(e) => tracing::warn!(topic, error = %e, "malformed event skipped"),
            }
        }
    }

    fn entry(&mut self, box_id: &str) -> &mut (BoxRow, Option<u64>) {
        self.rows.entry(box_id.to_owned()).or_insert_with(|| {
            let row = BoxRow {
                box_id: box_id.to_owned(),
                state: "unknown".into(),
                last_seen: None,
                revisions: BTreeMap::new(),
                on_air: None,
                transfers: Vec::new(),
                disk_free: None,
                last_aired: None,
                last_aired_at: None,
            };
            (row, None)
        })
    }

    /// Statuses replace each other in arrival order (not by `at`: the will's `at` is older than
    /// the online status it replaces).
    fn status(&mut self, status: Status) {
        let (row, _) = self.entry(&status.box_id);
        // The will lists no revisions (it is composed at connect, before the box knew them), so
        // it says nothing about them; an online status lists all it holds, possibly none.
        if status.state != "offline" || !status.revisions.is_empty() {
            row.revisions = status.revisions;
            row.transfers = status.transfers;
            row.disk_free = status.disk_free.or(row.disk_free);
        }
        if let Some(last) = status.last_aired
            && row.last_aired_at.is_none_or(|known| last.started > known)
        {
            row.last_aired = Some(last.program);
            row.last_aired_at = Some(last.started);
        }
        // Whatever an offline box was airing has stopped.
        row.on_air = status.now_playing.filter(|_| status.state != "offline");
        row.state = status.state;
        seen(row, status.at);
    }

    fn event(&mut self, event: Event) {
        let (row, aired_seq) = self.entry(&event.box_id);
        seen(row, Some(event.at));
        if let EventBody::AsRun {
            program,
            scheduled,
            started,
            outcome,
            ..
        } = event.body
            && outcome == "aired"
            && aired_seq.is_none_or(|held| event.seq > held)
        {
            *aired_seq = Some(event.seq);
            row.last_aired = Some(program);
            row.last_aired_at = Some(started.unwrap_or(scheduled));
        }
    }

    fn rows(self) -> Vec<BoxRow> {
        self.rows.into_values().map(|(row, _)| row).collect()
    }
}

fn seen(row: &mut BoxRow, at: Option<DateTime<Utc>>) {
    row.last_seen = row.last_seen.max(at);
}

/// The boxes as an aligned text table ([`loaxa_core::report::table`]), "-" for nothing, times
/// in `tz` — the boxes' time zone, so they read like the boxes' own as-run logs.
pub fn table(rows: &[BoxRow], tz: chrono_tz::Tz) -> String {
    let local = |at: DateTime<Utc>| {
        at.with_timezone(&tz)
            .format("%Y-%m-%d %H:%M:%S")
            .to_string()
    };
    let header = [
        "BOX",
        "STATE",
        "LAST SEEN",
        "REVISIONS",
        "ON AIR",
        "PENDING",
        "DISK FREE",
        "LAST AIRED",
    ];
    let lines = rows.iter().map(|row| {
        let revisions: Vec<String> = row
            .revisions
            .iter()
            .map(|(s, r)| format!("{s}={r}"))
            .collect();
        let aired = match (&row.last_aired, row.last_aired_at) {
            (Some(program), Some(at)) => format!("{program} at {}", local(at)),
            (Some(program), None) => program.clone(),
            _ => String::new(),
        };
        let pending: Vec<String> = row
            .transfers
            .iter()
            .map(|t| format!("{} {}/{}", t.bulletin, t.chunks_held, t.chunks))
            .collect();
        let cells = [
            row.box_id.clone(),
            row.state.clone(),
            row.last_seen.map(local).unwrap_or_default(),
            revisions.join(","),
            row.on_air.clone().unwrap_or_default(),
            pending.join(","),
            row.disk_free.map(human_bytes).unwrap_or_default(),
            aired,
        ];
        cells.map(|c| if c.is_empty() { "-".to_owned() } else { c })
    });
    loaxa_core::report::table(&header, lines)
}

/// "512 MB", "3.2 GB": enough to tell a box that is filling up.
fn human_bytes(bytes: u64) -> String {
    const MB: f64 = 1e6;
    let bytes = bytes as f64;
    if bytes >= 1000.0 * MB {
        format!("{:.1} GB", bytes / (1000.0 * MB))
    } else {
        format!("{:.0} MB", bytes / MB)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(box_id: &str, state: &str, revisions: &str) -> Vec<u8> {
        format!(r#"{{"v":1,"box_id":"{box_id}","state":"{state}","at":"2026-11-23T08:00:05Z","version":"0.1.0","revisions":{revisions},"disk_free":null,"now_playing":null}}"#).into_bytes()
    }

    fn as_run(seq: u64, program: &str, outcome: &str) -> Vec<u8> {
        format!(r#"{{"v":1,"box_id":"pd-01","seq":{seq},"at":"2026-11-24T05:30:12Z","kind":"as_run","program":"{program}","scheduled":"2026-11-23T22:30:00Z","started":"2026-11-23T22:30:0{seq}Z","ended":null,"outcome":"{outcome}","detail":""}}"#).into_bytes()
    }

    #[test]
    fn malformed_and_foreign_messages_are_skipped_without_hiding_the_others() {
        let mut fleet = Fleet::default();
        fleet.absorb("loaxa/status/pd-01", b"{not json");
        fleet.absorb("loaxa/status/pd-01", &status("pd-02", "online", "{}"));
        fleet.absorb(
            "loaxa/status/pd-01",
            &status("pd-01", "online", r#"{"all":"x"}"#),
        );
        fleet.absorb("loaxa/events/pd-01", b"\xff\xfe");
        fleet.absorb(
            "loaxa/events/pd-01",
            br#"{"v":1,"box_id":"pd-01","kind":"as_run"}"#,
        );
        fleet.absorb("loaxa/status/a/b", &status("a", "online", "{}"));
        fleet.absorb("elsewhere/x", b"");
        fleet.absorb("loaxa/status/pd-03", b"");
        fleet.absorb(
            "loaxa/status/kh-01",
            &status("kh-01", "online", r#"{"all":2}"#),
        );
        let rows = fleet.rows();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].box_id, "kh-01");
        assert_eq!(rows[0].revisions, BTreeMap::from([("all".into(), 2)]));
    }

    #[test]
    fn the_last_will_turns_a_box_offline_but_keeps_the_revisions_already_known() {
        let mut fleet = Fleet::default();
        fleet.absorb(
            "loaxa/status/pd-01",
            &status("pd-01", "online", r#"{"all":3}"#),
        );
        fleet.absorb("loaxa/status/pd-01", &status("pd-01", "offline", "{}"));
        let row = &fleet.rows()[0];
        assert_eq!(row.state, "offline");
        assert_eq!(row.revisions, BTreeMap::from([("all".into(), 3)]));
    }

    #[test]
    fn last_aired_is_the_aired_entry_with_the_highest_seq_in_whatever_order_they_come() {
        let mut fleet = Fleet::default();
        fleet.absorb("loaxa/events/pd-01", &as_run(5, "noon", "aired"));
        fleet.absorb("loaxa/events/pd-01", &as_run(4, "morning", "aired"));
        fleet.absorb("loaxa/events/pd-01", &as_run(6, "evening", "missed"));
        let row = &fleet.rows()[0];
        assert_eq!(row.state, "unknown");
        assert_eq!(row.last_aired.as_deref(), Some("noon"));
        assert_eq!(
            row.last_aired_at,
            Some("2026-11-23T22:30:05Z".parse().unwrap())
        );
        assert_eq!(row.last_seen, Some("2026-11-24T05:30:12Z".parse().unwrap()));
    }
}
