//! Disk hygiene for bulletin audio: what the box no longer needs leaves its disk.
//!
//! Expired bulletins go at once, even if a schedule still names them (they can never air again).
//! Audio nothing names any more (a replaced bulletin's old file, a bulletin no held schedule or
//! waiting programme names, chunks of a transfer nobody wants) goes once it has stayed unused for
//! the grace period, counted from when this daemon first found it unused (a restart counts
//! again: a box keeps audio longer rather than shorter). A bulletin a programme names is never
//! deleted while valid, however old. Deciding is pure, on a clock passed in; the daemon lists the
//! disk and does the deleting, once per housekeeping tick.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;

use chrono::{DateTime, Duration, Utc};

use loaxa_core::protocol::Manifest;

/// Something of a bulletin's audio on disk: its complete file, a file half written when the
/// power went, or the directory of a transfer's chunks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OnDisk {
    pub sha256: String,
    pub path: PathBuf,
}

/// Audio (by sha256) to delete, with the manifests that leave the store with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Removal {
    pub sha256: String,
    /// Bulletin ids whose manifest for this audio leaves the store (remembered as retired, so
    /// that the same retained manifest delivered again is not fetched again, and a programme
    /// naming it can say why it is gone).
    pub manifests: Vec<String>,
    pub paths: Vec<PathBuf>,
    /// Said in the log.
    pub why: String,
}

pub struct Sweep {
    grace: Duration,
    /// When each piece of audio was first found unused, for as long as it stays unused.
    unused_since: HashMap<String, DateTime<Utc>>,
}

impl Sweep {
    pub fn new(grace: std::time::Duration) -> Sweep {
        Sweep {
            grace: Duration::from_std(grace).unwrap_or(Duration::days(1)),
            unused_since: HashMap::new(),
        }
    }

    /// What to delete now, from what is on disk, the manifests held and the bulletin ids that
    /// programmes name.
    pub fn plan(
        &mut self,
        on_disk: &[OnDisk],
        manifests: &[Manifest],
        named: &BTreeSet<String>,
        now: DateTime<Utc>,
    ) -> Vec<Removal> {
        let mut by_sha: BTreeMap<&str, (Vec<&Manifest>, Vec<PathBuf>)> = BTreeMap::new();
        for manifest in manifests {
            by_sha.entry(&manifest.sha256).or_default().0.push(manifest);
        }
        for item in on_disk {
            by_sha
                .entry(&item.sha256)
                .or_default()
                .1
                .push(item.path.clone());
        }
        let mut removals = Vec::new();
        let mut still_unused = BTreeSet::new();
        for (sha, (held, paths)) in by_sha {
            let (expired, valid): (Vec<&Manifest>, Vec<&Manifest>) = held
                .into_iter()
                .partition(|m| m.valid_until.is_some_and(|until| until < now));
            let removal = |manifests: Vec<&Manifest>, paths, why| Removal {
                sha256: sha.to_owned(),
                manifests: manifests.iter().map(|m| m.id.clone()).collect(),
                paths,
                why,
            };
            if valid.is_empty() && !expired.is_empty() {
                let why = expired
                    .iter()
                    .map(|m| {
                        format!(
                            "bulletin {} expired at {}",
                            m.id,
                            m.valid_until.map_or_else(String::new, describe)
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("; ");
                removals.push(removal(expired, paths, why));
                continue;
            }
            if valid.iter().any(|m| named.contains(&m.id)) {
                if !expired.is_empty() {
                    // The same audio is still wanted under another id: only the manifest goes.
                    let why = format!("{} expired", ids(&expired));
                    removals.push(removal(expired, Vec::new(), why));
                }
                continue;
            }
            still_unused.insert(sha.to_owned());
            let since = *self.unused_since.entry(sha.to_owned()).or_insert(now);
            if now - since < self.grace {
                continue;
            }
            let why = if valid.is_empty() {
                format!(
                    "no manifest names this audio (a replaced bulletin's old file?) since {}",
                    describe(since)
                )
            } else {
                format!(
                    "no schedule or waiting programme names {} since {}",
                    ids(&valid),
                    describe(since)
                )
            };
            let mut gone = valid;
            gone.extend(expired);
            removals.push(removal(gone, paths, why));
        }
        self.unused_since
            .retain(|sha, _| still_unused.contains(sha));
        for removal in &removals {
            self.unused_since.remove(&removal.sha256);
        }
        removals
    }
}

fn ids(manifests: &[&Manifest]) -> String {
    let ids: Vec<String> = manifests
        .iter()
        .map(|m| format!("bulletin {}", m.id))
        .collect();
    ids.join(", ")
}

fn describe(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(id: &str, sha: &str, valid_until: Option<&str>) -> Manifest {
        Manifest {
            scope: "all".parse().unwrap(),
            id: id.into(),
            title: id.into(),
            sha256: sha.into(),
            size: 1,
            duration_ms: 1,
            codec: "mp3".into(),
            chunk_size: 1,
            chunks: vec![sha.into()],
            valid_until: valid_until.map(|t| t.parse().unwrap()),
            approver: "a".into(),
            loudness_lufs: None,
            issued_at: "2026-11-01T00:00:00Z".parse().unwrap(),
        }
    }

    fn file(sha: &str) -> OnDisk {
        OnDisk {
            sha256: sha.into(),
            path: PathBuf::from(format!("/b/{sha}.mp3")),
        }
    }

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    fn named(ids: &[&str]) -> BTreeSet<String> {
        ids.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_replaced_bulletins_old_audio_goes_once_unused_for_the_grace_period() {
        let mut sweep = Sweep::new(std::time::Duration::from_secs(24 * 3600));
        let new = [manifest("tin", "bbbb", None)];
        let disk = [file("aaaa"), file("bbbb")];
        let names = named(&["tin"]);
        assert!(
            sweep
                .plan(&disk, &new, &names, at("2026-11-24T08:00:00Z"))
                .is_empty()
        );
        assert!(
            sweep
                .plan(&disk, &new, &names, at("2026-11-25T07:59:59Z"))
                .is_empty()
        );
        let removals = sweep.plan(&disk, &new, &names, at("2026-11-25T08:00:00Z"));
        assert_eq!(
            removals,
            [Removal {
                sha256: "aaaa".into(),
                manifests: vec![],
                paths: vec![PathBuf::from("/b/aaaa.mp3")],
                why: "no manifest names this audio (a replaced bulletin's old file?) since \
                      2026-11-24 08:00:00 UTC"
                    .into(),
            }]
        );
    }

    #[test]
    fn audio_named_again_within_the_grace_period_starts_its_count_afresh() {
        let mut sweep = Sweep::new(std::time::Duration::from_secs(3600));
        let held = [manifest("tin", "aaaa", None)];
        let disk = [file("aaaa")];
        sweep.plan(&disk, &held, &named(&[]), at("2026-11-24T08:00:00Z"));
        sweep.plan(&disk, &held, &named(&["tin"]), at("2026-11-24T08:30:00Z"));
        assert!(
            sweep
                .plan(&disk, &held, &named(&[]), at("2026-11-24T09:10:00Z"))
                .is_empty()
        );
        let removals = sweep.plan(&disk, &held, &named(&[]), at("2026-11-24T10:10:00Z"));
        assert_eq!(removals.len(), 1);
        assert_eq!(removals[0].manifests, ["tin"]);
        assert_eq!(
            removals[0].why,
            "no schedule or waiting programme names bulletin tin since 2026-11-24 09:10:00 UTC"
        );
    }

    #[test]
    fn an_expired_bulletin_goes_at_once_even_if_a_schedule_names_it() {
        let mut sweep = Sweep::new(std::time::Duration::from_secs(24 * 3600));
        let held = [manifest("bao", "aaaa", Some("2026-11-24T08:00:00Z"))];
        let disk = [file("aaaa")];
        let names = named(&["bao"]);
        assert!(
            sweep
                .plan(&disk, &held, &names, at("2026-11-24T08:00:00Z"))
                .is_empty()
        );
        let removals = sweep.plan(&disk, &held, &names, at("2026-11-24T08:00:01Z"));
        assert_eq!(
            removals,
            [Removal {
                sha256: "aaaa".into(),
                manifests: vec!["bao".into()],
                paths: vec![PathBuf::from("/b/aaaa.mp3")],
                why: "bulletin bao expired at 2026-11-24 08:00:00 UTC".into(),
            }]
        );
    }

    #[test]
    fn a_named_bulletin_is_never_deleted_however_old() {
        let mut sweep = Sweep::new(std::time::Duration::ZERO);
        let held = [
            manifest("tin", "aaaa", None),
            // The same audio under an expired id: that manifest goes, the file stays.
            manifest("cu", "aaaa", Some("2020-01-01T00:00:00Z")),
        ];
        let disk = [file("aaaa")];
        let removals = sweep.plan(&disk, &held, &named(&["tin"]), at("2036-01-01T00:00:00Z"));
        assert_eq!(removals.len(), 1);
        assert_eq!(removals[0].manifests, ["cu"]);
        assert!(removals[0].paths.is_empty());
    }
}
