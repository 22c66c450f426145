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
//! The player writes at most [`AHEAD`] ahead of what is going out, so a cut-in is heard within
//! that plus the fade.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError, TryRecvError};
use std::thread::JoinHandle;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::amp::Amp;
use crate::audio::chime::{attention_tone, chime};
use crate::audio::convert::Source;
use crate::audio::output::{Format, Output, OutputError};
use crate::schedule::{Item, Priority, Program};

/// How long what is on air takes to fade out when something cuts in.
pub const FADE: Duration = Duration::from_millis(250);
/// How long a resumed programme takes to fade back in.
const FADE_IN: Duration = Duration::from_millis(50);
/// How far ahead of the loudspeaker the player writes: the bound on how late a cut-in starts
/// fading (on top of the fade itself).
const AHEAD: Duration = Duration::from_millis(1000);
/// Most frames written at once.
const BLOCK: Duration = Duration::from_millis(50);

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
    StopCurrent,
    Volume(f32),
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
    pub items_failed: Vec<(String, String)>,
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
    /// Ended early on purpose: an operator's stop, or a cut-in it does not resume after.
    Cut(String),
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

impl Player {
    pub fn start(output: Output, amp: Amp) -> std::io::Result<Player> {
        let (commands, inbox) = mpsc::channel();
        let (outbox, reports) = tokio::sync::mpsc::unbounded_channel();
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let stop = Arc::clone(&stop);
            std::thread::Builder::new()
                .name("loaxa-player".into())
                .spawn(move || run(output, amp, &inbox, &outbox, &stop))?
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
    pub fn stop_current(&self) -> bool {
        self.send(Command::StopCurrent)
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
    mut output: Output,
    mut amp: Amp,
    inbox: &mpsc::Receiver<Command>,
    reports: &Reports,
    stop: &AtomicBool,
) {
    let mut volume = 1.0;
    let mut waiting = VecDeque::new();
    while !stop.load(Ordering::Acquire) {
        let request = match waiting.pop_front() {
            Some(request) => request,
            None => {
                let wait = if amp.is_on() {
                    amp.tail()
                } else {
                    Duration::from_secs(3600)
                };
                match inbox.recv_timeout(wait) {
                    // Nothing is on air, so a cut-in simply airs.
                    Ok(Command::Air(request) | Command::CutIn { request, .. }) => request,
                    Ok(Command::Volume(v)) => {
                        volume = v;
                        continue;
                    }
                    Ok(Command::StopCurrent) => continue,
                    Err(RecvTimeoutError::Timeout) => {
                        amp.switch_off();
                        continue;
                    }
                    Err(RecvTimeoutError::Disconnected) => break,
                }
            }
        };
        if stop.load(Ordering::Acquire) {
            break;
        }
        let mut session = Session {
            output: &mut output,
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
    }
    amp.switch_off();
}

/// One programme on the timeline, with what it still has to air.
struct Layer {
    request: AirRequest,
    items: Items,
    /// Converted samples ready to go out, and the item starts among them (sample offsets).
    ready: Vec<f32>,
    ready_starts: Vec<(String, usize)>,
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
            ready_starts: Vec::new(),
            exhausted: false,
            fade_in: 0,
            first_frame: None,
            marks: Vec::new(),
        }
    }

    /// Decodes until `frames` are ready (or the programme ends).
    fn prepare(&mut self, frames: usize, channels: usize) {
        while self.ready.len() < frames * channels && !self.exhausted {
            let before = self.ready.len();
            let mut starts = Vec::new();
            if !self.items.fill(&mut self.ready, &mut starts) {
                self.exhausted = true;
            }
            self.ready_starts
                .extend(starts.into_iter().map(|(item, at)| (item, at + before)));
        }
    }

    /// Takes up to `frames` ready frames, noting the item starts among them at `written`.
    fn take(&mut self, frames: usize, channels: usize, written: u64) -> Vec<f32> {
        self.prepare(frames, channels);
        let n = frames.min(self.ready.len() / channels) * channels;
        let block: Vec<f32> = self.ready.drain(..n).collect();
        let (now, later): (Vec<_>, Vec<_>) = std::mem::take(&mut self.ready_starts)
            .into_iter()
            .partition(|(_, at)| *at < n.max(1) && !block.is_empty());
        for (item, at) in now {
            self.marks
                .push((format!("item {item}"), written + (at / channels) as u64));
        }
        self.ready_starts = later.into_iter().map(|(i, at)| (i, at - n)).collect();
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
        let mut layer = Layer::new(first, format);
        layer.prepare(format.sample_rate as usize, channels);
        amp.switch_on(self.stop);
        self.output.start_segment(layer.request.start_at);
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
        let frames_of = |d: Duration| (d.as_secs_f64() * f64::from(format.sample_rate)) as u64;
        let (fade, fade_in, ahead, block) = (
            frames_of(FADE),
            frames_of(FADE_IN),
            frames_of(AHEAD),
            frames_of(BLOCK) as usize,
        );
        loop {
            self.commands(inbox, format, fade)?;
            if let Some((_, at, _)) = &self.pending_cut
                && self.written + fade >= *at
            {
                self.cut(fade, fade_in, channels)?;
            }
            let Some(top) = self.stack.last_mut() else {
                return Ok(());
            };
            // Do not write past the point where a pending cut must begin fading.
            let room = match &self.pending_cut {
                Some((_, at, _)) => (at.saturating_sub(fade + self.written) as usize).max(1),
                None => block,
            };
            let mut samples = top.take(block.min(room), channels, self.written);
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
                let ramp = if (i as u64) < fade_left {
                    (fade_in - fade_left + i as u64) as f32 / fade_in as f32
                } else {
                    1.0
                };
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
            if self.stop.load(Ordering::Acquire) {
                return Err(OutputError::Stopped);
            }
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
                    );
                    self.pending_cut = Some((layer, at, resume));
                }
                Ok(Command::StopCurrent) => {
                    if let Some(top) = self.stack.last_mut() {
                        top.marks.push(("fading out: stop".into(), self.written));
                    }
                    self.fade_out_top(fade, usize::from(format.channels))?;
                    self.finish_top(Ending::Cut("stopped by the operator".into()));
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
            self.finish_top(Ending::Cut(format!("cut by {by}, not resumed")));
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
        let Some(top) = self.stack.last_mut() else {
            return Ok(());
        };
        top.prepare(fade as usize, channels);
        let n = (fade as usize).min(top.ready.len() / channels);
        let mut faded: Vec<f32> = top.ready[..n * channels].to_vec();
        for (i, frame) in faded.chunks_mut(channels).enumerate() {
            let gain = 1.0 - i as f32 / fade as f32;
            frame.iter_mut().for_each(|s| *s *= *self.volume * gain);
        }
        self.write(&faded, u64::MAX, channels)
    }

    /// The timeline frame that goes out at `instant` (before frame 0: frame 0).
    fn frame_at(&self, instant: DateTime<Utc>, format: Format) -> u64 {
        let origin = self.output.segment_start().unwrap_or(self.origin);
        let nanos = (instant - origin).num_nanoseconds().unwrap_or(0).max(0);
        (nanos as u128 * u128::from(format.sample_rate) / 1_000_000_000) as u64
    }

    fn instant_of(&self, frame: u64) -> DateTime<Utc> {
        let origin = self.output.segment_start().unwrap_or(self.origin);
        self.output.after(origin, frame)
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
    failed: Vec<(String, String)>,
}

enum ItemSource {
    Tone(Option<Vec<f32>>),
    File(Box<Source>),
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

    /// Appends the next frames to `out`, noting in `starts` where an item's first sample
    /// landed; false once every item is done (failed ones skipped).
    fn fill(&mut self, out: &mut Vec<f32>, starts: &mut Vec<(String, usize)>) -> bool {
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
                        starts.push((item.to_string(), out.len()));
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
                        self.fail(&item, e.to_string());
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
            Item::File { path, .. } => {
                Source::open(path, self.format.sample_rate, self.format.channels, volume)
                    .map(|s| ItemSource::File(Box::new(s)))
                    .map_err(|e| e.to_string())
            }
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
