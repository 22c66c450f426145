//! Bulletin audio on the box: chunks as they arrive, and the finished file.
//!
//! Each chunk is checked against the signed manifest's hash before it is kept, and written to a
//! temporary name, fsynced and renamed, so a power cut leaves either a whole chunk or none. When
//! the last chunk is in, the file is assembled the same way (on a worker: up to 128 MB to copy
//! and hash), its whole hash checked and its audio decoded, to measure its loudness and to check
//! that it lasts what its manifest says; only then does it get its final name, which is the only
//! name the player ever reads. A transfer cut by a disconnect or a reboot resumes from the chunks
//! on disk.
//!
//! Layout under `<state_dir>/bulletins/`: `<sha256>.<codec>` (complete) and
//! `partial/<sha256>/<index>` (chunks of a transfer in progress).

use std::collections::{BTreeSet, HashMap};
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::reason::{Missing, Reason};
use crate::store::{Store, StoreError};
use loaxa_core::protocol::{Manifest, hex_digest, hex_sha256};
use loaxa_core::schedule::{Item, Program};

#[derive(Debug, thiserror::Error)]
pub enum BulletinError {
    #[error("chunk {index} of {id}: {reason}")]
    BadChunk {
        id: String,
        index: usize,
        reason: String,
    },
    #[error("{id}: the assembled file's sha256 does not match the manifest")]
    BadFile { id: String },
    #[error(
        "bulletin {id}: its audio lasts {decoded}, its manifest says {declared}; refused and \
         deleted (a wrong or tampered file, or a wrong manifest)"
    )]
    WrongLength {
        id: String,
        declared: String,
        decoded: String,
    },
    #[error("{path}: {error}")]
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
}

/// What a stored chunk completed.
#[derive(Debug, PartialEq, Eq)]
pub enum Progress {
    /// Still missing these chunks.
    Partial { missing: usize },
    /// This chunk was the last one missing: the file is ready to be assembled
    /// ([`Bulletins::assembly`]).
    AllChunks,
    /// The file was complete before this chunk came (a broker delivering it again after a
    /// reconnect): nothing to do, nothing to report twice.
    AlreadyComplete,
}

pub struct Bulletins {
    dir: PathBuf,
    /// Indices of the chunks on disk of each transfer in progress, by the bulletin's sha256.
    /// Read from its partial directory the first time the transfer is looked at, so a restart
    /// resumes from what is on disk, then kept up to date by [`Bulletins::accept`]. Asking the
    /// disk instead costs a stat for each chunk of the bulletin every time one arrives:
    /// quadratic in its size. This is the only writer of those directories; a transfer whose
    /// chunks went missing behind its back is read from disk again when assembling it fails.
    held: HashMap<String, BTreeSet<usize>>,
}

impl Bulletins {
    pub fn new(state_dir: &Path) -> Bulletins {
        Bulletins {
            dir: state_dir.join("bulletins"),
            held: HashMap::new(),
        }
    }

    /// Where the complete file of `manifest` lives (whether or not it is there yet).
    pub fn file(&self, manifest: &Manifest) -> PathBuf {
        let codec: String = manifest
            .codec
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .collect();
        self.dir.join(format!(
            "{}.{}",
            manifest.sha256,
            if codec.is_empty() { "audio" } else { &codec }
        ))
    }

    pub fn is_complete(&self, manifest: &Manifest) -> bool {
        self.file(manifest).is_file()
    }

    /// The bulletin audio on disk: complete files (and ones a power cut left half written) and
    /// the chunk directories of transfers, each by the sha256 its name starts with.
    pub fn on_disk(&self) -> Vec<super::sweep::OnDisk> {
        let listed = |dir: &Path| -> Vec<(String, PathBuf)> {
            let Ok(entries) = std::fs::read_dir(dir) else {
                return Vec::new(); // none yet
            };
            entries
                .filter_map(Result::ok)
                .filter_map(|entry| {
                    let name = entry.file_name().into_string().ok()?;
                    let sha = name.split('.').next()?;
                    let is_sha = sha.len() == 64 && sha.bytes().all(|b| b.is_ascii_hexdigit());
                    is_sha.then(|| (sha.to_owned(), entry.path()))
                })
                .collect()
        };
        let files = listed(&self.dir).into_iter().filter(|(_, p)| p.is_file());
        let partial = listed(&self.dir.join("partial")).into_iter();
        files
            .chain(partial)
            .map(|(sha256, path)| super::sweep::OnDisk { sha256, path })
            .collect()
    }

    fn partial(&self, manifest: &Manifest) -> PathBuf {
        self.dir.join("partial").join(&manifest.sha256)
    }

    /// Indices of the chunks not yet on disk, in order (none once complete).
    pub fn missing(&mut self, manifest: &Manifest) -> Vec<usize> {
        if self.is_complete(manifest) {
            self.held.remove(&manifest.sha256);
            return Vec::new();
        }
        let held = self.held(manifest);
        (0..manifest.chunks.len())
            .filter(|i| !held.contains(i))
            .collect()
    }

    /// The chunks of `manifest`'s transfer on disk, read from its partial directory the first
    /// time.
    fn held(&mut self, manifest: &Manifest) -> &mut BTreeSet<usize> {
        let partial = self.partial(manifest);
        self.held
            .entry(manifest.sha256.clone())
            .or_insert_with(|| chunks_on_disk(&partial))
    }

    /// Checks and stores chunk `index`; assembles the file when it was the last one missing.
    pub fn accept(
        &mut self,
        manifest: &Manifest,
        index: usize,
        bytes: &[u8],
    ) -> Result<Progress, BulletinError> {
        let bad = |reason: String| BulletinError::BadChunk {
            id: manifest.id.clone(),
            index,
            reason,
        };
        let Some(expected) = manifest.chunks.get(index) else {
            return Err(bad(format!(
                "the manifest has only {} chunks",
                manifest.chunks.len()
            )));
        };
        if bytes.len() != manifest.chunk_len(index) {
            return Err(bad(format!(
                "{} bytes, expected {}",
                bytes.len(),
                manifest.chunk_len(index)
            )));
        }
        if hex_sha256(bytes) != *expected {
            return Err(bad("sha256 does not match the manifest".into()));
        }
        if self.is_complete(manifest) {
            return Ok(Progress::AlreadyComplete);
        }
        write_durably(&self.partial(manifest).join(index.to_string()), &[bytes])?;
        let held = self.held(manifest);
        held.insert(index);
        let missing = (0..manifest.chunks.len())
            .filter(|i| !held.contains(i))
            .count();
        if missing > 0 {
            return Ok(Progress::Partial { missing });
        }
        Ok(Progress::AllChunks)
    }

    /// The work of putting `manifest`'s file together from its chunks (all on disk), to run on
    /// a worker with [`Assembly::run`].
    pub fn assembly(&self, manifest: &Manifest) -> Assembly {
        Assembly {
            manifest: manifest.clone(),
            partial: self.partial(manifest),
            file: self.file(manifest),
        }
    }

    /// An assembly came back: whatever it did, the partial directory is not what `held`
    /// remembers any more (gone, or to be believed from the disk).
    pub fn assembled(&mut self, manifest: &Manifest) {
        self.held.remove(&manifest.sha256);
    }
}

/// Putting one bulletin's file together, off the daemon's loop.
pub struct Assembly {
    manifest: Manifest,
    partial: PathBuf,
    file: PathBuf,
}

/// What became of an [`Assembly`].
#[derive(Debug)]
pub struct Checked {
    pub manifest: Manifest,
    /// The file, complete and hash-checked, and its measurement.
    pub outcome: Result<crate::levels::Measured, BulletinError>,
}

impl Assembly {
    /// The stand-in answer for an assembly that crashed.
    pub fn crashed(&self) -> Checked {
        Checked {
            manifest: self.manifest.clone(),
            outcome: Err(BulletinError::Io {
                path: self.file.clone(),
                error: std::io::Error::other("assembling the file crashed"),
            }),
        }
    }

    /// Copies the chunks into one file (never more than a chunk in memory), checks its sha256,
    /// decodes it, and gives it its final name if it lasts what the manifest says.
    pub fn run(self) -> Checked {
        let outcome = self.put_together();
        Checked {
            manifest: self.manifest,
            outcome,
        }
    }

    fn put_together(&self) -> Result<crate::levels::Measured, BulletinError> {
        let manifest = &self.manifest;
        let io = |path: &Path| {
            let path = path.to_owned();
            move |error| BulletinError::Io { path, error }
        };
        // Beside the chunks until checked; decoders read the codec from the name's extension.
        let candidate = self.partial.join(self.file.file_name().unwrap_or_default());
        let mut out = File::create(&candidate).map_err(io(&candidate))?;
        let mut hasher = Sha256::new();
        for index in 0..manifest.chunks.len() {
            let path = self.partial.join(index.to_string());
            let chunk = std::fs::read(&path).map_err(io(&path))?;
            hasher.update(&chunk);
            if let Err(error) = out.write_all(&chunk) {
                drop(out);
                // A full disk must not keep half a file: the space goes back at once.
                let _ = std::fs::remove_file(&candidate);
                return Err(io(&candidate)(error));
            }
        }
        out.sync_all().map_err(io(&candidate))?;
        drop(out);
        if hex_digest(&hasher.finalize()) != manifest.sha256 {
            // A chunk on disk went bad since it was checked: start that transfer over.
            let _ = std::fs::remove_dir_all(&self.partial);
            return Err(BulletinError::BadFile {
                id: manifest.id.clone(),
            });
        }
        let declared = std::time::Duration::from_millis(manifest.duration_ms);
        let measured = crate::levels::measure(&candidate, Some(longest_plausible(declared)));
        if let Ok((_, length)) = &measured.result
            && let Some(decoded) = disagrees(declared, *length)
        {
            let _ = std::fs::remove_dir_all(&self.partial);
            return Err(BulletinError::WrongLength {
                id: manifest.id.clone(),
                declared: said(declared),
                decoded,
            });
        }
        std::fs::rename(&candidate, &self.file).map_err(io(&self.file))?;
        let dir = self.file.parent().unwrap_or(Path::new("."));
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(io(dir))?;
        let _ = std::fs::remove_dir_all(&self.partial);
        // Renaming kept the size and modification time the measurement was made for.
        Ok(crate::levels::Measured {
            path: self.file.clone(),
            ..measured
        })
    }
}

/// Past this much decoded audio, a bulletin declared to last `declared` is too long whatever
/// follows (see [`disagrees`]), so decoding can stop.
pub fn longest_plausible(declared: std::time::Duration) -> std::time::Duration {
    declared + (declared / 10).max(LENGTH_SLACK)
}

/// Lengths closer than this always agree: encoders and decoders differ by a few frames of
/// padding, and a short bulletin's 10 % is well under a second.
const LENGTH_SLACK: std::time::Duration = std::time::Duration::from_secs(2);

/// The decoded length, said for people, if it is too far from the declared one to be the same
/// recording: more than 10 % and more than two seconds apart.
fn disagrees(declared: std::time::Duration, decoded: crate::levels::Length) -> Option<String> {
    use crate::levels::Length;
    let (length, told) = match decoded {
        Length::Exactly(length) => (length, said(length)),
        Length::MoreThan(length) => (length, format!("more than {}", said(length))),
    };
    let apart = declared.abs_diff(length);
    (apart > declared / 10 && apart > LENGTH_SLACK).then_some(told)
}

fn said(length: std::time::Duration) -> String {
    crate::reason::describe(chrono::Duration::from_std(length).unwrap_or(chrono::Duration::MAX))
}

/// Indices of the whole chunks in a partial directory: files named by their index (`write_durably`
/// gives a chunk that name only once it is whole; a `.tmp` left by a power cut is not one).
fn chunks_on_disk(partial: &Path) -> BTreeSet<usize> {
    let Ok(entries) = std::fs::read_dir(partial) else {
        return BTreeSet::new(); // no chunk yet
    };
    entries
        .filter_map(Result::ok)
        .filter(|entry| entry.path().is_file())
        .filter_map(|entry| {
            let name = entry.file_name().into_string().ok()?;
            let index: usize = name.parse().ok()?;
            // Only the name this module writes: "7", not "07" or "+7".
            (index.to_string() == name).then_some(index)
        })
        .collect()
}

/// The manifests the box holds.
pub fn stored_manifests(store: &Store) -> Result<Vec<Manifest>, StoreError> {
    Ok(store
        .manifests()?
        .iter()
        .filter_map(|json| Manifest::from_stored(json).ok())
        .collect())
}

/// A programme as it can air now, and what it names that is not there.
#[derive(Debug, Clone)]
pub struct Resolved {
    /// The items that can air: each complete, still valid `bulletin:ID` turned into its file.
    pub program: Arc<Program>,
    /// Each item left out, and why it cannot air, in the programme's order.
    pub missing: Vec<(Item, Missing)>,
}

impl Resolved {
    /// Whether anything but chimes is left: a programme with nothing to say never sounds its
    /// chime or attention tone.
    pub fn has_content(&self) -> bool {
        self.program.items.iter().any(is_content)
    }

    /// The as-run reason naming what is missing, if anything is.
    pub fn missing_reason(&self) -> Option<Reason> {
        (!self.missing.is_empty()).then(|| Reason::ContentMissing {
            missing: self.missing.iter().map(|(_, why)| why.clone()).collect(),
        })
    }
}

/// The programme with each `bulletin:ID` item that is complete and still valid turned into its
/// file, and the items that cannot air (a bulletin not held, not whole or expired, an audio
/// file gone) left out with the reason. Once something is left out, a chime no longer followed
/// by anything to air goes too: the attention tone must not sound for nothing. A relay's
/// fallback is resolved but not pruned: it airs only if the stream fails, and the player says
/// then what it could not air.
pub fn resolve(
    program: &Arc<Program>,
    held: &Held,
    bulletins: &Bulletins,
    now: DateTime<Utc>,
) -> Resolved {
    let lookup = |item: &Item| match item {
        Item::Bulletin { id } => Some(resolve_bulletin(id, held, bulletins, now)),
        Item::File { name, path, .. } if !path.is_file() => Some(Err(Missing::FileGone {
            name: name.clone(),
            path: path.display().to_string(),
        })),
        _ => None,
    };
    let (items, missing) = prune(&program.items, &lookup);
    if items == program.items {
        return Resolved {
            program: Arc::clone(program),
            missing,
        };
    }
    Resolved {
        program: Arc::new(Program {
            items,
            ..(**program).clone()
        }),
        missing,
    }
}

/// `items` with what `lookup` resolves replaced (`Ok`) or left out (`Err`, the reason kept),
/// and then, if anything was left out, the chimes with nothing to air after them.
fn prune(
    items: &[Item],
    lookup: &dyn Fn(&Item) -> Option<Result<Item, Missing>>,
) -> (Vec<Item>, Vec<(Item, Missing)>) {
    let mut kept = Vec::with_capacity(items.len());
    let mut missing = Vec::new();
    for item in items {
        match (lookup(item), item) {
            (Some(Ok(resolved)), _) => kept.push(resolved),
            (Some(Err(why)), _) => missing.push((item.clone(), why)),
            (
                None,
                Item::Relay {
                    url,
                    duration,
                    fallback,
                },
            ) => kept.push(Item::Relay {
                url: url.clone(),
                duration: *duration,
                fallback: fallback
                    .iter()
                    .map(|item| match lookup(item) {
                        Some(Ok(resolved)) => resolved,
                        _ => item.clone(),
                    })
                    .collect(),
            }),
            (None, _) => kept.push(item.clone()),
        }
    }
    if !missing.is_empty() {
        let mut content_after = false;
        let mut pruned: Vec<Item> = kept
            .into_iter()
            .rev()
            .filter(|item| {
                content_after |= is_content(item);
                content_after || *item != Item::Chime
            })
            .collect();
        pruned.reverse();
        kept = pruned;
    }
    (kept, missing)
}

fn is_content(item: &Item) -> bool {
    !matches!(item, Item::Chime)
}

/// The manifests a box holds, and those whose audio it deleted (to say why a bulletin is gone).
#[derive(Debug, Default)]
pub struct Held {
    pub manifests: Vec<Manifest>,
    /// Taken out of the store as unused or expired, newest knowledge of each audio.
    pub retired: Vec<Manifest>,
}

impl Held {
    pub fn read(store: &Store) -> Result<Held, StoreError> {
        Ok(Held {
            manifests: stored_manifests(store)?,
            retired: store
                .retired_manifests()?
                .iter()
                .filter_map(|json| Manifest::from_stored(json).ok())
                .collect(),
        })
    }
}

/// A bulletin's file if the box holds it whole and it has not expired; otherwise why not.
fn resolve_bulletin(
    id: &str,
    held: &Held,
    bulletins: &Bulletins,
    now: DateTime<Utc>,
) -> Result<Item, Missing> {
    let bulletin = id.to_owned();
    let Some(manifest) = held.manifests.iter().find(|m| m.id == id) else {
        let retired = held.retired.iter().find(|m| m.id == id);
        return Err(match retired {
            Some(m) if m.valid_until.is_some_and(|until| until < now) => Missing::Expired {
                bulletin,
                at: m.valid_until,
                deleted: true,
            },
            Some(_) => Missing::DeletedUnused { bulletin },
            None => Missing::NotHeld { bulletin },
        });
    };
    if let Some(until) = manifest.valid_until.filter(|until| *until < now) {
        return Err(Missing::Expired {
            bulletin,
            at: Some(until),
            deleted: false,
        });
    }
    if !bulletins.is_complete(manifest) {
        return Err(Missing::NotArrived {
            bulletin,
            held: chunks_on_disk(&bulletins.partial(manifest)).len(),
            chunks: manifest.chunks.len(),
        });
    }
    // The box's own bulletin store: not a schedule's file, nothing to confine.
    Ok(Item::File {
        name: format!("{}{id}", loaxa_core::schedule::BULLETIN_PREFIX),
        path: bulletins.file(manifest),
        within: None,
    })
}

/// Writes `parts` to `path` through a temporary file: fsync, rename, fsync the directory.
fn write_durably(path: &Path, parts: &[&[u8]]) -> Result<(), BulletinError> {
    let io = |path: &Path| {
        let path = path.to_owned();
        move |error| BulletinError::Io { path, error }
    };
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let mut temporary = path.as_os_str().to_owned();
    temporary.push(".tmp");
    let temporary = PathBuf::from(temporary);
    let written = File::create(&temporary).and_then(|mut file| {
        for part in parts {
            file.write_all(part)?;
        }
        file.sync_all()
    });
    if let Err(error) = written {
        // A full disk must not keep half a file: the space goes back at once.
        let _ = std::fs::remove_file(&temporary);
        return Err(io(&temporary)(error));
    }
    std::fs::rename(&temporary, path).map_err(io(path))?;
    File::open(dir).and_then(|d| d.sync_all()).map_err(io(dir))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest_of(data: &[u8], chunk_size: usize) -> Manifest {
        Manifest {
            scope: "all".parse().unwrap(),
            id: "b".into(),
            issued_at: DateTime::UNIX_EPOCH,
            title: "b".into(),
            sha256: hex_sha256(data),
            size: data.len() as u64,
            duration_ms: 1,
            codec: "mp3".into(),
            chunk_size,
            chunks: data.chunks(chunk_size).map(hex_sha256).collect(),
            valid_until: None,
            approver: "a".into(),
            loudness_lufs: None,
        }
    }

    /// What the remote does with [`Progress::AllChunks`], done here and now.
    fn assemble(bulletins: &mut Bulletins, manifest: &Manifest) -> Result<PathBuf, BulletinError> {
        let checked = bulletins.assembly(manifest).run();
        bulletins.assembled(manifest);
        checked.outcome.map(|measured| measured.path)
    }

    /// A manifest of a real recording in the repository, saying it lasts `duration_ms`.
    fn recording(duration_ms: u64) -> (Vec<u8>, Manifest) {
        let data =
            std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("audio/tiem-chung.mp3"))
                .unwrap();
        let manifest = Manifest {
            duration_ms,
            ..manifest_of(&data, 65536)
        };
        (data, manifest)
    }

    fn accept_all(bulletins: &mut Bulletins, manifest: &Manifest, data: &[u8]) {
        for (index, chunk) in data.chunks(manifest.chunk_size).enumerate() {
            bulletins.accept(manifest, index, chunk).unwrap();
        }
    }

    #[test]
    fn a_bulletin_as_long_as_its_manifest_says_gets_its_name_and_its_loudness() {
        let dir = tempfile::tempdir().unwrap();
        let mut bulletins = Bulletins::new(dir.path());
        // The recording lasts about 11.3 s; a declared 10.5 s is within 10 %.
        let (data, manifest) = recording(10_500);
        accept_all(&mut bulletins, &manifest, &data);
        assert!(
            !bulletins.is_complete(&manifest),
            "not airable before it is checked"
        );
        let checked = bulletins.assembly(&manifest).run();
        let measured = checked.outcome.unwrap();
        assert_eq!(measured.path, bulletins.file(&manifest));
        assert_eq!(std::fs::read(&measured.path).unwrap(), data);
        assert_eq!(
            measured.fingerprint,
            crate::levels::Fingerprint::of(&measured.path)
        );
        let (loudness, _) = measured.result.unwrap();
        assert!(loudness.integrated_lufs.is_some());
        assert!(!bulletins.partial(&manifest).exists());
    }

    #[test]
    fn a_bulletin_far_longer_than_its_manifest_says_is_refused_and_deleted() {
        let dir = tempfile::tempdir().unwrap();
        let mut bulletins = Bulletins::new(dir.path());
        let (data, manifest) = recording(1_000);
        accept_all(&mut bulletins, &manifest, &data);
        let err = assemble(&mut bulletins, &manifest).unwrap_err();
        // Decoding stopped at 3 s (1 s declared + 2 s), not at the end of its 11 s.
        assert_eq!(
            err.to_string(),
            "bulletin b: its audio lasts more than 3.0 s, its manifest says 1.0 s; refused and \
             deleted (a wrong or tampered file, or a wrong manifest)"
        );
        assert!(!bulletins.is_complete(&manifest));
        assert!(!bulletins.partial(&manifest).exists());
    }

    #[test]
    fn a_bulletin_far_shorter_than_its_manifest_says_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let mut bulletins = Bulletins::new(dir.path());
        let (data, manifest) = recording(3_600_000);
        accept_all(&mut bulletins, &manifest, &data);
        let err = assemble(&mut bulletins, &manifest).unwrap_err();
        assert!(
            err.to_string()
                .contains("its audio lasts 11 s, its manifest says 60 min"),
            "{err}"
        );
    }

    #[test]
    fn lengths_agree_within_ten_percent_or_two_seconds() {
        use crate::levels::Length::{Exactly, MoreThan};
        let s = std::time::Duration::from_secs;
        let ms = std::time::Duration::from_millis;
        assert_eq!(
            disagrees(s(1), Exactly(ms(2900))),
            None,
            "2 s apart at most"
        );
        assert!(disagrees(s(1), Exactly(ms(3100))).is_some());
        assert_eq!(disagrees(s(100), Exactly(s(109))), None, "10 % at most");
        assert!(disagrees(s(100), Exactly(s(111))).is_some());
        assert!(
            disagrees(s(100), Exactly(s(89))).is_some(),
            "shorter counts too"
        );
        assert_eq!(
            disagrees(s(1), MoreThan(ms(3050))).as_deref(),
            Some("more than 3.0 s")
        );
        assert_eq!(longest_plausible(s(1)), s(3));
        assert_eq!(longest_plausible(s(3600)), s(3960));
    }

    #[test]
    fn chunks_in_any_order_make_the_file_once_the_last_arrives() {
        let dir = tempfile::tempdir().unwrap();
        let mut bulletins = Bulletins::new(dir.path());
        let data: Vec<u8> = (0..2500u32).map(|i| (i * 7) as u8).collect();
        let manifest = manifest_of(&data, 1000);
        assert_eq!(bulletins.missing(&manifest), [0, 1, 2]);
        assert_eq!(
            bulletins.accept(&manifest, 2, &data[2000..]).unwrap(),
            Progress::Partial { missing: 2 }
        );
        assert_eq!(
            bulletins.accept(&manifest, 0, &data[..1000]).unwrap(),
            Progress::Partial { missing: 1 }
        );
        // A restart: the chunks on disk count.
        let mut bulletins = Bulletins::new(dir.path());
        assert_eq!(bulletins.missing(&manifest), [1]);
        let done = bulletins.accept(&manifest, 1, &data[1000..2000]).unwrap();
        assert_eq!(done, Progress::AllChunks);
        let file = assemble(&mut bulletins, &manifest).unwrap();
        assert_eq!(file, bulletins.file(&manifest));
        assert_eq!(std::fs::read(bulletins.file(&manifest)).unwrap(), data);
        assert!(bulletins.missing(&manifest).is_empty());
        // The broker delivering a chunk again completes nothing a second time.
        assert_eq!(
            bulletins.accept(&manifest, 0, &data[..1000]).unwrap(),
            Progress::AlreadyComplete
        );
    }

    #[test]
    fn chunks_left_whole_by_a_box_killed_before_assembly_still_make_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let mut bulletins = Bulletins::new(dir.path());
        let data: Vec<u8> = (0..2000u32).map(|i| (i * 3) as u8).collect();
        let manifest = manifest_of(&data, 1000);
        let partial = bulletins.partial(&manifest);
        std::fs::create_dir_all(&partial).unwrap();
        std::fs::write(partial.join("0"), &data[..1000]).unwrap();
        std::fs::write(partial.join("1"), &data[1000..]).unwrap();
        assert!(bulletins.missing(&manifest).is_empty());
        assert!(!bulletins.is_complete(&manifest));
        let file = assemble(&mut bulletins, &manifest).unwrap();
        assert_eq!(std::fs::read(file).unwrap(), data);
        assert!(!partial.exists());
    }

    #[test]
    fn a_chunk_that_does_not_match_its_hash_or_length_is_refused_and_not_kept() {
        let dir = tempfile::tempdir().unwrap();
        let mut bulletins = Bulletins::new(dir.path());
        let data = vec![1u8; 2000];
        let manifest = manifest_of(&data, 1000);
        let err = bulletins.accept(&manifest, 0, &[2u8; 1000]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "chunk 0 of b: sha256 does not match the manifest"
        );
        let err = bulletins.accept(&manifest, 1, &[1u8; 999]).unwrap_err();
        assert_eq!(err.to_string(), "chunk 1 of b: 999 bytes, expected 1000");
        assert!(bulletins.accept(&manifest, 7, &[]).is_err());
        assert_eq!(bulletins.missing(&manifest), [0, 1]);
    }

    #[test]
    fn after_a_restart_only_whole_chunks_count_as_held() {
        let dir = tempfile::tempdir().unwrap();
        let data: Vec<u8> = (0..5000u32).map(|i| (i * 3) as u8).collect();
        let manifest = manifest_of(&data, 1000);
        let mut bulletins = Bulletins::new(dir.path());
        bulletins.accept(&manifest, 1, &data[1000..2000]).unwrap();
        bulletins.accept(&manifest, 3, &data[3000..4000]).unwrap();
        // What a power cut or a stray hand may leave beside them: a chunk being written, a
        // name this module never gives a chunk, a directory.
        let partial = bulletins.partial(&manifest);
        std::fs::write(partial.join("0.tmp"), &data[..1000]).unwrap();
        std::fs::write(partial.join("02"), &data[2000..3000]).unwrap();
        std::fs::create_dir(partial.join("4")).unwrap();
        assert_eq!(chunks_on_disk(&partial), BTreeSet::from([1, 3]));

        let mut bulletins = Bulletins::new(dir.path());
        assert_eq!(bulletins.missing(&manifest), [0, 2, 4]);
        assert_eq!(
            bulletins.accept(&manifest, 0, &data[..1000]).unwrap(),
            Progress::Partial { missing: 2 }
        );
        assert_eq!(bulletins.missing(&manifest), [2, 4]);
    }

    #[test]
    fn chunks_lost_behind_its_back_are_read_from_disk_again_when_assembly_fails() {
        let dir = tempfile::tempdir().unwrap();
        let data = vec![5u8; 3000];
        let manifest = manifest_of(&data, 1000);
        let mut bulletins = Bulletins::new(dir.path());
        bulletins.accept(&manifest, 0, &data[..1000]).unwrap();
        bulletins.accept(&manifest, 1, &data[1000..2000]).unwrap();
        std::fs::remove_file(bulletins.partial(&manifest).join("0")).unwrap();
        // Believed held until the file is assembled...
        assert_eq!(bulletins.missing(&manifest), [2]);
        let done = bulletins.accept(&manifest, 2, &data[2000..]).unwrap();
        assert_eq!(done, Progress::AllChunks);
        let err = assemble(&mut bulletins, &manifest).unwrap_err();
        assert!(matches!(err, BulletinError::Io { .. }), "{err}");
        // ...then the disk is asked again, and the transfer can finish.
        assert_eq!(bulletins.missing(&manifest), [0]);
        let done = bulletins.accept(&manifest, 0, &data[..1000]).unwrap();
        assert_eq!(done, Progress::AllChunks);
        assemble(&mut bulletins, &manifest).unwrap();
        assert_eq!(std::fs::read(bulletins.file(&manifest)).unwrap(), data);
    }

    fn programme(items: Vec<Item>) -> Arc<Program> {
        Arc::new(Program::immediate(
            "p",
            "p",
            items,
            loaxa_core::schedule::Priority::Emergency,
            loaxa_core::schedule::DEFAULT_TIMEZONE,
            "t",
        ))
    }

    fn bulletin(id: &str) -> Item {
        Item::Bulletin { id: id.into() }
    }

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    #[test]
    fn a_bulletin_not_held_leaves_nothing_to_air_not_even_its_chime() {
        let dir = tempfile::tempdir().unwrap();
        let bulletins = Bulletins::new(dir.path());
        let program = programme(vec![Item::Chime, bulletin("bao-lu")]);
        let resolved = resolve(
            &program,
            &Held::default(),
            &bulletins,
            at("2026-11-24T03:00:00Z"),
        );
        assert!(resolved.program.items.is_empty());
        assert!(!resolved.has_content());
        assert_eq!(
            resolved.missing_reason().unwrap().to_string(),
            "content missing: bulletin bao-lu is not held (no manifest for it reached this box)"
        );
    }

    #[test]
    fn a_programme_missing_some_items_airs_the_rest_with_only_the_chimes_before_content() {
        let dir = tempfile::tempdir().unwrap();
        let mut bulletins = Bulletins::new(dir.path());
        let data = vec![9u8; 1500];
        let mut whole = manifest_of(&data, 1000);
        whole.id = "whole".into();
        bulletins.accept(&whole, 0, &data[..1000]).unwrap();
        bulletins.accept(&whole, 1, &data[1000..]).unwrap();
        assert!(bulletins.assembly(&whole).run().outcome.is_ok());
        let mut partial = manifest_of(&[4u8; 3000], 1000);
        partial.id = "partial".into();
        bulletins.accept(&partial, 2, &[4u8; 1000]).unwrap();
        let gone = Item::File {
            name: "audio/gone.mp3".into(),
            path: dir.path().join("gone.mp3"),
            within: None,
        };
        let program = programme(vec![
            Item::Chime,
            bulletin("partial"),
            Item::Chime,
            bulletin("whole"),
            Item::Chime,
            gone,
        ]);
        let held = Held {
            manifests: vec![whole.clone(), partial],
            retired: vec![],
        };
        let resolved = resolve(&program, &held, &bulletins, at("2026-11-24T03:00:00Z"));
        assert_eq!(
            resolved.program.items,
            [
                Item::Chime,
                Item::Chime,
                Item::File {
                    name: "bulletin:whole".into(),
                    path: bulletins.file(&whole),
                    within: None,
                }
            ]
        );
        assert!(resolved.has_content());
        assert_eq!(
            resolved.missing_reason().unwrap().to_string(),
            format!(
                "content missing: bulletin partial has not fully arrived (1 of 3 chunks held); \
                 audio file audio/gone.mp3 is gone ({})",
                dir.path().join("gone.mp3").display()
            )
        );
    }

    #[test]
    fn an_expired_bulletin_is_said_to_be_expired() {
        let dir = tempfile::tempdir().unwrap();
        let mut bulletins = Bulletins::new(dir.path());
        let data = vec![3u8; 100];
        let mut manifest = manifest_of(&data, 1000);
        manifest.valid_until = Some(at("2026-11-24T00:00:00Z"));
        bulletins.accept(&manifest, 0, &data).unwrap();
        assert!(bulletins.assembly(&manifest).run().outcome.is_ok());
        let program = programme(vec![Item::Chime, bulletin("b")]);
        let mut held = Held {
            manifests: vec![manifest],
            retired: vec![],
        };
        let before = resolve(&program, &held, &bulletins, at("2026-11-23T23:59:59Z"));
        assert!(before.missing.is_empty() && before.has_content());
        let after = resolve(&program, &held, &bulletins, at("2026-11-24T00:00:01Z"));
        assert!(!after.has_content());
        assert_eq!(
            after.missing_reason().unwrap().to_string(),
            "content missing: bulletin b expired at 2026-11-24 00:00:00 UTC"
        );
        // Still said once its audio is deleted and its manifest retired.
        held.retired = std::mem::take(&mut held.manifests);
        let deleted = resolve(&program, &held, &bulletins, at("2026-11-24T00:00:01Z"));
        assert_eq!(
            deleted.missing_reason().unwrap().to_string(),
            "content missing: bulletin b expired at 2026-11-24 00:00:00 UTC (its audio has been \
             deleted)"
        );
    }

    #[test]
    fn a_programme_with_nothing_missing_airs_as_written_even_if_only_a_chime() {
        let dir = tempfile::tempdir().unwrap();
        let bulletins = Bulletins::new(dir.path());
        let program = programme(vec![Item::Chime]);
        let resolved = resolve(
            &program,
            &Held::default(),
            &bulletins,
            at("2026-11-24T03:00:00Z"),
        );
        assert!(Arc::ptr_eq(&resolved.program, &program));
        assert!(resolved.missing.is_empty());
        assert_eq!(resolved.missing_reason(), None);
    }
}
