//! The local control socket: how commune staff steer a running daemon (`loaxa status`, `stop`,
//! `play-now`, `volume`, `today`, `program …`).
//!
//! One JSON request per connection, one JSON reply. The socket file is `0660` and belongs to the
//! `loaxa` group when there is one; on top of that every request's sender is checked by its
//! kernel-reported credentials (`SO_PEERCRED`): root, the daemon's own user, or a member of the
//! `loaxa` group. A village has more people with shell access to the box than people who should
//! be able to make the loudspeakers talk.
//!
//! The daemon is the only writer of its store, so requests are not served here: each accepted
//! connection hands its request to the daemon's loop through a channel and waits for the reply.

use std::ffi::CString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{mpsc, oneshot};

/// The group whose members may use the socket.
pub const GROUP: &str = "loaxa";
/// How long a client gets to send its request, so a stuck one cannot hold a task for ever.
const REQUEST_WAIT: Duration = Duration::from_secs(5);
/// Longest request line accepted.
const MAX_REQUEST: usize = 64 * 1024;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "cmd", rename_all = "snake_case", deny_unknown_fields)]
pub enum Request {
    Status,
    Today,
    Stop,
    Volume {
        percent: u8,
    },
    /// `item` as in a schedule: `bulletin:ID`, `chime` or an audio path.
    PlayNow {
        item: String,
        priority: crate::schedule::Priority,
    },
    /// A local programme as one `[[program]]` table of a schedule file.
    ProgramAdd {
        schedule: String,
    },
    ProgramList,
    ProgramRemove {
        id: String,
    },
    ProgramEnable {
        id: String,
        enabled: bool,
    },
}

/// The daemon's answer: `ok` and either `error` or what was asked for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reply {
    pub ok: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default, skip_serializing_if = "serde_json::Value::is_null")]
    pub data: serde_json::Value,
}

impl Reply {
    pub fn done(data: serde_json::Value) -> Reply {
        Reply {
            ok: true,
            error: None,
            data,
        }
    }

    pub fn refused(error: impl Into<String>) -> Reply {
        Reply {
            ok: false,
            error: Some(error.into()),
            data: serde_json::Value::Null,
        }
    }
}

/// A request waiting for the daemon, with where its reply goes.
pub struct Pending {
    pub request: Request,
    pub reply: oneshot::Sender<Reply>,
}

#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    #[error("{path}: cannot open the control socket: {source}")]
    Bind {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: cannot reach the daemon ({source}); is `loaxa daemon` running?")]
    Connect {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {reason}")]
    Exchange { path: PathBuf, reason: String },
}

/// Opens the socket and serves it in the background; requests come out of the receiver.
pub fn listen(path: &Path) -> Result<mpsc::Receiver<Pending>, ControlError> {
    let bind = |source| ControlError::Bind {
        path: path.to_owned(),
        source,
    };
    // A socket file left by a daemon that died is in the way; a live daemon would answer.
    if std::os::unix::net::UnixStream::connect(path).is_err() {
        let _ = std::fs::remove_file(path);
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(bind)?;
    }
    let listener = UnixListener::bind(path).map_err(bind)?;
    restrict(path).map_err(bind)?;
    let (pending, requests) = mpsc::channel(16);
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let pending = pending.clone();
            tokio::spawn(async move {
                if let Err(reason) = serve(stream, pending).await {
                    tracing::debug!(reason = %reason, "control connection ended");
                }
            });
        }
    });
    Ok(requests)
}

/// `0660`, group `loaxa` if that group exists.
fn restrict(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o660))?;
    if let Some(gid) = group_id(GROUP) {
        std::os::unix::fs::chown(path, None, Some(gid))?;
    }
    Ok(())
}

async fn serve(stream: UnixStream, pending: mpsc::Sender<Pending>) -> Result<(), String> {
    let credentials = stream.peer_cred().map_err(|e| e.to_string())?;
    let (reader, mut writer) = stream.into_split();
    // Read first, judge after: a client refused before it has written would see a broken pipe
    // instead of the reason.
    let mut line = String::new();
    let mut reader = BufReader::new(reader.take(MAX_REQUEST as u64));
    tokio::time::timeout(REQUEST_WAIT, reader.read_line(&mut line))
        .await
        .map_err(|_| "no request in time".to_owned())?
        .map_err(|e| e.to_string())?;
    let reply = match allowed(credentials.uid()) {
        Err(reason) => {
            tracing::warn!(uid = credentials.uid(), reason = %reason, "control request refused");
            Reply::refused(reason)
        }
        Ok(()) => match serde_json::from_str::<Request>(&line) {
            Err(e) => Reply::refused(format!("malformed request: {e}")),
            Ok(request) => {
                let (reply, answer) = oneshot::channel();
                pending
                    .send(Pending { request, reply })
                    .await
                    .map_err(|_| "the daemon is stopping".to_owned())?;
                answer.await.map_err(|_| "no reply".to_owned())?
            }
        },
    };
    let mut text = serde_json::to_string(&reply).map_err(|e| e.to_string())?;
    text.push('\n');
    writer
        .write_all(text.as_bytes())
        .await
        .map_err(|e| e.to_string())
}

/// Root, the daemon's own user, and members of the `loaxa` group may steer the daemon.
fn allowed(uid: u32) -> Result<(), String> {
    // SAFETY: geteuid has no preconditions.
    let own = unsafe { libc::geteuid() };
    if uid == 0 || uid == own {
        return Ok(());
    }
    let Some(gid) = group_id(GROUP) else {
        return Err(format!(
            "permission denied: uid {uid} is not the daemon's user, and there is no `{GROUP}` group"
        ));
    };
    if user_groups(uid).contains(&gid) {
        Ok(())
    } else {
        Err(format!(
            "permission denied: uid {uid} is not in the `{GROUP}` group"
        ))
    }
}

fn group_id(name: &str) -> Option<u32> {
    let name = CString::new(name).ok()?;
    // SAFETY: getgrnam returns null or a pointer to a static entry, read before any other call.
    let entry = unsafe { libc::getgrnam(name.as_ptr()) };
    (!entry.is_null()).then(|| unsafe { (*entry).gr_gid })
}

/// Every group of user `uid` (primary and supplementary).
fn user_groups(uid: u32) -> Vec<u32> {
    // SAFETY: getpwuid returns null or a static entry; its fields are copied out at once.
    let (name, primary) = unsafe {
        let entry = libc::getpwuid(uid);
        if entry.is_null() {
            return Vec::new();
        }
        (
            std::ffi::CStr::from_ptr((*entry).pw_name).to_owned(),
            (*entry).pw_gid,
        )
    };
    let mut groups = vec![0 as libc::gid_t; 64];
    let mut count = groups.len() as libc::c_int;
    // SAFETY: `groups` has room for `count` entries; getgrouplist writes at most that many.
    let found =
        unsafe { libc::getgrouplist(name.as_ptr(), primary, groups.as_mut_ptr(), &mut count) };
    if found < 0 {
        return vec![primary];
    }
    groups.truncate(count.max(0) as usize);
    groups
}

/// Sends one request to the daemon at `path` and returns its reply (the CLI's side).
pub async fn ask(path: &Path, request: &Request) -> Result<Reply, ControlError> {
    let exchange = |reason: String| ControlError::Exchange {
        path: path.to_owned(),
        reason,
    };
    let stream = UnixStream::connect(path)
        .await
        .map_err(|source| ControlError::Connect {
            path: path.to_owned(),
            source,
        })?;
    let (reader, mut writer) = stream.into_split();
    let mut text = serde_json::to_string(request).map_err(|e| exchange(e.to_string()))?;
    text.push('\n');
    writer
        .write_all(text.as_bytes())
        .await
        .map_err(|e| exchange(e.to_string()))?;
    let mut line = String::new();
    BufReader::new(reader)
        .read_line(&mut line)
        .await
        .map_err(|e| exchange(e.to_string()))?;
    serde_json::from_str(&line).map_err(|e| exchange(format!("unreadable reply: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_read_as_the_cli_writes_them_and_unknown_ones_are_refused() {
        let request: Request = serde_json::from_str(
            r#"{"cmd":"play_now","item":"bulletin:bao-lu","priority":"emergency"}"#,
        )
        .unwrap();
        assert_eq!(
            request,
            Request::PlayNow {
                item: "bulletin:bao-lu".into(),
                priority: crate::schedule::Priority::Emergency
            }
        );
        for bad in [
            r#"{"cmd":"reboot"}"#,
            r#"{"cmd":"volume","percent":300}"#,
            r#"{"cmd":"volume"}"#,
            "not json",
        ] {
            assert!(serde_json::from_str::<Request>(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn root_and_the_daemons_own_user_are_allowed() {
        assert!(allowed(0).is_ok());
        assert!(allowed(unsafe { libc::geteuid() }).is_ok());
    }
}
