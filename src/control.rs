//! The local control socket: how commune staff steer a running daemon (`loaxa status`, `stop`,
//! `play-now`, `volume`, `today`, `program …`).
//!
//! One JSON request per connection, one JSON reply (the messages are in `protocol`, the wire in
//! `docs/control.md`). The socket file is `0660` and belongs to the
//! `loaxa` group when there is one; on top of that every request's sender is checked by its
//! kernel-reported credentials (`SO_PEERCRED`): root, the daemon's own user, or a member of the
//! `loaxa` group. A village has more people with shell access to the box than people who should
//! be able to make the loudspeakers talk.
//!
//! The daemon is the only writer of its store, so requests are not served here: each accepted
//! connection hands its request to the daemon's loop through a channel and waits for the reply.
//!
//! Connections cost file descriptors, which the daemon also needs to air (audio files, the
//! store, the output): at most `MAX_CONNECTIONS` are served at once, the rest are refused at
//! once with the reason, and a connection that does not send its request within
//! `REQUEST_WAIT` is dropped. A flood of idle clients therefore holds a bounded number of
//! descriptors for a few seconds, and never starves a programme or `loaxa status`.

use std::ffi::CString;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{Semaphore, mpsc, oneshot};

mod protocol;
pub use protocol::*;

/// The group whose members may use the socket.
pub const GROUP: &str = "loaxa";
/// How long a client gets to send its request (and to take its reply), so a stuck one cannot
/// hold a descriptor for ever.
const REQUEST_WAIT: Duration = Duration::from_secs(5);
/// Connections served at once. Far more than staff at one box will ever open, far fewer than
/// the descriptors the daemon has.
const MAX_CONNECTIONS: usize = 64;
/// How long the CLI waits for the daemon's answer: a wedged daemon must not hang the
/// operator's terminal.
const ANSWER_WAIT: Duration = Duration::from_secs(15);
/// Longest request line accepted.
const MAX_REQUEST: usize = 64 * 1024;
/// Refusals and accept failures come in floods: one log line per this interval says how many.
const LOG_EVERY: Duration = Duration::from_secs(10);
/// After a failed accept (out of descriptors, most likely) the connection is still queued and
/// would fail again at once: wait a little instead of spinning.
const ACCEPT_PAUSE: Duration = Duration::from_millis(100);

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
    #[error(
        "{path}: the daemon did not answer within {} s (it may be stuck: see its log)",
        waited.as_secs()
    )]
    NoAnswer { path: PathBuf, waited: Duration },
    #[error("{path}: the daemon closed the connection without a reply")]
    Closed { path: PathBuf },
    #[error("{path}: {source}")]
    Exchange {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: unreadable reply from the daemon: {source}")]
    Reply {
        path: PathBuf,
        source: serde_json::Error,
    },
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
    let limits = Limits {
        connections: MAX_CONNECTIONS,
        request_wait: REQUEST_WAIT,
    };
    match OPEN_FILES.get() {
        Some(Ok(raised)) => tracing::info!(
            path = %path.display(),
            max_connections = limits.connections,
            open_files_limit = raised.now,
            open_files_limit_was = raised.was,
            "control socket open"
        ),
        Some(Err(reason)) => tracing::warn!(
            path = %path.display(),
            max_connections = limits.connections,
            reason = %reason,
            "control socket open; the open-files limit could not be raised"
        ),
        None => tracing::info!(
            path = %path.display(),
            max_connections = limits.connections,
            "control socket open"
        ),
    }
    tokio::spawn(accept_all(listener, pending, limits));
    Ok(requests)
}

#[derive(Debug, Clone, Copy)]
struct Limits {
    connections: usize,
    request_wait: Duration,
}

async fn accept_all(listener: UnixListener, pending: mpsc::Sender<Pending>, limits: Limits) {
    let slots = Arc::new(Semaphore::new(limits.connections));
    let mut refusals = Throttle::new(LOG_EVERY);
    let mut failures = Throttle::new(LOG_EVERY);
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(error) => {
                if let Some(failed) = failures.note(Instant::now()) {
                    tracing::error!(
                        error = %error,
                        failed_since_last_line = failed,
                        "control socket cannot accept connections"
                    );
                }
                tokio::time::sleep(ACCEPT_PAUSE).await;
                continue;
            }
        };
        let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
            refuse_busy(&stream, limits.connections);
            if let Some(refused) = refusals.note(Instant::now()) {
                tracing::warn!(
                    max_connections = limits.connections,
                    refused_since_last_line = refused,
                    "control connections refused: too many open at once"
                );
            }
            continue;
        };
        let pending = pending.clone();
        tokio::spawn(async move {
            if let Err(reason) = serve(stream, pending, limits.request_wait).await {
                tracing::debug!(reason = %reason, "control connection ended");
            }
            drop(slot);
        });
    }
}

/// Tells a client beyond the limit why, without waiting for it: the reply is a few dozen bytes
/// into a fresh socket's buffer, which never blocks. The client reads it even if it finds the
/// connection closed when it writes its request.
fn refuse_busy(stream: &UnixStream, limit: usize) {
    let reply = Reply::Refused(Refusal::Busy { limit });
    match reply_line(&reply) {
        Ok(text) => {
            if let Err(error) = stream.try_write(text.as_bytes()) {
                tracing::debug!(error = %error, "control refusal not delivered");
            }
        }
        Err(reason) => tracing::debug!(reason = %reason, "control refusal not delivered"),
    }
}

/// Counts events and says when one may be logged: the first, then at most one per `every`,
/// carrying how many came since the last line logged.
struct Throttle {
    every: Duration,
    last: Option<Instant>,
    unlogged: u64,
}

impl Throttle {
    fn new(every: Duration) -> Throttle {
        Throttle {
            every,
            last: None,
            unlogged: 0,
        }
    }

    /// Notes one event at `now`; `Some(count)` when it is time for a log line.
    fn note(&mut self, now: Instant) -> Option<u64> {
        self.unlogged += 1;
        if self
            .last
            .is_some_and(|last| now.saturating_duration_since(last) < self.every)
        {
            return None;
        }
        self.last = Some(now);
        Some(std::mem::take(&mut self.unlogged))
    }
}

/// What raising the soft open-files limit came to, for the daemon's start-up line.
#[derive(Debug, Clone, Copy, PartialEq)]
struct OpenFiles {
    was: u64,
    now: u64,
}

static OPEN_FILES: OnceLock<Result<OpenFiles, String>> = OnceLock::new();

/// Raises the soft `RLIMIT_NOFILE` to the hard limit. The default soft limit (1,024) is far
/// below what the system allows a process; the daemon holds audio files, bulletin chunks, the
/// store and connections at once, and running out makes every one of them fail. The outcome
/// is kept for the control socket's start-up line, since logging is not set up this early.
pub fn raise_open_files_limit() {
    // Set once, at start; a second call would find the limit already raised.
    let _ = OPEN_FILES.set(raise_soft_nofile());
}

fn raise_soft_nofile() -> Result<OpenFiles, String> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes one rlimit into the struct it is given.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return Err(format!(
            "cannot read the open-files limit: {}",
            std::io::Error::last_os_error()
        ));
    }
    let was = limit.rlim_cur;
    if limit.rlim_cur < limit.rlim_max {
        limit.rlim_cur = limit.rlim_max;
        // SAFETY: setrlimit reads the struct; a soft limit up to the hard one is always allowed.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) } != 0 {
            return Err(format!(
                "cannot raise the open-files limit from {was} to {}: {}",
                limit.rlim_max,
                std::io::Error::last_os_error()
            ));
        }
    }
    Ok(OpenFiles {
        was,
        now: limit.rlim_cur,
    })
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

async fn serve(
    stream: UnixStream,
    pending: mpsc::Sender<Pending>,
    wait: Duration,
) -> Result<(), String> {
    let credentials = stream.peer_cred().map_err(|e| e.to_string())?;
    let (reader, mut writer) = stream.into_split();
    // Read first, judge after: a client refused before it has written would see a broken pipe
    // instead of the reason.
    let mut bytes = Vec::new();
    let mut reader = BufReader::new(reader.take(MAX_REQUEST as u64));
    tokio::time::timeout(wait, reader.read_until(b'\n', &mut bytes))
        .await
        .map_err(|_| "no request in time".to_owned())?
        .map_err(|e| e.to_string())?;
    // Bytes that are not UTF-8 are refused as malformed, not dropped without a word.
    let line = std::str::from_utf8(&bytes)
        .map_err(|e| format!("not UTF-8 text from byte {}", e.valid_up_to()));
    let reply = match allowed(credentials.uid()) {
        Err(refusal) => {
            tracing::warn!(uid = credentials.uid(), reason = %refusal, "control request refused");
            Reply::Refused(refusal)
        }
        Ok(()) => match line
            .and_then(|line| serde_json::from_str::<Request>(line).map_err(|e| e.to_string()))
        {
            Err(error) => Reply::Refused(Refusal::Malformed { error }),
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
    let text = reply_line(&reply)?;
    tokio::time::timeout(wait, writer.write_all(text.as_bytes()))
        .await
        .map_err(|_| "reply not taken in time".to_owned())?
        .map_err(|e| e.to_string())
}

fn reply_line(reply: &Reply) -> Result<String, String> {
    let mut text = serde_json::to_string(reply).map_err(|e| e.to_string())?;
    text.push('\n');
    Ok(text)
}

/// Root, the daemon's own user, and members of the `loaxa` group may steer the daemon.
fn allowed(uid: u32) -> Result<(), Refusal> {
    // SAFETY: geteuid has no preconditions.
    let own = unsafe { libc::geteuid() };
    if uid == 0 || uid == own {
        return Ok(());
    }
    let Some(gid) = group_id(GROUP) else {
        return Err(Refusal::PermissionDenied {
            uid,
            no_group: true,
        });
    };
    if user_groups(uid).contains(&gid) {
        Ok(())
    } else {
        Err(Refusal::PermissionDenied {
            uid,
            no_group: false,
        })
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
    let exchange = |source| ControlError::Exchange {
        path: path.to_owned(),
        source,
    };
    let stream = UnixStream::connect(path)
        .await
        .map_err(|source| ControlError::Connect {
            path: path.to_owned(),
            source,
        })?;
    let (reader, mut writer) = stream.into_split();
    let mut text = serde_json::to_string(request).map_err(|e| exchange(e.into()))?;
    text.push('\n');
    // A daemon refusing a connection (too many open) writes why and closes without reading:
    // the request then meets a closed socket, but the reason is there to read.
    let sent = writer.write_all(text.as_bytes()).await;
    let mut line = String::new();
    let read = tokio::time::timeout(ANSWER_WAIT, BufReader::new(reader).read_line(&mut line))
        .await
        .map_err(|_| ControlError::NoAnswer {
            path: path.to_owned(),
            waited: ANSWER_WAIT,
        })?;
    match (sent, read) {
        (_, Ok(n)) if n > 0 => serde_json::from_str(&line).map_err(|source| ControlError::Reply {
            path: path.to_owned(),
            source,
        }),
        (Err(e), _) | (Ok(()), Err(e)) => Err(exchange(e)),
        (Ok(()), Ok(_)) => Err(ControlError::Closed {
            path: path.to_owned(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_daemon_that_never_answers_is_reported_rather_than_waited_for() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("control.sock");
        let listener = UnixListener::bind(&path).unwrap();
        // Accepts and reads, but never answers.
        let silent = tokio::spawn(async move {
            let (stream, _) = listener.accept().await.unwrap();
            std::future::pending::<()>().await;
            drop(stream);
        });
        let error = ask(&path, &Request::Status {})
            .await
            .unwrap_err()
            .to_string();
        assert!(error.contains("did not answer within 15 s"), "{error}");
        silent.abort();
    }

    #[tokio::test]
    async fn a_reply_the_cli_cannot_read_is_reported_with_the_field_at_fault() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("control.sock");
        let listener = UnixListener::bind(&path).unwrap();
        let daemon = tokio::spawn(async move {
            let (mut stream, _) = listener.accept().await.unwrap();
            stream
                .write_all(b"{\"ok\":true,\"data\":{\"answer\":\"volume\",\"percent\":4}}\n")
                .await
                .unwrap();
        });
        let error = ask(&path, &Request::Volume { percent: Some(4) })
            .await
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("unreadable reply from the daemon: unknown field `percent`"),
            "{error}"
        );
        daemon.await.unwrap();
    }

    #[tokio::test]
    async fn a_request_that_is_not_utf8_is_refused_as_malformed_not_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("control.sock");
        let listener = UnixListener::bind(&path).unwrap();
        let (pending, _requests) = mpsc::channel::<Pending>(4);
        let limits = Limits {
            connections: 2,
            request_wait: Duration::from_secs(5),
        };
        tokio::spawn(accept_all(listener, pending, limits));
        let mut client = UnixStream::connect(&path).await.unwrap();
        client
            .write_all(b"{\"cmd\":\"st\xffatus\"}\n")
            .await
            .unwrap();
        let mut reply = String::new();
        client.read_to_string(&mut reply).await.unwrap();
        let reply: Reply = serde_json::from_str(&reply).unwrap();
        assert_eq!(
            reply,
            Reply::Refused(Refusal::Malformed {
                error: "not UTF-8 text from byte 10".into()
            })
        );
    }

    #[test]
    fn a_flood_of_refusals_logs_the_first_then_one_line_per_interval_with_the_count() {
        let start = Instant::now();
        let mut throttle = Throttle::new(Duration::from_secs(10));
        assert_eq!(throttle.note(start), Some(1));
        for ms in [1, 500, 9_999] {
            assert_eq!(throttle.note(start + Duration::from_millis(ms)), None);
        }
        assert_eq!(throttle.note(start + Duration::from_secs(10)), Some(4));
        assert_eq!(throttle.note(start + Duration::from_secs(11)), None);
        assert_eq!(throttle.note(start + Duration::from_secs(25)), Some(2));
    }

    #[tokio::test]
    async fn connections_beyond_the_limit_are_refused_at_once_and_silent_ones_are_dropped_in_time()
    {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("control.sock");
        let listener = UnixListener::bind(&path).unwrap();
        let (pending, mut requests) = mpsc::channel::<Pending>(4);
        let limits = Limits {
            connections: 2,
            request_wait: Duration::from_millis(300),
        };
        tokio::spawn(accept_all(listener, pending, limits));
        tokio::spawn(async move {
            while let Some(asked) = requests.recv().await {
                let _ = asked.reply.send(Reply::Done(Answer::Stop {}));
            }
        });

        let mut silent = Vec::new();
        for _ in 0..limits.connections {
            silent.push(UnixStream::connect(&path).await.unwrap());
        }
        let started = Instant::now();
        let refused = ask(&path, &Request::Status {}).await.unwrap();
        assert!(
            matches!(&refused, Reply::Refused(Refusal::Busy { limit: 2 })),
            "{refused:?}"
        );
        assert!(started.elapsed() < limits.request_wait, "refused at once");

        for mut client in silent {
            let mut rest = Vec::new();
            client.read_to_end(&mut rest).await.unwrap();
            assert!(rest.is_empty(), "dropped without a reply");
        }
        assert!(started.elapsed() >= limits.request_wait);
        let answered = ask(&path, &Request::Status {}).await.unwrap();
        assert_eq!(answered, Reply::Done(Answer::Stop {}));
    }

    #[test]
    fn the_open_files_limit_is_raised_from_the_soft_default_to_the_hard_limit() {
        let read = || {
            let mut limit = libc::rlimit {
                rlim_cur: 0,
                rlim_max: 0,
            };
            assert_eq!(
                unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) },
                0
            );
            limit
        };
        let hard = read().rlim_max;
        let soft = hard.min(512);
        let lowered = libc::rlimit {
            rlim_cur: soft,
            rlim_max: hard,
        };
        assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lowered) }, 0);

        let raised = raise_soft_nofile().unwrap();
        assert_eq!(
            raised,
            OpenFiles {
                was: soft,
                now: hard
            }
        );
        assert_eq!(read().rlim_cur, hard);
    }

    #[test]
    fn root_and_the_daemons_own_user_are_allowed() {
        assert!(allowed(0).is_ok());
        assert!(allowed(unsafe { libc::geteuid() }).is_ok());
    }
}
