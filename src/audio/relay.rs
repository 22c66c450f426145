//! Relaying a live radio stream: the national broadcaster (VOV) at the hours the district fixes,
//! taken from an HTTP/Icecast stream of MP3 or AAC (ADTS).
//!
//! The box reaches the stream over a 3G link, so the stream will drop, stall and come back. This
//! module does one connection at a time and says precisely how it ended ([`RelayError`]): the
//! caller, which knows the slot, decides whether to reconnect. Every wait is bounded by the
//! caller's timeout, because a read that hangs forever would keep the amplifier on over silence
//! until the slot ends.
//!
//! The HTTP client is a minimal HTTP/1.0 one over `std::net`, not a crate: the box is small, a
//! radio stream needs a single GET, and its one peculiarity (SHOUTcast/Icecast metadata woven
//! into the audio bytes, which would be heard as clicks) has to be handled here anyway. No TLS:
//! `https://` is refused for now, with an error saying so.

use std::fmt;
use std::io::{self, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use loaxa_core::address::HttpUrl as Url;

use super::convert::Source;
use loaxa_media::decode::{AudioError, Decoder};

/// Response headers longer than this are not a radio server's.
const MAX_HEAD_BYTES: usize = 16 * 1024;

/// Redirects followed before giving up: load balancers use one, a loop uses all.
const MAX_REDIRECTS: usize = 3;

/// Bytes asked of the socket per read: about a second of a 64 kb/s stream.
const READ_BYTES: usize = 8 * 1024;

/// Why a relay could not start or did not go on. Every message starts with the URL asked for.
#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    /// The URL is not one this relay can fetch.
    #[error("{url}: {reason}")]
    Url { url: String, reason: String },

    /// No connection: the name did not resolve, the port refused, or it took too long.
    #[error("{url}: cannot connect to {host}: {source}")]
    Connect {
        url: String,
        host: String,
        source: io::Error,
    },

    /// The server answered, but not with the stream.
    #[error("{url}: the server refused the stream: {status_line}")]
    Status { url: String, status_line: String },

    /// The server's answer is not one a radio stream can come in.
    #[error("{url}: unusable response: {reason}")]
    Response { url: String, reason: String },

    /// The connection ended, or failed, after `aired` of audio had been handed out.
    #[error("{url}: stream dropped after {} on air: {reason}", Seconds(*aired))]
    Dropped {
        url: String,
        aired: Duration,
        reason: String,
    },

    /// Nothing arrived for `waited`, after `aired` of audio had been handed out.
    #[error("{url}: stream stalled: nothing received for {} (after {} on air)",
        Seconds(*waited), Seconds(*aired))]
    Stalled {
        url: String,
        aired: Duration,
        waited: Duration,
    },

    /// The bytes arrive but are not audio we can decode (the message names the URL).
    #[error(transparent)]
    Undecodable(AudioError),
}

/// A duration as people read it in a log: `2.0 s`.
struct Seconds(Duration);

impl fmt::Display for Seconds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:.1} s", self.0.as_secs_f64())
    }
}

/// Connects to `url` (`http://host[:port]/path`), follows up to three redirects and reads the
/// response headers, all within `timeout`; the returned stream's reads then fail once nothing
/// has arrived for `timeout`. (A timeout of zero counts as one millisecond.)
///
/// Name lookup runs on a helper thread so that it too is bounded: should the system resolver
/// hang, the thread is left to finish on its own.
pub fn connect(url: &str, timeout: Duration) -> Result<Stream, RelayError> {
    let timeout = timeout.max(Duration::from_millis(1));
    let deadline = Instant::now() + timeout;
    let mut target = Url::parse(url).map_err(|reason| RelayError::Url {
        url: url.to_string(),
        reason,
    })?;
    let mut redirects = 0;
    loop {
        let (socket, head, body) = request(url, &target, deadline, timeout)?;
        if let Some(location) = redirect_location(&head) {
            redirects += 1;
            if redirects > MAX_REDIRECTS {
                return Err(RelayError::Response {
                    url: url.to_string(),
                    reason: format!("more than {MAX_REDIRECTS} redirects"),
                });
            }
            target = target
                .join(location)
                .map_err(|reason| RelayError::Response {
                    url: url.to_string(),
                    reason: format!("redirected to {location}: {reason}"),
                })?;
            tracing::info!(url, to = %target, status = %head.status_line, "relay redirected");
            continue;
        }
        return Stream::new(url, &target, socket, head, body, timeout);
    }
}

/// Sends the GET for `target` and reads the response headers; returns the socket, the headers
/// and the body bytes that came with them. Refuses statuses other than 200 and redirects.
fn request(
    url: &str,
    target: &Url,
    deadline: Instant,
    timeout: Duration,
) -> Result<(TcpStream, Head, Vec<u8>), RelayError> {
    let connect_error = |source: io::Error| RelayError::Connect {
        url: url.to_string(),
        host: target.authority(),
        source,
    };
    let stalled = || RelayError::Stalled {
        url: url.to_string(),
        aired: Duration::ZERO,
        waited: timeout,
    };
    let addresses =
        resolve(&target.host, target.port, remaining(deadline)).map_err(&connect_error)?;
    let mut socket = connect_any(&addresses, deadline).map_err(&connect_error)?;
    let request = format!(
        "GET {} HTTP/1.0\r\nHost: {}\r\nUser-Agent: loaxa/{}\r\nAccept: */*\r\n\
         Icy-MetaData: 1\r\nConnection: close\r\n\r\n",
        target.path,
        target.authority(),
        env!("CARGO_PKG_VERSION"),
    );
    socket
        .set_write_timeout(Some(remaining(deadline)))
        .and_then(|()| socket.write_all(request.as_bytes()))
        .map_err(|error| match error.kind() {
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => stalled(),
            _ => connect_error(error),
        })?;

    let mut reader = HeadReader::default();
    let mut buffer = vec![0; READ_BYTES];
    loop {
        let left = remaining(deadline);
        if left.is_zero() {
            return Err(stalled());
        }
        let read = socket
            .set_read_timeout(Some(left))
            .and_then(|()| socket.read(&mut buffer));
        let bytes = match read {
            Ok(0) => {
                return Err(RelayError::Dropped {
                    url: url.to_string(),
                    aired: Duration::ZERO,
                    reason: "the server closed the connection before answering".to_string(),
                });
            }
            Ok(count) => &buffer[..count],
            Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
            Err(error)
                if matches!(
                    error.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                return Err(stalled());
            }
            Err(error) => {
                return Err(RelayError::Dropped {
                    url: url.to_string(),
                    aired: Duration::ZERO,
                    reason: error.to_string(),
                });
            }
        };
        let response_error = |reason| RelayError::Response {
            url: url.to_string(),
            reason,
        };
        if let Some((head, body)) = reader.push(bytes).map_err(response_error)? {
            if head.status == 200 || redirect_location(&head).is_some() {
                return Ok((socket, head, body));
            }
            return Err(RelayError::Status {
                url: url.to_string(),
                status_line: head.status_line,
            });
        }
    }
}

fn remaining(deadline: Instant) -> Duration {
    deadline.saturating_duration_since(Instant::now())
}

/// The addresses of `host`, found within `within`.
fn resolve(host: &str, port: u16, within: Duration) -> io::Result<Vec<SocketAddr>> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, port)]);
    }
    let (sender, receiver) = mpsc::channel();
    let name = host.to_string();
    thread::Builder::new()
        .name("loaxa-resolve".to_string())
        .spawn(move || {
            let found = (name.as_str(), port)
                .to_socket_addrs()
                .map(|addresses| addresses.collect::<Vec<_>>());
            // The receiver is gone if the lookup took too long: nobody to tell.
            let _ = sender.send(found);
        })?;
    match receiver.recv_timeout(within) {
        Ok(Ok(addresses)) if addresses.is_empty() => Err(io::Error::new(
            io::ErrorKind::NotFound,
            "the name has no addresses",
        )),
        Ok(found) => found,
        Err(_) => Err(io::Error::new(
            io::ErrorKind::TimedOut,
            "name lookup timed out",
        )),
    }
}

/// A connection to the first of `addresses` that takes one before `deadline`.
fn connect_any(addresses: &[SocketAddr], deadline: Instant) -> io::Result<TcpStream> {
    let mut last_error = io::Error::new(io::ErrorKind::NotFound, "no address to connect to");
    for address in addresses {
        let left = remaining(deadline);
        if left.is_zero() {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "connection timed out",
            ));
        }
        match TcpStream::connect_timeout(address, left) {
            Ok(socket) => return Ok(socket),
            Err(error) => last_error = error,
        }
    }
    Err(last_error)
}

/// The audio bytes of a radio stream, with the in-band metadata taken out: what a
/// [`Decoder`](super::decode::Decoder) reads. A read fails with [`io::ErrorKind::TimedOut`] once
/// nothing has arrived for the timeout given to [`connect`].
pub struct Stream {
    socket: TcpStream,
    url: String,
    content_type: Option<String>,
    hint: Option<&'static str>,
    demux: IcyDemux,
    timeout: Duration,
    /// Bytes as they came from the socket.
    raw: Vec<u8>,
    /// Audio bytes not handed out yet, from `audio_start` on.
    audio: Vec<u8>,
    audio_start: usize,
    state: Arc<Shared>,
}

/// What a [`Stream`] moved into a decoder still tells its owner.
#[derive(Default)]
struct Shared {
    title: Mutex<Option<String>>,
    ending: Mutex<Option<Ending>>,
}

/// How the bytes stopped.
#[derive(Debug, Clone, PartialEq)]
enum Ending {
    Closed,
    Stalled,
    Failed(String),
}

impl Shared {
    fn title(&self) -> Option<String> {
        self.title
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn ending(&self) -> Option<Ending> {
        self.ending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn end(&self, ending: Ending) {
        self.ending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get_or_insert(ending);
    }
}

impl Stream {
    fn new(
        url: &str,
        target: &Url,
        socket: TcpStream,
        head: Head,
        body: Vec<u8>,
        timeout: Duration,
    ) -> Result<Stream, RelayError> {
        let response_error = |reason: String| RelayError::Response {
            url: url.to_string(),
            reason,
        };
        if head
            .header("transfer-encoding")
            .is_some_and(|coding| !coding.eq_ignore_ascii_case("identity"))
        {
            // We ask for HTTP/1.0, which has no chunks; a server that chunks anyway would have
            // its chunk sizes decoded as audio.
            return Err(response_error("chunked transfer encoding".to_string()));
        }
        let metaint = match head.header("icy-metaint") {
            None => 0,
            Some(value) => value
                .parse::<usize>()
                .map_err(|_| response_error(format!("bad icy-metaint {value:?}")))?,
        };
        let content_type = head.header("content-type").map(str::to_string);
        let hint = format_hint(content_type.as_deref(), &target.path);
        socket
            .set_read_timeout(Some(timeout))
            .map_err(|source| RelayError::Connect {
                url: url.to_string(),
                host: target.authority(),
                source,
            })?;
        tracing::info!(
            url,
            from = %target,
            content_type = content_type.as_deref().unwrap_or("none"),
            metaint,
            name = head.header("icy-name").unwrap_or(""),
            "relay connected"
        );
        let mut stream = Stream {
            socket,
            url: url.to_string(),
            content_type,
            hint,
            demux: IcyDemux::new(metaint),
            timeout,
            raw: vec![0; READ_BYTES],
            audio: Vec::with_capacity(READ_BYTES),
            audio_start: 0,
            state: Arc::default(),
        };
        if let Some(title) = stream.demux.push(&body, &mut stream.audio) {
            stream.announce(title);
        }
        Ok(stream)
    }

    /// The server's Content-Type, if it sent one.
    pub fn content_type(&self) -> Option<&str> {
        self.content_type.as_deref()
    }

    /// The container the stream is in, as [`Decoder::open_stream`] takes it: "mp3", "aac"
    /// (ADTS) or "ogg", from the Content-Type or else the URL's extension.
    pub fn format_hint(&self) -> Option<&'static str> {
        self.hint
    }

    /// The title the station last announced in the stream (`StreamTitle`), if any.
    pub fn title(&self) -> Option<String> {
        self.state.title()
    }

    /// Records the title the station announced, logging it when it changes.
    fn announce(&self, title: String) {
        let mut current = self
            .state
            .title
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let title = Some(title).filter(|title| !title.is_empty());
        if *current != title {
            tracing::info!(url = %self.url, title = title.as_deref().unwrap_or(""), "relay title");
            *current = title;
        }
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.audio_start == self.audio.len() {
            self.audio.clear();
            self.audio_start = 0;
            let count = match self.socket.read(&mut self.raw) {
                Ok(0) => {
                    self.state.end(Ending::Closed);
                    return Ok(0);
                }
                Ok(count) => count,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
                Err(error)
                    if matches!(
                        error.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    self.state.end(Ending::Stalled);
                    return Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        format!("nothing received for {}", Seconds(self.timeout)),
                    ));
                }
                Err(error) => {
                    self.state.end(Ending::Failed(error.to_string()));
                    return Err(error);
                }
            };
            if let Some(title) = self.demux.push(&self.raw[..count], &mut self.audio) {
                self.announce(title);
            }
        }
        let available = &self.audio[self.audio_start..];
        let count = available.len().min(buf.len());
        buf[..count].copy_from_slice(&available[..count]);
        self.audio_start += count;
        Ok(count)
    }
}

/// A relayed stream, decoded and converted to the output format: what the player pulls from
/// for a relay slot, like [`Source`] for a file.
///
/// A live stream has no end of its own, so the end of the bytes is an error
/// ([`RelayError::Dropped`]), as is a stall; the source does not reconnect.
pub struct RelaySource {
    url: String,
    source: Source,
    state: Arc<Shared>,
    timeout: Duration,
    out_rate: u32,
    out_channels: u16,
    /// Output frames handed out: what has aired.
    frames: u64,
    /// Whether the source has reported how it ended.
    ended: bool,
}

impl RelaySource {
    /// Connects to `url` (see [`connect`]) and reads the start of the stream, so a server that
    /// sends something other than audio is refused here.
    pub fn open(
        url: &str,
        timeout: Duration,
        out_rate: u32,
        out_channels: u16,
        gain: f32,
    ) -> Result<RelaySource, RelayError> {
        let stream = connect(url, timeout)?;
        let state = Arc::clone(&stream.state);
        let timeout = stream.timeout;
        let hint = stream.format_hint();
        let source = Decoder::open_stream(Box::new(stream), url, hint)
            .and_then(|decoder| Source::from_decoder(decoder, out_rate, out_channels, gain))
            .map_err(|error| ending(url, &state, Some(error), Duration::ZERO, timeout))?;
        Ok(RelaySource {
            url: url.to_string(),
            source,
            state,
            timeout,
            out_rate,
            out_channels,
            frames: 0,
            ended: false,
        })
    }

    /// Appends at least some converted frames to `out`, like [`Source::fill`]. The stream's
    /// end, a stall or undecodable audio is an error, after which the source is over: the next
    /// calls hand out what the converter still held, then return `Ok(false)`.
    pub fn fill(&mut self, out: &mut Vec<f32>) -> Result<bool, RelayError> {
        let start = out.len();
        let result = self.source.fill(out);
        self.frames += ((out.len() - start) / usize::from(self.out_channels)) as u64;
        match result {
            Ok(true) => Ok(true),
            Ok(false) if self.ended => Ok(false),
            Ok(false) => {
                self.ended = true;
                Err(self.ending(None))
            }
            Err(error) => {
                self.ended = true;
                Err(self.ending(Some(error)))
            }
        }
    }

    fn ending(&self, error: Option<AudioError>) -> RelayError {
        ending(&self.url, &self.state, error, self.aired(), self.timeout)
    }

    /// How much audio has been handed out.
    pub fn aired(&self) -> Duration {
        let nanos = u128::from(self.frames) * 1_000_000_000 / u128::from(self.out_rate.max(1));
        Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
    }

    /// The title the station last announced, for the log.
    pub fn title(&self) -> Option<String> {
        self.state.title()
    }

    pub fn url(&self) -> &str {
        &self.url
    }
}

/// Why the relay ended, given the decoder's `error` (`None`: the decoder saw the end of the
/// bytes). When the connection ended, that is the cause: the decoder only saw its consequence
/// (a read error, a truncated frame, no audio at all). Otherwise the audio itself is at fault.
fn ending(
    url: &str,
    state: &Shared,
    error: Option<AudioError>,
    aired: Duration,
    timeout: Duration,
) -> RelayError {
    let url = url.to_string();
    match (state.ending(), error) {
        (Some(Ending::Stalled), _) => RelayError::Stalled {
            url,
            aired,
            waited: timeout,
        },
        (Some(Ending::Closed), _) => RelayError::Dropped {
            url,
            aired,
            reason: "the server closed the connection".to_string(),
        },
        (Some(Ending::Failed(reason)), _) => RelayError::Dropped { url, aired, reason },
        (None, Some(error)) => RelayError::Undecodable(error),
        // The bytes go on but the decoder stopped: a chained stream changed its tracks (see
        // `Decoder::next_block`).
        (None, None) => RelayError::Dropped {
            url,
            aired,
            reason: "the stream changed its tracks".to_string(),
        },
    }
}

/// The status and headers of a response.
#[derive(Debug, Clone, PartialEq)]
struct Head {
    status: u16,
    /// The first line as the server sent it, for error messages.
    status_line: String,
    /// Names in lower case, values trimmed, in the order sent.
    headers: Vec<(String, String)>,
}

impl Head {
    /// The first header called `name` (lower case).
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(header, _)| header == name)
            .map(|(_, value)| value.as_str())
    }
}

/// Where a redirect response points.
fn redirect_location(head: &Head) -> Option<&str> {
    match head.status {
        301 | 302 | 303 | 307 | 308 => head.header("location"),
        _ => None,
    }
}

/// Gathers a response's head from reads of any size.
#[derive(Default)]
struct HeadReader {
    buffer: Vec<u8>,
}

impl HeadReader {
    /// Adds `bytes`; once the blank line that ends the head has arrived, returns the parsed
    /// head and the body bytes that followed it.
    fn push(&mut self, bytes: &[u8]) -> Result<Option<(Head, Vec<u8>)>, String> {
        // The end may straddle the previous read: look from just before the new bytes.
        let from = self.buffer.len().saturating_sub(3);
        self.buffer.extend_from_slice(bytes);
        match head_end(&self.buffer, from) {
            Some((head, body)) if head <= MAX_HEAD_BYTES => {
                let body = self.buffer.split_off(body);
                Ok(Some((parse_head(&self.buffer[..head])?, body)))
            }
            None if self.buffer.len() <= MAX_HEAD_BYTES => Ok(None),
            _ => Err(format!(
                "response headers longer than {} KiB",
                MAX_HEAD_BYTES / 1024
            )),
        }
    }
}

/// Finds the blank line ending a head in `buffer`, searching from `from`: returns where the
/// head ends and where the body starts. Servers are meant to end lines with CR LF; some old
/// SHOUTcast ones use bare LF.
fn head_end(buffer: &[u8], from: usize) -> Option<(usize, usize)> {
    (from..buffer.len()).find_map(|at| {
        let rest = &buffer[at..];
        if rest.starts_with(b"\r\n\r\n") {
            Some((at, at + 4))
        } else if rest.starts_with(b"\n\n") {
            Some((at, at + 2))
        } else if rest.starts_with(b"\n\r\n") {
            Some((at, at + 3))
        } else {
            None
        }
    })
}

/// Parses a response head: `HTTP/1.x` or SHOUTcast's `ICY` status line, then headers.
fn parse_head(head: &[u8]) -> Result<Head, String> {
    let text = String::from_utf8_lossy(head);
    let mut lines = text.lines().map(|line| line.trim_end_matches('\r'));
    let status_line = lines.next().unwrap_or_default().trim().to_string();
    let mut parts = status_line.split_whitespace();
    let protocol = parts.next().unwrap_or_default();
    if !(protocol.starts_with("HTTP/1.") || protocol == "ICY") {
        return Err(format!(
            "not an HTTP response: {:?}",
            truncated(&status_line)
        ));
    }
    let status = parts
        .next()
        .and_then(|code| code.parse::<u16>().ok())
        .ok_or_else(|| format!("bad status line {:?}", truncated(&status_line)))?;
    let headers = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_string()))
        .collect();
    Ok(Head {
        status,
        status_line,
        headers,
    })
}

/// At most 80 characters of `text`, for an error message.
fn truncated(text: &str) -> String {
    text.chars().take(80).collect()
}

/// The container a Content-Type (or else the path's extension) stands for, as
/// [`Decoder::open_stream`] takes it.
fn format_hint(content_type: Option<&str>, path: &str) -> Option<&'static str> {
    let mime = content_type
        .and_then(|value| value.split(';').next())
        .map(|mime| mime.trim().to_ascii_lowercase());
    let from_mime = match mime.as_deref() {
        Some("audio/mpeg" | "audio/mp3" | "audio/mpeg3" | "audio/x-mpeg") => Some("mp3"),
        Some("audio/aac" | "audio/aacp" | "audio/x-aac" | "audio/x-aacp") => Some("aac"),
        Some("audio/ogg" | "application/ogg" | "audio/x-ogg") => Some("ogg"),
        _ => None,
    };
    from_mime.or_else(|| {
        let path = path.split('?').next().unwrap_or_default();
        let extension = path.rsplit_once('.')?.1.to_ascii_lowercase();
        match extension.as_str() {
            "mp3" => Some("mp3"),
            "aac" => Some("aac"),
            "ogg" | "oga" => Some("ogg"),
            _ => None,
        }
    })
}

/// Takes SHOUTcast/Icecast metadata out of a stream's bytes. With `icy-metaint: N`, the server
/// sends N audio bytes, then a length byte L, then 16·L bytes of metadata
/// (`StreamTitle='…';` padded with NULs), and so on. Left in, those bytes would reach the
/// decoder as damaged frames: clicks, or a stream judged corrupt.
struct IcyDemux {
    /// Audio bytes between metadata blocks; 0 when the server sends none.
    interval: usize,
    state: DemuxState,
    /// The metadata block being gathered.
    block: Vec<u8>,
}

#[derive(Debug, Clone, Copy)]
enum DemuxState {
    /// This many audio bytes until the next length byte.
    Audio(usize),
    /// The next byte is a metadata length.
    Length,
    /// This many metadata bytes still to come.
    Metadata(usize),
}

impl IcyDemux {
    fn new(interval: usize) -> IcyDemux {
        IcyDemux {
            interval,
            state: DemuxState::Audio(interval),
            block: Vec::new(),
        }
    }

    /// Appends the audio bytes of `input` to `audio`; returns the last title announced in a
    /// metadata block that ended within `input`.
    fn push(&mut self, mut input: &[u8], audio: &mut Vec<u8>) -> Option<String> {
        if self.interval == 0 {
            audio.extend_from_slice(input);
            return None;
        }
        let mut title = None;
        while let Some(&first) = input.first() {
            self.state = match self.state {
                DemuxState::Audio(left) => {
                    let count = left.min(input.len());
                    audio.extend_from_slice(&input[..count]);
                    input = &input[count..];
                    match left - count {
                        0 => DemuxState::Length,
                        left => DemuxState::Audio(left),
                    }
                }
                DemuxState::Length => {
                    input = &input[1..];
                    self.block.clear();
                    match usize::from(first) * 16 {
                        0 => DemuxState::Audio(self.interval),
                        length => DemuxState::Metadata(length),
                    }
                }
                DemuxState::Metadata(left) => {
                    let count = left.min(input.len());
                    self.block.extend_from_slice(&input[..count]);
                    input = &input[count..];
                    match left - count {
                        0 => {
                            if let Some(announced) = stream_title(&self.block) {
                                title = Some(announced);
                            }
                            DemuxState::Audio(self.interval)
                        }
                        left => DemuxState::Metadata(left),
                    }
                }
            };
        }
        title
    }
}

/// The `StreamTitle` of a metadata block: `StreamTitle='Thời sự';StreamUrl='';`. The title
/// may itself contain quotes, so it ends at the last `';` (or quote) before the next field.
fn stream_title(block: &[u8]) -> Option<String> {
    let end = block
        .iter()
        .position(|&byte| byte == 0)
        .unwrap_or(block.len());
    let text = String::from_utf8_lossy(&block[..end]);
    let start = text.find("StreamTitle='")? + "StreamTitle='".len();
    let rest = &text[start..];
    let end = rest
        .find("';Stream")
        .or_else(|| rest.rfind("';"))
        .or_else(|| rest.rfind('\''))
        .unwrap_or(rest.len());
    Some(rest[..end].trim().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const ICECAST_HEAD: &[u8] = b"HTTP/1.0 200 OK\r\n\
        Content-Type: audio/mpeg\r\n\
        icy-name: VOV1\r\n\
        icy-metaint: 16000\r\n\
        Cache-Control: no-cache\r\n\r\n";

    /// Feeds `bytes` to a head reader in pieces of `piece` bytes.
    fn read_head(bytes: &[u8], piece: usize) -> Result<Option<(Head, Vec<u8>)>, String> {
        let mut reader = HeadReader::default();
        let mut body = Vec::new();
        let mut head = None;
        for chunk in bytes.chunks(piece) {
            if head.is_some() {
                body.extend_from_slice(chunk);
            } else if let Some((found, rest)) = reader.push(chunk)? {
                head = Some(found);
                body = rest;
            }
        }
        Ok(head.map(|head| (head, body)))
    }

    #[test]
    fn an_icecast_head_gives_status_headers_and_the_body_after_it_whatever_the_read_sizes() {
        let mut response = ICECAST_HEAD.to_vec();
        response.extend_from_slice(b"\xFF\xFB\x90\x00audio");
        for piece in [1, 2, 3, 5, 17, 64, response.len()] {
            let (head, body) = read_head(&response, piece).unwrap().unwrap();
            assert_eq!(head.status, 200);
            assert_eq!(head.status_line, "HTTP/1.0 200 OK");
            assert_eq!(head.header("content-type"), Some("audio/mpeg"));
            assert_eq!(head.header("icy-metaint"), Some("16000"));
            assert_eq!(head.header("icy-name"), Some("VOV1"));
            assert_eq!(body, b"\xFF\xFB\x90\x00audio", "read in pieces of {piece}");
        }
    }

    #[test]
    fn a_shoutcast_icy_status_line_with_bare_newlines_is_accepted() {
        let response = b"ICY 200 OK\nicy-metaint:8192\ncontent-type:audio/aacp\n\nbody";
        for piece in [1, 4, response.len()] {
            let (head, body) = read_head(response, piece).unwrap().unwrap();
            assert_eq!(head.status, 200);
            assert_eq!(head.header("icy-metaint"), Some("8192"));
            assert_eq!(head.header("content-type"), Some("audio/aacp"));
            assert_eq!(body, b"body");
        }
    }

    #[test]
    fn an_incomplete_head_waits_for_more_bytes() {
        assert_eq!(
            read_head(b"HTTP/1.1 200 OK\r\nContent-Type: au", 7),
            Ok(None)
        );
    }

    #[test]
    fn a_head_over_16_kib_is_refused() {
        let mut response = b"HTTP/1.0 200 OK\r\n".to_vec();
        while response.len() <= MAX_HEAD_BYTES {
            response.extend_from_slice(b"X-Padding: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n");
        }
        response.extend_from_slice(b"\r\n");
        assert_eq!(
            read_head(&response, 1000).unwrap_err(),
            "response headers longer than 16 KiB"
        );
    }

    #[test]
    fn a_response_that_is_not_http_is_refused_with_its_first_line() {
        assert_eq!(
            parse_head(b"SSH-2.0-OpenSSH_9.2").unwrap_err(),
            "not an HTTP response: \"SSH-2.0-OpenSSH_9.2\""
        );
        assert!(
            parse_head(b"HTTP/1.1 OK")
                .unwrap_err()
                .starts_with("bad status line")
        );
    }

    #[test]
    fn redirects_are_followed_only_with_a_location() {
        let head = |text: &[u8]| parse_head(text).unwrap();
        let moved = head(b"HTTP/1.1 302 Found\r\nLocation: http://b.test/vov1");
        assert_eq!(redirect_location(&moved), Some("http://b.test/vov1"));
        assert_eq!(redirect_location(&head(b"HTTP/1.1 302 Found")), None);
        assert_eq!(
            redirect_location(&head(b"HTTP/1.1 404 Not Found\r\nLocation: /x")),
            None
        );
    }

    /// Builds an ICY body: `interval` audio bytes between metadata blocks.
    fn icy_body(audio: &[u8], interval: usize, titles: &[&str]) -> Vec<u8> {
        let mut body = Vec::new();
        for (index, chunk) in audio.chunks(interval).enumerate() {
            body.extend_from_slice(chunk);
            if chunk.len() < interval {
                break;
            }
            match titles.get(index) {
                Some(title) => {
                    let mut block = format!("StreamTitle='{title}';StreamUrl='';").into_bytes();
                    block.resize(block.len().div_ceil(16) * 16, 0);
                    body.push((block.len() / 16) as u8);
                    body.extend_from_slice(&block);
                }
                None => body.push(0),
            }
        }
        body
    }

    #[test]
    fn icy_metadata_is_taken_out_of_the_audio_whatever_the_read_sizes() {
        let audio: Vec<u8> = (0..1000u32).map(|n| (n % 251) as u8).collect();
        let body = icy_body(&audio, 64, &["Thời sự", "", "Tin 'nóng'"]);
        assert!(body.len() > audio.len() + 40);
        for piece in 1..=70 {
            let mut demux = IcyDemux::new(64);
            let mut out = Vec::new();
            let mut titles = Vec::new();
            for chunk in body.chunks(piece) {
                titles.extend(demux.push(chunk, &mut out));
            }
            assert_eq!(out, audio, "read in pieces of {piece}");
            assert_eq!(titles, ["Thời sự", "", "Tin 'nóng'"], "pieces of {piece}");
        }
    }

    #[test]
    fn without_icy_metaint_every_byte_is_audio() {
        let mut demux = IcyDemux::new(0);
        let mut out = Vec::new();
        assert_eq!(demux.push(b"\x00\x01StreamTitle='x';", &mut out), None);
        assert_eq!(out, b"\x00\x01StreamTitle='x';");
    }

    #[test]
    fn the_stream_title_is_read_up_to_its_closing_quote() {
        assert_eq!(
            stream_title("StreamTitle='VOV1 - Thời sự';StreamUrl='http://vov.vn';\0\0".as_bytes()),
            Some("VOV1 - Thời sự".to_string())
        );
        assert_eq!(
            stream_title(b"StreamTitle='It's on';\0\0\0"),
            Some("It's on".to_string())
        );
        assert_eq!(stream_title(b"StreamUrl='x';\0"), None);
    }

    #[test]
    fn the_format_comes_from_the_content_type_or_else_the_extension() {
        assert_eq!(format_hint(Some("audio/mpeg"), "/x"), Some("mp3"));
        assert_eq!(
            format_hint(Some("Audio/AACP; charset=x"), "/x"),
            Some("aac")
        );
        assert_eq!(format_hint(Some("audio/aac"), "/x.mp3"), Some("aac"));
        assert_eq!(format_hint(Some("application/ogg"), "/x"), Some("ogg"));
        assert_eq!(format_hint(Some("text/html"), "/vov1.aac?s=2"), Some("aac"));
        assert_eq!(format_hint(None, "/live"), None);
    }

    #[test]
    fn a_relay_source_can_move_to_the_player_thread() {
        fn assert_send<T: Send>() {}
        assert_send::<RelaySource>();
    }

    #[test]
    fn errors_name_the_url_and_how_long_the_stream_aired() {
        let dropped = RelayError::Dropped {
            url: "http://radio.test/vov1".to_string(),
            aired: Duration::from_millis(2_040),
            reason: "the server closed the connection".to_string(),
        };
        assert_eq!(
            dropped.to_string(),
            "http://radio.test/vov1: stream dropped after 2.0 s on air: \
             the server closed the connection"
        );
        let stalled = RelayError::Stalled {
            url: "http://radio.test/vov1".to_string(),
            aired: Duration::from_secs(61),
            waited: Duration::from_secs(5),
        };
        assert_eq!(
            stalled.to_string(),
            "http://radio.test/vov1: stream stalled: nothing received for 5.0 s \
             (after 61.0 s on air)"
        );
    }
}
