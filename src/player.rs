//! The player: a thread that owns the audio output and airs one programme at a time.
//!
//! For each programme it decodes the first second and switches the amplifier on *before* the
//! start, then gates the output on the start instant, so the first sample goes out on time rather
//! than "whenever decoding got going". Items follow each other in the ring buffer with no gap.
//! An item that cannot be opened or decoded is reported and skipped; the rest of the programme airs.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::amp::Amp;
use crate::audio::chime::chime;
use crate::audio::convert::Source;
use crate::audio::output::{Format, Output, OutputError};
use crate::schedule::{Item, Program};

/// Air `program` with its first sample at `start_at` (or as soon as possible if that has passed).
#[derive(Debug, Clone)]
pub struct AirRequest {
    pub program: Arc<Program>,
    pub start_at: DateTime<Utc>,
}

/// What happened to a programme on air.
#[derive(Debug, Clone)]
pub struct AirReport {
    /// When its first sample went out; None if nothing aired.
    pub started: Option<DateTime<Utc>>,
    pub ended: DateTime<Utc>,
    pub items_aired: usize,
    /// (item as written in the schedule, why it failed)
    pub items_failed: Vec<(String, String)>,
    pub ending: Ending,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ending {
    Completed,
    /// Cut off by `Player::stop` (shutdown).
    Stopped,
    /// The output device failed mid-programme.
    OutputFailed(String),
}

/// Handle to the player thread.
pub struct Player {
    requests: Option<mpsc::Sender<AirRequest>>,
    reports: tokio::sync::mpsc::UnboundedReceiver<AirReport>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Player {
    pub fn start(output: Output, amp: Amp) -> std::io::Result<Player> {
        let (requests, inbox) = mpsc::channel();
        let (outbox, reports) = tokio::sync::mpsc::unbounded_channel();
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let stop = Arc::clone(&stop);
            std::thread::Builder::new()
                .name("loaxa-player".into())
                .spawn(move || run(output, amp, &inbox, &outbox, &stop))?
        };
        Ok(Player {
            requests: Some(requests),
            reports,
            stop,
            thread: Some(thread),
        })
    }

    /// Queues a programme; its report arrives through `report`.
    pub fn air(&self, request: AirRequest) -> bool {
        self.requests
            .as_ref()
            .is_some_and(|r| r.send(request).is_ok())
    }

    /// The next report; None if the player thread has ended.
    pub async fn report(&mut self) -> Option<AirReport> {
        self.reports.recv().await
    }

    /// Cuts the programme on air (between two samples) and the queue.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::Release);
    }
}

impl Drop for Player {
    fn drop(&mut self) {
        self.stop();
        drop(self.requests.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn run(
    mut output: Output,
    mut amp: Amp,
    inbox: &mpsc::Receiver<AirRequest>,
    outbox: &tokio::sync::mpsc::UnboundedSender<AirReport>,
    stop: &AtomicBool,
) {
    loop {
        let wait = if amp.is_on() {
            amp.tail()
        } else {
            Duration::from_secs(3600)
        };
        match inbox.recv_timeout(wait) {
            Ok(request) => {
                if stop.load(Ordering::Acquire) {
                    break;
                }
                let report = air(&mut output, &mut amp, &request, stop);
                if outbox.send(report).is_err() {
                    break;
                }
            }
            Err(RecvTimeoutError::Timeout) => amp.switch_off(),
            Err(RecvTimeoutError::Disconnected) => break,
        }
    }
    amp.switch_off();
}

fn air(output: &mut Output, amp: &mut Amp, request: &AirRequest, stop: &AtomicBool) -> AirReport {
    let format = output.format();
    let mut items = Items::new(&request.program, format);
    let mut ahead = Vec::new();
    let one_second = format.sample_rate as usize * usize::from(format.channels);
    while ahead.len() < one_second && items.fill(&mut ahead) {}
    amp.switch_on(stop);

    output.start_segment(request.start_at);
    let mut frames_out: u64 = 0;
    let channels = u64::from(format.channels);
    let result = (|| {
        output.write(&ahead, stop)?;
        frames_out += ahead.len() as u64 / channels;
        let mut block = Vec::with_capacity(one_second);
        loop {
            block.clear();
            let more = items.fill(&mut block);
            output.write(&block, stop)?;
            frames_out += block.len() as u64 / channels;
            if !more {
                break;
            }
        }
        output.drain(stop)
    })();

    let first = output.segment_start();
    let (ending, ended) = match result {
        Ok(()) => (
            Ending::Completed,
            first.map(|start| output.after(start, frames_out)),
        ),
        Err(OutputError::Stopped) => {
            output.discard();
            (Ending::Stopped, None)
        }
        Err(e) => (Ending::OutputFailed(e.to_string()), None),
    };
    AirReport {
        started: first,
        ended: ended.unwrap_or_else(Utc::now),
        items_aired: items.aired,
        items_failed: items.failed,
        ending,
    }
}

/// A programme's items in order, each opened when the previous one ends.
struct Items<'a> {
    pending: std::slice::Iter<'a, Item>,
    current: Option<(&'a Item, ItemSource)>,
    format: Format,
    volume: f32,
    aired: usize,
    failed: Vec<(String, String)>,
}

enum ItemSource {
    Chime(Option<Vec<f32>>),
    File(Box<Source>),
}

impl<'a> Items<'a> {
    fn new(program: &'a Program, format: Format) -> Items<'a> {
        Items {
            pending: program.items.iter(),
            current: None,
            format,
            volume: program.volume,
            aired: 0,
            failed: Vec::new(),
        }
    }

    /// Appends the next frames to `out`; false once every item is done (failed ones skipped).
    fn fill(&mut self, out: &mut Vec<f32>) -> bool {
        let before = out.len();
        loop {
            let Some((item, source)) = &mut self.current else {
                let Some(item) = self.pending.next() else {
                    return out.len() > before;
                };
                match self.open(item) {
                    Ok(source) => self.current = Some((item, source)),
                    Err(reason) => self.fail(item, reason),
                }
                continue;
            };
            let item: &'a Item = item;
            let more = match source {
                ItemSource::Chime(samples) => {
                    samples.take().map(|s| out.extend_from_slice(&s)).is_some()
                }
                ItemSource::File(source) => match source.fill(out) {
                    Ok(more) => more,
                    Err(e) => {
                        self.current = None;
                        self.fail(item, e.to_string());
                        continue;
                    }
                },
            };
            if !more {
                self.current = None;
                self.aired += 1;
            }
            if out.len() > before {
                return true;
            }
        }
    }

    fn open(&self, item: &Item) -> Result<ItemSource, String> {
        match item {
            Item::Chime => {
                let mut samples = chime(self.format.sample_rate, self.format.channels);
                samples.iter_mut().for_each(|s| *s *= self.volume);
                Ok(ItemSource::Chime(Some(samples)))
            }
            Item::File { path, .. } => Source::open(
                path,
                self.format.sample_rate,
                self.format.channels,
                self.volume,
            )
            .map(|s| ItemSource::File(Box::new(s)))
            .map_err(|e| e.to_string()),
            // The daemon turns a bulletin whose audio is complete into a file; one still here
            // has not (fully) arrived, and a partial bulletin is never aired.
            Item::Bulletin { id } => Err(format!(
                "content missing: bulletin {id} has not fully arrived"
            )),
        }
    }

    fn fail(&mut self, item: &Item, reason: String) {
        tracing::warn!(item = %item, reason = %reason, "item failed; airing the rest of the programme");
        self.failed.push((item.to_string(), reason));
    }
}
