//! The player: a thread that owns the audio output and airs programmes on one continuous
//! timeline.
//!
//! For each programme it decodes the first second and switches the amplifier on *before* the
//! start, then gates the output on the start instant, so the first sample goes out on time rather
//! than "whenever decoding got going". Items follow each other with no gap. An item that cannot
//! be opened or decoded is reported and skipped; the rest of the programme airs.
//!
//! A programme can be *cut into* (an emergency, or a programme whose `when_busy` is `cut`): the
//! one on air fades out over [`FADE`] so that the newcomer starts on its instant, and afterwards
//! either resumes from where the fade began or is dropped. Programmes stack: the timeline always
//! plays the top one. Everything is placed by frame count on the output's timeline, so every
//! boundary (item starts, the cut, the resume) is reported as the instant it went out.
//!
//! A device that fails or vanishes mid-programme ends what is on air as failed; the player then
//! opens it again with growing delays, failing at once whatever falls due meanwhile (the as-run
//! log says "failed", not "aired"), and airs again as soon as the device is back.
//!
//! The player writes at most [`AHEAD`] ahead of what is going out, so a cut-in is heard within
//! that plus the fade.
//!
//! A relay item (a radio stream) is live: a thread of its own connects and reads the stream,
//! and the player takes what has arrived. The slot lasts a fixed number of frames; where the
//! stream has nothing in time, silence takes its place, so the slot neither drifts nor ends
//! late. See [`Relay`].

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError, TryRecvError};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use crate::amp::Amp;
use crate::audio::chime::{attention_tone, chime};
use crate::audio::convert::Source;
use crate::audio::output::{Format, Output, OutputError, OutputSpec};
use crate::audio::relay::RelaySource;
use crate::reason::Reason;
use loaxa_core::schedule::{self, Item, Priority, Program};
use loaxa_core::trouble::AudioTrouble;
use timing::{Reopen, duration_of, frames_in};

pub mod timing;

/// How long what is on air takes to fade out when something cuts in.
pub const FADE: Duration = Duration::from_millis(250);
/// How long a resumed programme takes to fade back in.
const FADE_IN: Duration = Duration::from_millis(50);
/// How far ahead of the loudspeaker the player writes: the bound on how late a cut-in starts
/// fading (on top of the fade itself).
const AHEAD: Duration = Duration::from_millis(1000);
/// Most frames written at once.
const BLOCK: Duration = Duration::from_millis(50);

/// How long a relay waits to connect to its stream, and then for each read of it.
const RELAY_TIMEOUT: Duration = Duration::from_secs(5);
/// Attempts to reach a stream start at most this often: a server that answers and hangs up at
/// once is not hammered, while a stream that drops after a long run is reconnected at once.
const RELAY_RETRY: Duration = Duration::from_secs(2);
/// With nothing relayed this far into its slot, a relay gives way to its fallback (or after a
/// third of a shorter slot, so that the fallback still has room).
const RELAY_GIVE_UP: Duration = Duration::from_secs(15);
/// A relay airs the station this long after it arrives, at most: older audio is dropped (what
/// arrives before the slot, a server's burst of its recent past, what piled up while something
/// cut in). The cushion against a stream's hiccups is this less [`AHEAD`].
const RELAY_DELAY: Duration = Duration::from_millis(2500);
/// When a relay's stream has nothing for frames due within this, silence goes out instead.
const RELAY_MARGIN: Duration = Duration::from_millis(400);
/// The longest the player waits for a stream in one go before it looks at its commands again.
const RELAY_POLL: Duration = Duration::from_millis(100);

/// Air `program` with its first sample at `start_at` (or as soon as possible if that has passed).
/// `tag` comes back in its report (the daemon's as-run row).
#[derive(Debug, Clone)]
pub struct AirRequest {
    pub tag: i64,
    pub program: Arc<Program>,
    pub start_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
enum Command {
    Air(AirRequest),
    CutIn { request: AirRequest, resume: bool },
    StopCurrent(StoppedBy),
    Volume(f32),
}

/// Who asked for the programme on air to stop: said in its as-run entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoppedBy {
    /// `loaxa stop` on the box.
    Operator,
    /// A signed `stop` command from the district.
    District,
}

impl AirReport {
    /// The report of a programme that never went on air at all.
    fn not_aired(request: &AirRequest, ending: Ending) -> AirReport {
        AirReport {
            tag: request.tag,
            started: None,
            ended: Utc::now(),
            items_aired: 0,
            items_failed: Vec::new(),
            ending,
            marks: Vec::new(),
        }
    }
}

/// What happened to a programme on air.
#[derive(Debug, Clone)]
pub struct AirReport {
    pub tag: i64,
    /// When its first sample went out; None if nothing aired.
    pub started: Option<DateTime<Utc>>,
    pub ended: DateTime<Utc>,
    pub items_aired: usize,
    /// (item as written in the schedule, why it failed)
    pub items_failed: Vec<(String, AudioTrouble)>,
    pub ending: Ending,
    /// Its boundaries as they went out: item starts, cuts, resumes.
    pub marks: Vec<Mark>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Mark {
    pub what: String,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ending {
    Completed,
    /// Cut off by `Player::stop` (shutdown).
    Stopped,
    /// Ended early on purpose: a stop, or a cut-in it does not resume after.
    Cut(Reason),
    /// The output device failed mid-programme.
    OutputFailed(String),
}

/// Handle to the player thread.
pub struct Player {
    commands: Option<mpsc::Sender<Command>>,
    reports: tokio::sync::mpsc::UnboundedReceiver<AirReport>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

/// Where the player (re)opens its output: the spec and the rate of paced outputs.
#[derive(Debug, Clone)]
pub struct Device {
    pub spec: OutputSpec,
    pub paced_rate: u32,
}

impl Player {
    /// Starts the player thread on `output`, opened from `device` (which it opens again if the
    /// output fails).
    pub fn start(output: Output, device: Device, amp: Amp) -> std::io::Result<Player> {
        let (commands, inbox) = mpsc::channel();
        let (outbox, reports) = tokio::sync::mpsc::unbounded_channel();
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let stop = Arc::clone(&stop);
            std::thread::Builder::new()
                .name("loaxa-player".into())
                .spawn(move || run(output, &device, amp, &inbox, &outbox, &stop))?
        };
        Ok(Player {
            commands: Some(commands),
            reports,
            stop,
            thread: Some(thread),
        })
    }

    fn send(&self, command: Command) -> bool {
        self.commands
            .as_ref()
            .is_some_and(|c| c.send(command).is_ok())
    }

    /// Queues a programme after whatever is on air; its report arrives through `report`.
    pub fn air(&self, request: AirRequest) -> bool {
        self.send(Command::Air(request))
    }

    /// Airs `request` at its `start_at` (or at once), fading out what is on air first; that
    /// programme carries on afterwards if `resume`, and is reported `Cut` otherwise.
    pub fn cut_in(&self, request: AirRequest, resume: bool) -> bool {
        self.send(Command::CutIn { request, resume })
    }

    /// Fades out and ends the programme on air (one that it had cut into then resumes).
    pub fn stop_current(&self, by: StoppedBy) -> bool {
        self.send(Command::StopCurrent(by))
    }

    /// Master volume, 0.0–1.0, from the next block on.
    pub fn set_volume(&self, volume: f32) -> bool {
        self.send(Command::Volume(volume.clamp(0.0, 1.0)))
    }

    /// The next report; None if the player thread has ended.
    pub async fn report(&mut self) -> Option<AirReport> {
        self.reports.recv().await
    }

    /// Cuts everything on air (between two samples) and ends the thread's work: shutdown.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::Release);
    }
}

impl Drop for Player {
    fn drop(&mut self) {
        self.stop();
        drop(self.commands.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

type Reports = tokio::sync::mpsc::UnboundedSender<AirReport>;

fn run(
    output: Output,
    device: &Device,
    mut amp: Amp,
    inbox: &mpsc::Receiver<Command>,
    reports: &Reports,
    stop: &AtomicBool,
) {
    let mut volume = 1.0;
    let mut waiting = VecDeque::new();
    let mut output = Ok(output);
    let mut reopen = Reopen::new(Instant::now());
    while !stop.load(Ordering::Acquire) {
        if output.is_err() && reopen.is_due(Instant::now()) {
            output = reopen_output(device, &mut reopen);
        }
        let request = match waiting.pop_front() {
            Some(request) => request,
            None => {
                let mut wait = if amp.is_on() {
                    amp.tail()
                } else {
                    Duration::from_secs(3600)
                };
                if output.is_err() {
                    wait = wait.min(reopen.until_due(Instant::now()));
                }
                match inbox.recv_timeout(wait) {
                    // Nothing is on air, so a cut-in simply airs.
                    Ok(Command::Air(request) | Command::CutIn { request, .. }) => request,
                    Ok(Command::Volume(v)) => {
                        volume = v;
                        continue;
                    }
                    Ok(Command::StopCurrent(_)) => continue,
                    Err(RecvTimeoutError::Timeout) => {
                        if amp.is_on() {
                            amp.switch_off();
                        }
                        continue;
                    }
                    Err(RecvTimeoutError::Disconnected) => break,
                }
            }
        };
        if stop.load(Ordering::Acquire) {
            break;
        }
        // A programme falling due is worth an attempt of its own: the device may be back.
        if output.is_err() {
            output = reopen_output(device, &mut reopen);
        }
        let live = match &mut output {
            Ok(live) => live,
            Err(why) => {
                let _ = reports.send(AirReport::not_aired(
                    &request,
                    Ending::OutputFailed(format!("no audio output: {why}")),
                ));
                continue;
            }
        };
        let mut session = Session {
            output: live,
            reports,
            stop,
            volume: &mut volume,
            waiting: &mut waiting,
            stack: Vec::new(),
            written: 0,
            origin: request.start_at,
            pending_cut: None,
        };
        if !session.run(request, &mut amp, inbox) {
            break;
        }
        if let Ok(failed) = &output
            && failed.has_failed()
        {
            let why = failed
                .check(stop)
                .err()
                .map_or_else(|| "failed".to_owned(), |e| e.to_string());
            tracing::error!(output = failed.description(), error = %why, "audio output lost; opening it again");
            if let Ok(failed) = std::mem::replace(&mut output, Err(why)) {
                // A vanished device may never return from being closed; the player must not
                // wait for it.
                let _ = std::thread::Builder::new()
                    .name("loaxa-close-output".into())
                    .spawn(move || drop(failed));
            }
            reopen = Reopen::new(Instant::now());
        }
    }
    amp.switch_off();
}

/// Opens `device` again; a failure puts the next try off by `reopen`.
fn reopen_output(device: &Device, reopen: &mut Reopen) -> Result<Output, String> {
    match Output::open(&device.spec, device.paced_rate) {
        Ok(output) => {
            tracing::info!(output = output.description(), "audio output back");
            Ok(output)
        }
        Err(e) => {
            let delay = reopen.failed(Instant::now());
            tracing::warn!(error = %e, retry_in_s = delay.as_secs(), "no audio output; retrying");
            Err(e.to_string())
        }
    }
}

/// One programme on the timeline, with what it still has to air.
struct Layer {
    request: AirRequest,
    items: Items,
    /// Converted samples ready to go out, and the boundaries among them (sample offsets).
    ready: Vec<f32>,
    ready_marks: Vec<(String, usize)>,
    exhausted: bool,
    /// Frames of fade-in still to apply (after a resume).
    fade_in: u64,
    first_frame: Option<u64>,
    marks: Vec<(String, u64)>,
}

impl Layer {
    fn new(request: AirRequest, format: Format) -> Layer {
        let items = Items::new(Arc::clone(&request.program), format);
        Layer {
            request,
            items,
            ready: Vec::new(),
            ready_marks: Vec::new(),
            exhausted: false,
            fade_in: 0,
            first_frame: None,
            marks: Vec::new(),
        }
    }

    /// Decodes until `frames` are ready, the programme ends, or a live stream has nothing yet.
    /// `needed`: when the first ready frame must be in the output.
    fn prepare(&mut self, frames: usize, channels: usize, needed: Instant) {
        while self.ready.len() < frames * channels && !self.exhausted {
            let before = self.ready.len();
            if !self
                .items
                .fill(&mut self.ready, &mut self.ready_marks, needed)
            {
                self.exhausted = true;
            }
            if self.ready.len() == before {
                // A relay waiting for its stream: the player comes back on its next block.
                break;
            }
        }
    }

    /// Takes up to `frames` ready frames, noting the boundaries among them at `written`.
    /// `needed`: when the first of them must be in the output.
    fn take(&mut self, frames: usize, channels: usize, written: u64, needed: Instant) -> Vec<f32> {
        self.prepare(frames, channels, needed);
        let n = frames.min(self.ready.len() / channels) * channels;
        let block: Vec<f32> = self.ready.drain(..n).collect();
        let (now, later) =
            timing::place_marks(std::mem::take(&mut self.ready_marks), n, channels, written);
        self.marks.extend(now);
        self.ready_marks = later;
        if !block.is_empty() {
            self.first_frame.get_or_insert(written);
        }
        block
    }

    fn is_done(&self) -> bool {
        self.exhausted && self.ready.is_empty()
    }
}

struct Session<'a> {
    output: &'a mut Output,
    reports: &'a Reports,
    stop: &'a AtomicBool,
    volume: &'a mut f32,
    waiting: &'a mut VecDeque<AirRequest>,
    stack: Vec<Layer>,
    /// Frames written since the segment began.
    written: u64,
    /// The instant frame 0 goes out: the first programme's start, until the output says.
    origin: DateTime<Utc>,
    /// A cut-in waiting for its frame: (programme, frame it starts at, whether the cut one
    /// resumes).
    pending_cut: Option<(Layer, u64, bool)>,
}

impl Session<'_> {
    /// Airs `first` and whatever cuts into it, until the timeline is empty. False on shutdown.
    fn run(&mut self, first: AirRequest, amp: &mut Amp, inbox: &mpsc::Receiver<Command>) -> bool {
        let format = self.output.format();
        let channels = usize::from(format.channels);
        // The gate first, so that the frames prepared below know when they go out (nothing is
        // queued yet, so setting it early changes nothing else).
        self.output.start_segment(first.start_at);
        let mut layer = Layer::new(first, format);
        layer.prepare(format.sample_rate as usize, channels, self.needed_at(0));
        amp.switch_on(self.stop);
        self.stack.push(layer);
        let result = self.play(inbox, format);
        match result.and_then(|()| self.output.drain(self.stop)) {
            Ok(()) => {
                self.finish_top(Ending::Completed);
                true
            }
            Err(e) => self.end_all(e),
        }
    }

    fn play(&mut self, inbox: &mpsc::Receiver<Command>, format: Format) -> Result<(), OutputError> {
        let channels = usize::from(format.channels);
        let frames_of = |d: Duration| frames_in(d, format.sample_rate);
        let (fade, fade_in, ahead, block) = (
            frames_of(FADE),
            frames_of(FADE_IN),
            frames_of(AHEAD),
            frames_of(BLOCK) as usize,
        );
        loop {
            self.commands(inbox, format, fade)?;
            if let Some((_, at, _)) = &self.pending_cut
                && timing::cut_is_due(self.written, fade, *at)
            {
                self.cut(fade, fade_in, channels)?;
            }
            let needed = self.needed_at(self.written);
            let Some(top) = self.stack.last_mut() else {
                return Ok(());
            };
            // Do not write past the point where a pending cut must begin fading.
            let cut_at = self.pending_cut.as_ref().map(|(_, at, _)| *at);
            let room = timing::room(self.written, fade, cut_at, block);
            let mut samples = top.take(block.min(room), channels, self.written, needed);
            if samples.is_empty() && top.is_done() {
                if self.stack.len() == 1 && self.pending_cut.is_none() {
                    // The session's last programme: reported once it has all gone out.
                    return Ok(());
                }
                self.finish_top(Ending::Completed);
                if let Some(resumed) = self.stack.last_mut() {
                    resumed.marks.push(("resumed".into(), self.written));
                }
                continue;
            }
            // A resumed programme comes back with a short fade-in rather than a click.
            let fade_left = top.fade_in;
            for (i, frame) in samples.chunks_mut(channels).enumerate() {
                let ramp = timing::fade_in_gain(fade_in, fade_left, i as u64);
                frame.iter_mut().for_each(|s| *s *= *self.volume * ramp);
            }
            top.fade_in = fade_left.saturating_sub((samples.len() / channels) as u64);
            self.write(&samples, ahead, channels)?;
        }
    }

    /// Writes, keeping no more than `ahead` frames queued, plus twice the most the output ever
    /// asked for at once: a sound server may take seconds at a time (PulseAudio does when a
    /// recorder attaches), and must never find the queue short.
    fn write(&mut self, samples: &[f32], ahead: u64, channels: usize) -> Result<(), OutputError> {
        let limit = ahead.saturating_add(2 * self.output.largest_request());
        while self.output.queued_frames() > limit {
            self.output.check(self.stop)?;
            std::thread::sleep(Duration::from_millis(5));
        }
        self.output.write(samples, self.stop)?;
        self.written += (samples.len() / channels) as u64;
        Ok(())
    }

    fn commands(
        &mut self,
        inbox: &mpsc::Receiver<Command>,
        format: Format,
        fade: u64,
    ) -> Result<(), OutputError> {
        loop {
            match inbox.try_recv() {
                Ok(Command::Air(request)) => self.waiting.push_back(request),
                Ok(Command::CutIn { request, resume }) => {
                    if self.pending_cut.is_some() {
                        self.waiting.push_back(request);
                        continue;
                    }
                    let at = self.frame_at(request.start_at, format).max(self.written);
                    let mut layer = Layer::new(request, format);
                    layer.prepare(
                        format.sample_rate as usize / 2,
                        usize::from(format.channels),
                        self.needed_at(at),
                    );
                    self.pending_cut = Some((layer, at, resume));
                }
                Ok(Command::StopCurrent(by)) => {
                    if let Some(top) = self.stack.last_mut() {
                        top.marks.push(("fading out: stop".into(), self.written));
                    }
                    self.fade_out_top(fade, usize::from(format.channels))?;
                    self.finish_top(Ending::Cut(match by {
                        StoppedBy::Operator => Reason::StoppedByOperator,
                        StoppedBy::District => Reason::StoppedByDistrict,
                    }));
                    if let Some(resumed) = self.stack.last_mut() {
                        resumed.marks.push(("resumed".into(), self.written));
                    }
                }
                Ok(Command::Volume(v)) => *self.volume = v,
                Err(TryRecvError::Empty | TryRecvError::Disconnected) => return Ok(()),
            }
        }
    }

    /// Fades out what is on air and puts the pending cut-in on top.
    fn cut(&mut self, fade: u64, fade_in: u64, channels: usize) -> Result<(), OutputError> {
        let Some((mut layer, at, resume)) = self.pending_cut.take() else {
            return Ok(());
        };
        let by = layer.request.program.id.clone();
        let fade_start = self.written;
        self.fade_out_top(fade, channels)?;
        if let Some(top) = self.stack.last_mut() {
            top.marks.push((format!("fading out for {by}"), fade_start));
            top.fade_in = fade_in;
        }
        if !resume && !self.stack.is_empty() {
            self.finish_top(Ending::Cut(Reason::CutBy { program: by }));
        }
        if at > self.written {
            let silence = vec![0.0; (at - self.written) as usize * channels];
            self.write(&silence, u64::MAX, channels)?;
        }
        layer.marks.push(("on air".into(), self.written));
        self.stack.push(layer);
        Ok(())
    }

    /// Writes the next `fade` frames of the top programme ramped down to silence, keeping the
    /// originals so a resume starts where the fade began.
    fn fade_out_top(&mut self, fade: u64, channels: usize) -> Result<(), OutputError> {
        let needed = self.needed_at(self.written);
        let Some(top) = self.stack.last_mut() else {
            return Ok(());
        };
        top.prepare(fade as usize, channels, needed);
        let n = (fade as usize).min(top.ready.len() / channels);
        let mut faded: Vec<f32> = top.ready[..n * channels].to_vec();
        for (i, frame) in faded.chunks_mut(channels).enumerate() {
            let gain = timing::fade_out_gain(fade, i as u64);
            frame.iter_mut().for_each(|s| *s *= *self.volume * gain);
        }
        self.write(&faded, u64::MAX, channels)
    }

    /// The timeline frame that goes out at `instant` (before frame 0: frame 0).
    fn frame_at(&self, instant: DateTime<Utc>, format: Format) -> u64 {
        let origin = self.output.segment_start().unwrap_or(self.origin);
        timing::frame_at(origin, instant, format.sample_rate)
    }

    fn instant_of(&self, frame: u64) -> DateTime<Utc> {
        let origin = self.output.segment_start().unwrap_or(self.origin);
        self.output.after(origin, frame)
    }

    /// When `frame` must be in the output: the instant it goes out, less what the device may
    /// take in one go. A relay decides from it whether to wait for its stream or air silence.
    fn needed_at(&self, frame: u64) -> Instant {
        let now = Utc::now();
        let goes_out = match self.output.segment_start() {
            Some(_) => self.instant_of(frame),
            // Nothing has gone out yet: frame 0 goes out at the gate, or as soon as it is
            // written if that has passed.
            None => self.output.after(self.origin.max(now), frame),
        };
        let grab = duration_of(
            2 * self.output.largest_request(),
            self.output.format().sample_rate,
        );
        Instant::now() + timing::lead(goes_out, now, grab)
    }

    /// Reports the top programme with `ending` and takes it off the timeline.
    fn finish_top(&mut self, ending: Ending) {
        if let Some(layer) = self.stack.pop() {
            let report = self.report(layer, ending);
            let _ = self.reports.send(report);
        }
    }

    fn report(&self, layer: Layer, ending: Ending) -> AirReport {
        let started = layer.first_frame.map(|f| self.instant_of(f));
        let ended = match ending {
            Ending::Completed | Ending::Cut(_) => self.instant_of(self.written),
            Ending::Stopped | Ending::OutputFailed(_) => Utc::now(),
        };
        AirReport {
            tag: layer.request.tag,
            started,
            ended,
            items_aired: layer.items.aired,
            items_failed: layer.items.failed,
            marks: layer
                .marks
                .into_iter()
                .map(|(what, frame)| Mark {
                    what,
                    at: self.instant_of(frame),
                })
                .collect(),
            ending,
        }
    }

    /// Ends everything on the timeline (and a pending cut-in) after a stop or a device failure.
    /// False on shutdown.
    fn end_all(&mut self, error: OutputError) -> bool {
        let ending = match &error {
            OutputError::Stopped => {
                self.output.discard();
                Ending::Stopped
            }
            other => Ending::OutputFailed(other.to_string()),
        };
        if let Some((layer, _, _)) = self.pending_cut.take() {
            self.stack.push(layer);
        }
        while !self.stack.is_empty() {
            self.finish_top(ending.clone());
        }
        !matches!(error, OutputError::Stopped)
    }
}

/// A programme's items in order, each opened when the previous one ends.
struct Items {
    program: Arc<Program>,
    next: usize,
    current: Option<(usize, ItemSource)>,
    format: Format,
    aired: usize,
    failed: Vec<(String, AudioTrouble)>,
}

enum ItemSource {
    Tone(Option<Vec<f32>>),
    File(Box<Source>),
    Relay(Box<Relay>),
}

impl Items {
    fn new(program: Arc<Program>, format: Format) -> Items {
        Items {
            program,
            next: 0,
            current: None,
            format,
            aired: 0,
            failed: Vec::new(),
        }
    }

    /// Appends the next frames to `out`, noting in `marks` the boundaries among them (an item's
    /// first sample, a relay's dropouts) as offsets in `out`; false once every item is done
    /// (failed ones skipped). A relay may append nothing yet and return true: its stream has
    /// nothing, and `out`'s first frame (needed in the output at `needed`) is not due yet.
    fn fill(
        &mut self,
        out: &mut Vec<f32>,
        marks: &mut Vec<(String, usize)>,
        needed: Instant,
    ) -> bool {
        let before = out.len();
        loop {
            let Some((index, source)) = &mut self.current else {
                let Some(item) = self.program.items.get(self.next).cloned() else {
                    return out.len() > before;
                };
                let index = self.next;
                self.next += 1;
                match self.open(&item) {
                    Ok(source) => {
                        marks.push((format!("item {item}"), out.len()));
                        self.current = Some((index, source));
                    }
                    Err(reason) => self.fail(&item, reason),
                }
                continue;
            };
            let index = *index;
            let more = match source {
                ItemSource::Tone(samples) => {
                    samples.take().map(|s| out.extend_from_slice(&s)).is_some()
                }
                ItemSource::File(source) => match source.fill(out) {
                    Ok(more) => more,
                    Err(e) => {
                        self.current = None;
                        let item = self.program.items[index].clone();
                        self.fail(&item, e.trouble());
                        continue;
                    }
                },
                ItemSource::Relay(relay) => {
                    let more = relay.fill(out, marks, needed);
                    if more && out.len() == before {
                        return true;
                    }
                    more
                }
            };
            if !more {
                match self.current.take() {
                    Some((index, ItemSource::Relay(relay))) => self.relay_ended(index, *relay),
                    _ => self.aired += 1,
                }
            }
            if out.len() > before {
                return true;
            }
        }
    }

    fn open(&self, item: &Item) -> Result<ItemSource, AudioTrouble> {
        let volume = self.program.volume;
        match item {
            Item::Chime => {
                let (rate, channels) = (self.format.sample_rate, self.format.channels);
                let mut samples = match self.program.priority {
                    Priority::Emergency => attention_tone(rate, channels),
                    Priority::Normal | Priority::Priority => chime(rate, channels),
                };
                samples.iter_mut().for_each(|s| *s *= volume);
                Ok(ItemSource::Tone(Some(samples)))
            }
            Item::File { path, within, .. } => {
                let loudness = self
                    .program
                    .loudness_gains
                    .get(path)
                    .copied()
                    .unwrap_or(1.0);
                // Checked again now: a link under the media directory may have been pointed
                // elsewhere since the schedule was loaded. The resolved path is what is opened.
                let real = match within {
                    Some(dir) => {
                        schedule::confine(path, dir).map_err(|why| AudioTrouble::Outside { why })?
                    }
                    None => path.clone(),
                };
                Source::open(
                    &real,
                    self.format.sample_rate,
                    self.format.channels,
                    volume * loudness,
                )
                .map(|s| ItemSource::File(Box::new(s)))
                .map_err(|e| e.trouble())
            }
            // The daemon turns a bulletin whose audio is complete and valid into a file, and
            // leaves out one that is not (saying why); one still here is in a relay's fallback.
            // A partial bulletin is never aired.
            Item::Bulletin { id } => Err(AudioTrouble::BulletinNotHeld {
                bulletin: id.to_string(),
            }),
            Item::Relay {
                url,
                duration,
                fallback,
            } => {
                // The fallback airs as a programme of its own inside the slot, at this one's
                // level and volume.
                let fallback = Program {
                    items: fallback.clone(),
                    ..(*self.program).clone()
                };
                Ok(ItemSource::Relay(Box::new(Relay::start(
                    url,
                    *duration,
                    fallback,
                    self.format,
                ))))
            }
        }
    }

    /// Counts a finished relay: aired if any of the stream went out, failed (with why) if not;
    /// and its fallback's items as they went.
    fn relay_ended(&mut self, index: usize, relay: Relay) {
        let outcome = relay.outcome();
        if let Some(fallback) = outcome.fallback {
            self.aired += fallback.aired;
            self.failed.extend(fallback.failed);
        }
        match outcome.failure {
            None => self.aired += 1,
            Some(reason) => {
                let item = self.program.items[index].clone();
                self.fail(&item, reason);
            }
        }
    }

    fn fail(&mut self, item: &Item, reason: AudioTrouble) {
        tracing::warn!(item = %item, reason = %reason, "item failed; airing the rest of the programme");
        self.failed.push((item.to_string(), reason));
    }
}

/// A relay slot on air: exactly `slot` frames of the stream, with silence wherever the stream
/// has nothing in time (so the slot stays on the clock through dropouts), or, if nothing at all
/// could be relayed early in the slot, the fallback items for the rest of it.
///
/// A thread of its own (see [`read_stream`]) connects, reads and reconnects, and hands the audio over
/// through [`Feed`]; the player never waits on the network for more than [`RELAY_POLL`].
struct Relay {
    url: String,
    feed: Arc<FeedShared>,
    format: Format,
    /// The slot's length, and how much of it has gone (stream, silence or fallback).
    slot: u64,
    done: u64,
    /// Frames of the stream aired.
    relayed: u64,
    /// Whether the stream's audio is flowing (for the dropped / resumed marks).
    flowing: bool,
    /// With nothing relayed after this many frames, the fallback airs.
    give_up: u64,
    /// The stream's last failure, for the as-run log.
    last_error: Option<String>,
    /// The fallback items; once they have taken over, `instead`.
    fallback: Option<Program>,
    instead: Option<Items>,
}

/// How a relay went, once its slot is over.
struct RelayOutcome {
    /// Why the relay counts as failed; None if some of the stream aired.
    failure: Option<AudioTrouble>,
    /// The fallback items, if they aired.
    fallback: Option<Items>,
}

impl Relay {
    /// Starts the thread that connects to `url`. `fallback` is the programme with the
    /// fallback items as its items (its volume is the stream's gain too).
    fn start(url: &str, duration: Duration, fallback: Program, format: Format) -> Relay {
        let rate = format.sample_rate;
        let feed = Arc::new(FeedShared::default());
        let mut last_error = None;
        let spawned = {
            let (url, feed) = (url.to_owned(), Arc::clone(&feed));
            let gain = fallback.volume;
            std::thread::Builder::new()
                .name("loaxa-relay".into())
                .spawn(move || read_stream(&url, format, gain, &feed))
        };
        // The thread is not joined: it ends by itself once told to (after its current read,
        // bounded by RELAY_TIMEOUT), and the player must not wait for that.
        if let Err(e) = spawned {
            last_error = Some(format!("relay {url}: cannot start its thread: {e}"));
        }
        Relay {
            url: url.to_owned(),
            feed,
            format,
            slot: frames_in(duration, rate),
            done: 0,
            relayed: 0,
            flowing: false,
            give_up: frames_in(timing::relay_give_up(duration, RELAY_GIVE_UP), rate),
            last_error,
            fallback: (!fallback.items.is_empty()).then_some(fallback),
            instead: None,
        }
    }

    /// Appends the slot's next frames to `out`; false once the slot is over. As
    /// [`Items::fill`], whose `needed` is when `out`'s first frame must be in the output.
    fn fill(
        &mut self,
        out: &mut Vec<f32>,
        marks: &mut Vec<(String, usize)>,
        needed: Instant,
    ) -> bool {
        if self.done >= self.slot {
            return false;
        }
        if self.relayed == 0
            && self.done >= self.give_up
            && let Some(fallback) = self.fallback.take()
        {
            // Nothing came early in the slot: the listeners get the stand-in rather than
            // dead air, and the stream is let go.
            self.feed.quit();
            let why = self.failure_reason();
            tracing::warn!(url = %self.url, reason = %why, "relay failed; airing its fallback");
            marks.push((
                format!("relay failed, airing the fallback: {why}"),
                out.len(),
            ));
            self.instead = Some(Items::new(Arc::new(fallback), self.format));
        }
        if let Some(fallback) = &mut self.instead {
            let before = out.len();
            let more = fallback.fill(out, marks, needed);
            return self.spend(out, marks, before) && more;
        }
        self.relay(out, marks, needed)
    }

    /// Takes the stream's audio as it arrives, or silence when it has nothing in time.
    fn relay(
        &mut self,
        out: &mut Vec<f32>,
        marks: &mut Vec<(String, usize)>,
        needed: Instant,
    ) -> bool {
        let (channels, rate) = (usize::from(self.format.channels), self.format.sample_rate);
        let samples_in = |d: Duration| frames_in(d, rate) as usize * channels;
        // When the frame this call appends first must be in the output.
        let needed = needed + duration_of((out.len() / channels) as u64, rate);
        let mut feed = self.feed.lock();
        let mut waited = false;
        loop {
            let lead = needed.saturating_duration_since(Instant::now());
            // Live: what arrived longer than RELAY_DELAY before it would go out is dropped.
            feed.keep_newest(samples_in(RELAY_DELAY.saturating_sub(lead)));
            match feed.queue.pop_front() {
                Some(Fed::Audio(samples)) => {
                    feed.samples -= samples.len();
                    drop(feed);
                    if !self.flowing {
                        if self.relayed > 0 {
                            marks.push(("relay resumed".into(), out.len()));
                        } else if self.done > 0 {
                            let silent = duration_of(self.done, self.format.sample_rate);
                            marks.push((
                                format!("relay on air after {:.1} s", silent.as_secs_f64()),
                                out.len(),
                            ));
                        }
                        self.flowing = true;
                    }
                    let before = out.len();
                    out.extend_from_slice(&samples);
                    let more = self.spend(out, marks, before);
                    self.relayed += ((out.len() - before) / channels) as u64;
                    return more;
                }
                Some(Fed::Lost(reason)) => {
                    if self.flowing {
                        marks.push((format!("relay dropped: {reason}"), out.len()));
                        self.flowing = false;
                    }
                    self.last_error = Some(reason);
                }
                None if lead <= RELAY_MARGIN => {
                    // Nothing to air in time: silence holds the stream's place, so the slot
                    // keeps its length and the next programme its instant.
                    drop(feed);
                    let before = out.len();
                    let frames = frames_in(BLOCK, self.format.sample_rate) as usize;
                    out.resize(before + frames * channels, 0.0);
                    return self.spend(out, marks, before);
                }
                None if waited => return true,
                None => {
                    let wait = (lead - RELAY_MARGIN).min(RELAY_POLL);
                    feed = self.feed.wait(feed, wait);
                    waited = true;
                }
            }
        }
    }

    /// Counts what was appended to `out` since `before` against the slot, cutting it (and
    /// marks beyond it) at the slot's end; false once the slot is over.
    fn spend(
        &mut self,
        out: &mut Vec<f32>,
        marks: &mut Vec<(String, usize)>,
        before: usize,
    ) -> bool {
        let channels = usize::from(self.format.channels);
        let left = (self.slot - self.done) as usize;
        if (out.len() - before) / channels >= left {
            out.truncate(before + left * channels);
            marks.retain(|(_, at)| *at < out.len());
        }
        self.done += ((out.len() - before) / channels) as u64;
        if self.done >= self.slot {
            self.feed.quit();
        }
        self.done < self.slot
    }

    fn failure_reason(&self) -> String {
        self.last_error.clone().unwrap_or_else(|| {
            let waited = duration_of(self.done, self.format.sample_rate);
            format!(
                "relay {}: nothing received in {:.1} s",
                self.url,
                waited.as_secs_f64()
            )
        })
    }

    fn outcome(mut self) -> RelayOutcome {
        let failure = (self.relayed == 0).then(|| AudioTrouble::RelayFailed {
            error: self.failure_reason(),
            fallback_aired: self.instead.is_some(),
        });
        RelayOutcome {
            failure,
            fallback: self.instead.take(),
        }
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.feed.quit();
    }
}

/// What a relay's thread hands the player, in stream order.
enum Fed {
    Audio(Vec<f32>),
    /// The connection could not be made, or ended; why (the message names the URL).
    Lost(String),
}

/// The stream between a relay's thread and the player.
#[derive(Default)]
struct Feed {
    queue: VecDeque<Fed>,
    /// Samples of audio in `queue`.
    samples: usize,
    /// Set once the player is done with the stream: the thread ends.
    quit: bool,
}

impl Feed {
    /// Drops the oldest audio until at most `samples` of it are held (whole blocks, so a little
    /// more may stay). Losses stay, in order: the player marks them.
    fn keep_newest(&mut self, samples: usize) {
        while let Some(oldest) = self.queue.iter().position(|f| matches!(f, Fed::Audio(_))) {
            let Fed::Audio(block) = &self.queue[oldest] else {
                break;
            };
            if self.samples - block.len() < samples {
                break;
            }
            self.samples -= block.len();
            self.queue.remove(oldest);
        }
    }
}

#[derive(Default)]
struct FeedShared {
    feed: Mutex<Feed>,
    changed: Condvar,
}

impl FeedShared {
    fn lock(&self) -> MutexGuard<'_, Feed> {
        self.feed.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn wait<'a>(&self, feed: MutexGuard<'a, Feed>, timeout: Duration) -> MutexGuard<'a, Feed> {
        self.changed
            .wait_timeout(feed, timeout)
            .unwrap_or_else(PoisonError::into_inner)
            .0
    }

    /// Hands over `fed`, holding at most `most` samples of audio; false once the player has
    /// let the stream go.
    fn push(&self, fed: Fed, most: usize) -> bool {
        let mut feed = self.lock();
        if feed.quit {
            return false;
        }
        if let Fed::Audio(samples) = &fed {
            feed.samples += samples.len();
        }
        feed.queue.push_back(fed);
        feed.keep_newest(most);
        self.changed.notify_all();
        true
    }

    fn quit(&self) {
        self.lock().quit = true;
        self.changed.notify_all();
    }
}

/// A relay's thread: connects to `url`, hands over the stream's audio (converted to `format`),
/// and reconnects when it fails, until the player lets it go. Each failure is logged and
/// handed over as [`Fed::Lost`].
fn read_stream(url: &str, format: Format, gain: f32, shared: &FeedShared) {
    // While the player does not take the audio (something cut in), hold no more than it would
    // air: the player drops older audio anyway.
    let most = frames_in(RELAY_DELAY, format.sample_rate) as usize * usize::from(format.channels);
    loop {
        let attempt = Instant::now();
        let error = match RelaySource::open(
            url,
            RELAY_TIMEOUT,
            format.sample_rate,
            format.channels,
            gain,
        ) {
            Ok(mut source) => loop {
                let mut block = Vec::new();
                let result = source.fill(&mut block);
                if let Err(_) | Ok(false) = result {
                    // What the converter still held comes out after the error.
                    while let Ok(true) = source.fill(&mut block) {}
                }
                if !block.is_empty() && !shared.push(Fed::Audio(block), most) {
                    return;
                }
                match result {
                    Ok(true) => {}
                    Ok(false) => break format!("{url}: the stream ended"),
                    Err(e) => break e.to_string(),
                }
            },
            Err(e) => e.to_string(),
        };
        tracing::warn!(url, error = %error, "relay: no stream; trying again");
        if !shared.push(Fed::Lost(error), most) {
            return;
        }
        let mut feed = shared.lock();
        while !feed.quit {
            let left = RELAY_RETRY.saturating_sub(attempt.elapsed());
            if left.is_zero() {
                break;
            }
            feed = shared.wait(feed, left);
        }
        if feed.quit {
            return;
        }
    }
}
