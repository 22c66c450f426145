//! Decoding programme audio files into interleaved `f32` samples.
//!
//! Files come from whoever prepares the commune's bulletins, so anything may turn
//! up: a text file renamed to `.mp3`, a half-copied download, a recording with a
//! scratch in it. The decoder has to tell these apart without ever panicking or
//! looping forever: single bad packets are skipped (as every player does), but a
//! stream where audio keeps failing to decode is reported as corrupt, with the
//! position where it went wrong, so a person can find and fix the file.
//!
//! The same decoder also reads live streams (the radio relay): there the bytes
//! come from a socket that cannot seek, and the stream is named by its URL.

use std::fs::File;
use std::io::{self, Read};
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::time::Duration;

use loaxa_core::trouble::{AudioTrouble, Position};
use symphonia::core::codecs::CodecParameters;
use symphonia::core::codecs::audio::well_known::CODEC_ID_AAC;
use symphonia::core::codecs::audio::{AudioDecoder, AudioDecoderOptions, CODEC_ID_NULL_AUDIO};
use symphonia::core::errors::Error as SymphoniaError;
use symphonia::core::formats::probe::Hint;
use symphonia::core::formats::{FormatOptions, FormatReader};
use symphonia::core::io::{MediaSource, MediaSourceStream, ReadOnlySource};
use symphonia::core::meta::MetadataOptions;
use symphonia::core::packet::Packet;

/// More consecutive undecodable packets than this means the stream is not
/// audio any more (or never was: the MP3 reader happily syncs to false frame
/// headers in garbage), rather than a scratch in an otherwise good file.
const MAX_CONSECUTIVE_FAILURES: u32 = 4;

/// A stream where more than one packet in ten fails is corrupt even if the
/// failures are scattered, because the listener would hear it break up.
const MAX_FAILURE_RATIO: u64 = 10;

/// The failure ratio is only judged mid-stream once this many packets have been
/// seen, so one early bad packet does not condemn a long file; at the end of the
/// stream it is judged whatever the count.
const MIN_PACKETS_FOR_RATIO: u64 = 20;

/// Undecodable packets forgiven at the start of a live stream, before its
/// first good one. A relay joins the broadcast wherever the server's buffer
/// starts, usually mid-frame, and a reader may take a false frame header in
/// that partial frame for a real one: symphonia's MP3 reader checks that a
/// second header follows before trusting the first, its ADTS reader does not.
/// (A join mid-frame is otherwise harmless: the MP3 decoder mutes what refers
/// to bit-reservoir bytes it never saw, rather than failing.) A file has no
/// such excuse: its first packet is where its encoder put it.
const STREAM_LEAD_IN_FAILURES: u32 = MAX_CONSECUTIVE_FAILURES;

/// What a file holds, as found by decoding it.
#[derive(Debug, Clone, PartialEq)]
pub struct AudioInfo {
    /// Short codec name: "mp3", "aac", "flac", "vorbis" or "pcm".
    pub codec: String,
    pub sample_rate: u32,
    pub channels: u16,
    /// Length of the decoded audio (after gapless trimming).
    pub duration: Duration,
}

/// Why a file cannot be played. Every message starts with the file's path, so it
/// can be shown as is to whoever manages the programme.
#[derive(Debug, thiserror::Error)]
pub enum AudioError {
    #[error("{}: cannot open: {source}", path.display())]
    Open { path: PathBuf, source: io::Error },

    #[error("{}: read error: {source}", path.display())]
    Read { path: PathBuf, source: io::Error },

    #[error("{}: file is empty", path.display())]
    Empty { path: PathBuf },

    #[error(
        "{}: not a recognised audio format (mp3, aac/m4a, flac, ogg vorbis, wav)",
        path.display()
    )]
    Unrecognised { path: PathBuf },

    #[error(
        "{}: no audio track in a supported codec (mp3, aac, flac, vorbis, pcm)",
        path.display()
    )]
    NoAudioTrack { path: PathBuf },

    #[error("{}: contains no audio", path.display())]
    NoAudio { path: PathBuf },

    #[error("{}: corrupt audio data at {}: {reason}", path.display(), position(*at))]
    Corrupt {
        path: PathBuf,
        /// Position in the decoded audio where the trouble starts.
        at: Duration,
        reason: String,
    },

    #[error("{}: cannot convert to the output format: {source}", path.display())]
    Convert {
        path: PathBuf,
        /// The player's converter (resampler, channel mixer) is not this crate's.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl AudioError {
    /// What went wrong, without the path, as a kind each program's catalogue can word.
    pub fn trouble(&self) -> AudioTrouble {
        match self {
            AudioError::Open { source, .. } => AudioTrouble::CannotOpen {
                file: source.into(),
            },
            AudioError::Read { source, .. } => AudioTrouble::CannotRead {
                file: source.into(),
            },
            AudioError::Empty { .. } => AudioTrouble::Empty,
            AudioError::Unrecognised { .. } => AudioTrouble::Unrecognised,
            AudioError::NoAudioTrack { .. } => AudioTrouble::NoAudioTrack,
            AudioError::NoAudio { .. } => AudioTrouble::NoAudio,
            AudioError::Corrupt { at, reason, .. } => AudioTrouble::Corrupt {
                at_ms: u64::try_from(at.as_millis()).unwrap_or(u64::MAX),
                error: reason.clone(),
            },
            AudioError::Convert { source, .. } => AudioTrouble::Convert {
                error: source.to_string(),
            },
        }
    }
}

/// A stream position on the player's clock (`m:ss.t`).
fn position(at: Duration) -> Position {
    Position(u64::try_from(at.as_millis()).unwrap_or(u64::MAX))
}

/// Whether `path` is airable audio, as schedule loading asks it
/// (`loaxa_core::schedule::AudioCheck`).
pub fn check_file(path: &Path) -> Result<(), AudioTrouble> {
    probe(path).map(|_| ()).map_err(|e| e.trouble())
}

/// Fully decode `path` to check it is playable audio; returns what it found.
/// Used by `loaxa validate`.
pub fn probe(path: &Path) -> Result<AudioInfo, AudioError> {
    let mut decoder = Decoder::open(path)?;
    let channels = usize::from(decoder.channels());
    let mut frames: u64 = 0;
    while let Some(block) = decoder.next_block()? {
        frames += (block.len() / channels) as u64;
    }
    Ok(AudioInfo {
        codec: decoder.codec_name(),
        sample_rate: decoder.sample_rate(),
        channels: decoder.channels(),
        duration: frames_to_duration(frames, decoder.sample_rate()),
    })
}

/// A streaming decoder over one file.
pub struct Decoder {
    path: PathBuf,
    reader: Box<dyn FormatReader>,
    codec: Box<dyn AudioDecoder>,
    track_id: u32,
    sample_rate: u32,
    channels: u16,
    /// The last decoded packet, interleaved; grown to the largest packet so far.
    block: Vec<f32>,
    /// Index in `block` of the first sample handed out (non-zero only while
    /// the start of the stream is being trimmed).
    block_start: usize,
    /// Frames still to drop from the start of the stream: the AAC encoder
    /// delay that an MP4 edit list says to skip (see [`mp4`]).
    skip: u64,
    /// Audio decoded ahead while the start of the stream is being checked
    /// (see [`Decoder::next_block`]); empty once it has been handed out.
    held: Vec<f32>,
    /// Whether the start of the stream has been checked and handed out.
    started: bool,
    /// Frames decoded so far: the position at which an error is reported.
    frames: u64,
    health: Health,
    finished: bool,
}

impl Decoder {
    /// Opens `path`, probes its container and picks the first audio track that
    /// has a decoder. Decodes nothing, unless the container does not say what
    /// sample rate or channel count it holds: then the first packet is decoded
    /// to find out.
    pub fn open(path: &Path) -> Result<Decoder, AudioError> {
        let reader = open_reader(path)?;
        // Symphonia does not apply MP4 edit lists, so AAC in MP4 would start
        // with the encoder's priming frames (1024 or more, over 20 ms) and play
        // late against every other decoder. ADTS streams carry no edit list;
        // ffmpeg plays their priming too, so they are left as they are.
        let priming = |sample_rate| crate::mp4::priming_frames(path, sample_rate);
        Decoder::over(reader, path.to_path_buf(), Health::default(), priming)
    }

    /// Like [`Decoder::open`], over a live stream that can only be read
    /// forwards (the radio relay's socket). `name` (the URL) stands where a
    /// file's path would in errors and logs.
    ///
    /// `hint_extension` ("mp3", "aac" for ADTS, "ogg"), usually taken from the
    /// server's Content-Type, picks the container reader directly. Symphonia's
    /// probe ignores hints and takes the first thing that looks like a format
    /// marker, and a stream joined mid-frame starts with a partial frame in
    /// which anything may look like one. Without a hint, the probe it is.
    ///
    /// A few undecodable packets before the first good one are forgiven (see
    /// [`STREAM_LEAD_IN_FAILURES`]); after that the file rules apply. The
    /// end of the bytes is the end of the stream, as for a file: telling a
    /// dropped connection from a finished programme is the caller's business.
    pub fn open_stream(
        stream: Box<dyn Read + Send + Sync>,
        name: &str,
        hint_extension: Option<&str>,
    ) -> Result<Decoder, AudioError> {
        let path = PathBuf::from(name);
        let source = ReadOnlySource::new(stream);
        let reader = match hint_extension.and_then(stream_reader) {
            Some(new_reader) => {
                let stream = MediaSourceStream::new(Box::new(source), Default::default());
                guarded(move || new_reader(stream, FormatOptions::default()))
                    .map_err(|error| reader_error(&path, error))?
            }
            None => probe_reader(Box::new(source), &Hint::new(), &path)?,
        };
        // A stream joined mid-air has no edit list to read, and its priming
        // went out long ago.
        Decoder::over(reader, path, Health::joining_mid_stream(), |_| 0)
    }

    /// A decoder over `reader`'s first decodable audio track; `priming` says
    /// how many frames to drop from its start at a given sample rate (AAC
    /// only).
    fn over(
        reader: Box<dyn FormatReader>,
        path: PathBuf,
        health: Health,
        priming: impl FnOnce(u32) -> u64,
    ) -> Result<Decoder, AudioError> {
        let (track_id, codec) = pick_track(reader.as_ref())
            .ok_or_else(|| AudioError::NoAudioTrack { path: path.clone() })?;
        let params = codec.codec_params();
        let sample_rate = params.sample_rate.unwrap_or(0);
        let channels = params
            .channels
            .as_ref()
            .map_or(0, |c| channel_count(c.count()));
        let skip = if params.codec == CODEC_ID_AAC && sample_rate != 0 {
            priming(sample_rate)
        } else {
            0
        };
        let mut decoder = Decoder {
            path,
            reader,
            codec,
            track_id,
            sample_rate,
            channels,
            block: Vec::new(),
            block_start: 0,
            skip,
            held: Vec::new(),
            started: false,
            frames: 0,
            health,
            finished: false,
        };
        if decoder.sample_rate == 0 || decoder.channels == 0 {
            decoder.learn_format()?;
        }
        Ok(decoder)
    }

    /// The file's path, or the stream's name (its URL): what errors start with.
    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn sample_rate(&self) -> u32 {
        self.sample_rate
    }

    pub fn channels(&self) -> u16 {
        self.channels
    }

    /// Next block of interleaved f32 samples at the source rate/channels;
    /// `Ok(None)` at the end. After an error the stream is over: further calls
    /// return `Ok(None)`.
    ///
    /// The first call decodes ahead (up to [`MIN_PACKETS_FOR_RATIO`] packets
    /// or a second of audio) and checks that start before handing it out as
    /// one block, so a file that is garbage from the start fails without a
    /// moment of noise reaching the loudspeakers.
    pub fn next_block(&mut self) -> Result<Option<&[f32]>, AudioError> {
        if !std::mem::replace(&mut self.started, true) {
            return self.check_start();
        }
        self.held = Vec::new();
        Ok(if self.decode_next()? {
            Some(self.current_block())
        } else {
            None
        })
    }

    /// The audio of the packet decoded last.
    fn current_block(&self) -> &[f32] {
        self.block.get(self.block_start..).unwrap_or_default()
    }

    /// Decodes the start of the stream into `held` and judges it.
    fn check_start(&mut self) -> Result<Option<&[f32]>, AudioError> {
        let enough = self.sample_rate as usize * usize::from(self.channels);
        while self.health.packets < MIN_PACKETS_FOR_RATIO && self.held.len() < enough {
            if !self.decode_next()? {
                break;
            }
            self.hold_current_block();
        }
        if let Some(verdict) = self.health.verdict_at_end() {
            self.finished = true;
            return Err(self.corrupt(verdict));
        }
        Ok(Some(self.held.as_slice()).filter(|held| !held.is_empty()))
    }

    fn hold_current_block(&mut self) {
        let block = self.block.get(self.block_start..).unwrap_or_default();
        self.held.extend_from_slice(block);
    }

    /// Short codec name of the chosen track, as `AudioInfo` reports it.
    fn codec_name(&self) -> String {
        let name = self.codec.codec_info().short_name;
        // The PCM decoder names every sample layout ("pcm_s16le", "pcm_f32be"…);
        // for the programme they are all just uncompressed audio.
        if name.starts_with("pcm") { "pcm" } else { name }.to_string()
    }

    /// Decodes the first audio packet to take the sample rate and channel count
    /// from it, holding its audio for the first `next_block`.
    fn learn_format(&mut self) -> Result<(), AudioError> {
        if !self.decode_next()? {
            return Err(AudioError::NoAudio {
                path: self.path.clone(),
            });
        }
        self.hold_current_block();
        Ok(())
    }

    /// Decodes packets until one yields audio, which is left in `block`.
    /// Returns false at the end of the stream.
    fn decode_next(&mut self) -> Result<bool, AudioError> {
        if self.finished {
            return Ok(false);
        }
        let result = self.decode_until_audio();
        if !matches!(result, Ok(true)) {
            self.finished = true;
        }
        result
    }

    fn decode_until_audio(&mut self) -> Result<bool, AudioError> {
        while let Some(packet) = self.read_packet()? {
            match self.decode_packet(&packet) {
                Outcome::Audio(frames) => {
                    self.health.succeeded();
                    let kept = self.trim_start(frames);
                    if kept > 0 {
                        self.frames += kept;
                        return Ok(true);
                    }
                }
                Outcome::Skipped(reason) => self.skip_packet(reason)?,
            }
        }
        self.check_at_end()?;
        Ok(false)
    }

    /// Drops what is left of `skip` from the front of the block just decoded
    /// (`frames` long); returns how many frames remain.
    fn trim_start(&mut self, frames: usize) -> u64 {
        let dropped = self.skip.min(frames as u64);
        self.skip -= dropped;
        self.block_start = dropped as usize * usize::from(self.channels);
        frames as u64 - dropped
    }

    /// The next packet of our track; `None` at the normal end of the stream.
    fn read_packet(&mut self) -> Result<Option<Packet>, AudioError> {
        loop {
            let reader = &mut self.reader;
            match guarded(move || reader.next_packet()) {
                Ok(Some(packet)) if packet.track_id == self.track_id => return Ok(Some(packet)),
                Ok(Some(_)) => {} // A packet of another track.
                Ok(None) => return Ok(None),
                // A file cut off inside its last packet.
                Err(SymphoniaError::IoError(e)) if e.kind() == io::ErrorKind::UnexpectedEof => {
                    return Ok(None);
                }
                // The track list changed (a chained stream). None of the enabled
                // readers does this; should one start to, the item ends here
                // rather than playing a track we did not check.
                Err(SymphoniaError::ResetRequired) => {
                    tracing::warn!(
                        path = %self.path.display(),
                        "stream changes its tracks mid-way; ending it here"
                    );
                    return Ok(None);
                }
                Err(SymphoniaError::IoError(source)) => {
                    return Err(AudioError::Read {
                        path: self.path.clone(),
                        source,
                    });
                }
                // A damaged container page (an Ogg CRC mismatch, say): the
                // reader resynchronises on the next call. It counts as a bad
                // packet, so a reader that cannot get past the damage ends in
                // a corrupt-data error rather than a loop.
                Err(error @ SymphoniaError::DecodeError(_)) => {
                    self.skip_packet(error.to_string())?
                }
                Err(e) => return Err(self.corrupt_here(e.to_string())),
            }
        }
    }

    /// Decodes one packet into `block`, or says why it could not be.
    fn decode_packet(&mut self, packet: &Packet) -> Outcome {
        let codec = &mut self.codec;
        match guarded(move || codec.decode(packet)) {
            Ok(decoded) => {
                let spec = decoded.spec();
                let format = (spec.rate(), channel_count(spec.channels().count()));
                if self.sample_rate == 0 || self.channels == 0 {
                    (self.sample_rate, self.channels) = format;
                } else if format != (self.sample_rate, self.channels) {
                    return Outcome::Skipped(format!(
                        "format changes mid-stream from {} Hz × {} channels to {} Hz × {}",
                        self.sample_rate, self.channels, format.0, format.1
                    ));
                }
                decoded.copy_to_vec_interleaved(&mut self.block);
                Outcome::Audio(decoded.frames())
            }
            Err(SymphoniaError::ResetRequired) => {
                self.codec.reset();
                Outcome::Skipped("decoder had to be reset".to_string())
            }
            // Symphonia calls only decode and I/O errors recoverable, but in a
            // damaged packet random bits also read as "unsupported feature"
            // and the like. Every failure is skipped and counted; a stream that
            // really cannot be decoded fails every packet, which `Health` turns
            // into a corrupt-data error after a few.
            Err(e) => Outcome::Skipped(e.to_string()),
        }
    }

    /// Logs a skipped packet, and fails the stream once too many have been.
    fn skip_packet(&mut self, reason: String) -> Result<(), AudioError> {
        tracing::warn!(
            path = %self.path.display(),
            at = %position(self.position()),
            %reason,
            "skipping undecodable audio packet"
        );
        let at = self.position();
        self.health.failed(at, reason);
        if let Some(verdict) = self.health.verdict_mid_stream() {
            return Err(self.corrupt(verdict));
        }
        Ok(())
    }

    fn check_at_end(&self) -> Result<(), AudioError> {
        if let Some(verdict) = self.health.verdict_at_end() {
            return Err(self.corrupt(verdict));
        }
        if self.frames == 0 {
            return Err(AudioError::NoAudio {
                path: self.path.clone(),
            });
        }
        Ok(())
    }

    fn corrupt(&self, verdict: Verdict) -> AudioError {
        AudioError::Corrupt {
            path: self.path.clone(),
            at: verdict.at,
            reason: verdict.reason,
        }
    }

    fn corrupt_here(&self, reason: String) -> AudioError {
        AudioError::Corrupt {
            path: self.path.clone(),
            at: self.position(),
            reason,
        }
    }

    fn position(&self) -> Duration {
        frames_to_duration(self.frames, self.sample_rate)
    }
}

/// What became of one packet.
enum Outcome {
    /// Decoded into this many frames (zero when gapless trimming or a codec's
    /// set-up packet leaves nothing to play).
    Audio(usize),
    /// Could not be decoded, for this reason; the stream may go on.
    Skipped(String),
}

/// Tallies of decode failures, to tell a scratch from a broken stream.
#[derive(Default)]
struct Health {
    packets: u64,
    failures: u64,
    consecutive: u32,
    first_failure: Option<(Duration, String)>,
    /// Failures still to forgive, as long as no packet has decoded yet.
    lead_in: u32,
}

/// Why a stream is judged corrupt, and where its trouble started.
struct Verdict {
    at: Duration,
    reason: String,
}

impl Health {
    /// For a live stream, which may be joined mid-frame.
    fn joining_mid_stream() -> Health {
        Health {
            lead_in: STREAM_LEAD_IN_FAILURES,
            ..Health::default()
        }
    }

    fn succeeded(&mut self) {
        self.packets += 1;
        self.consecutive = 0;
        self.lead_in = 0;
    }

    fn failed(&mut self, at: Duration, reason: String) {
        if self.lead_in > 0 {
            self.lead_in -= 1;
            return;
        }
        self.packets += 1;
        self.failures += 1;
        self.consecutive += 1;
        self.first_failure.get_or_insert((at, reason));
    }

    fn verdict_mid_stream(&self) -> Option<Verdict> {
        if self.consecutive > MAX_CONSECUTIVE_FAILURES {
            return self.verdict(format!(
                "{} packets in a row failed to decode",
                self.consecutive
            ));
        }
        if self.packets >= MIN_PACKETS_FOR_RATIO {
            return self.verdict_at_end();
        }
        None
    }

    fn verdict_at_end(&self) -> Option<Verdict> {
        if self.failures * MAX_FAILURE_RATIO > self.packets {
            return self.verdict(format!(
                "{} of {} packets failed to decode",
                self.failures, self.packets
            ));
        }
        None
    }

    fn verdict(&self, summary: String) -> Option<Verdict> {
        let (at, first) = self.first_failure.as_ref()?;
        Some(Verdict {
            at: *at,
            reason: format!("{summary} (first: {first})"),
        })
    }
}

/// Opens the file and finds a container reader for it.
fn open_reader(path: &Path) -> Result<Box<dyn FormatReader>, AudioError> {
    let file = File::open(path).map_err(|source| AudioError::Open {
        path: path.to_path_buf(),
        source,
    })?;
    let metadata = file.metadata().map_err(|source| AudioError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    if metadata.is_dir() {
        let source = io::Error::new(io::ErrorKind::IsADirectory, "is a directory");
        return Err(AudioError::Open {
            path: path.to_path_buf(),
            source,
        });
    }
    if metadata.len() == 0 {
        return Err(AudioError::Empty {
            path: path.to_path_buf(),
        });
    }
    let mut hint = Hint::new();
    if let Some(extension) = path.extension().and_then(|e| e.to_str()) {
        hint.with_extension(extension);
    }
    probe_reader(Box::new(file), &hint, path)
}

/// Finds a container reader for `source` by its format markers.
fn probe_reader(
    source: Box<dyn MediaSource>,
    hint: &Hint,
    path: &Path,
) -> Result<Box<dyn FormatReader>, AudioError> {
    let stream = MediaSourceStream::new(source, Default::default());
    let probed = guarded(move || {
        symphonia::default::get_probe().probe(
            hint,
            stream,
            FormatOptions::default(),
            MetadataOptions::default(),
        )
    });
    probed.map_err(|error| reader_error(path, error))
}

/// What a failure to set up a container reader means for the programme.
fn reader_error(path: &Path, error: SymphoniaError) -> AudioError {
    match error {
        SymphoniaError::IoError(source) if source.kind() != io::ErrorKind::UnexpectedEof => {
            AudioError::Read {
                path: path.to_path_buf(),
                source,
            }
        }
        // The container was recognised, but its headers are damaged.
        error @ SymphoniaError::DecodeError(_) => AudioError::Corrupt {
            path: path.to_path_buf(),
            at: Duration::ZERO,
            reason: error.to_string(),
        },
        _ => AudioError::Unrecognised {
            path: path.to_path_buf(),
        },
    }
}

/// Makes a container reader for a live stream in the format `extension`
/// names, for the formats that are broadcast as a plain byte stream.
type NewReader = fn(
    MediaSourceStream<'static>,
    FormatOptions,
) -> symphonia::core::errors::Result<Box<dyn FormatReader>>;

fn stream_reader(extension: &str) -> Option<NewReader> {
    use symphonia::default::formats::{AdtsReader, MpaReader, OggReader};
    match extension.to_ascii_lowercase().as_str() {
        "mp3" | "mp2" | "mpa" => {
            Some(|stream, options| Ok(Box::new(MpaReader::try_new(stream, options)?)))
        }
        "aac" | "adts" => {
            Some(|stream, options| Ok(Box::new(AdtsReader::try_new(stream, options)?)))
        }
        "ogg" | "oga" => Some(|stream, options| Ok(Box::new(OggReader::try_new(stream, options)?))),
        _ => None,
    }
}

/// The first track that is audio in a codec we can decode, with its decoder.
fn pick_track(reader: &dyn FormatReader) -> Option<(u32, Box<dyn AudioDecoder>)> {
    let codecs = symphonia::default::get_codecs();
    reader.tracks().iter().find_map(|track| {
        let Some(CodecParameters::Audio(params)) = &track.codec_params else {
            return None;
        };
        if params.codec == CODEC_ID_NULL_AUDIO {
            return None;
        }
        let decoder = codecs
            .make_audio_decoder(params, &AudioDecoderOptions::default())
            .ok()?;
        Some((track.id, decoder))
    })
}

/// Runs a symphonia call, turning a panic inside it into a decode error.
/// Symphonia's readers and decoders are not fuzz-proof, and the player thread
/// must survive whatever file it is handed.
fn guarded<T>(
    call: impl FnOnce() -> symphonia::core::errors::Result<T>,
) -> symphonia::core::errors::Result<T> {
    panic::catch_unwind(AssertUnwindSafe(call)).unwrap_or(Err(SymphoniaError::DecodeError(
        "the decoder crashed on malformed data",
    )))
}

fn channel_count(count: usize) -> u16 {
    u16::try_from(count).unwrap_or(u16::MAX)
}

fn frames_to_duration(frames: u64, sample_rate: u32) -> Duration {
    if sample_rate == 0 {
        return Duration::ZERO;
    }
    let nanos = u128::from(frames) * 1_000_000_000 / u128::from(sample_rate);
    Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use std::f32::consts::TAU;

    use super::*;

    fn fixture(name: &str) -> PathBuf {
        Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
            .join("tests/fixtures")
            .join(name)
    }

    fn assert_probes_as(name: &str, codec: &str, sample_rate: u32, channels: u16) {
        let info = probe(&fixture(name)).unwrap();
        assert_eq!(
            (info.codec.as_str(), info.sample_rate, info.channels),
            (codec, sample_rate, channels)
        );
        let seconds = info.duration.as_secs_f64();
        assert!((0.99..1.05).contains(&seconds), "{name} lasts {seconds} s");
    }

    fn error_message(name: &str) -> String {
        let path = fixture(name);
        let message = probe(&path).unwrap_err().to_string();
        let prefix = format!("{}: ", path.display());
        message
            .strip_prefix(&prefix)
            .unwrap_or_else(|| panic!("{message} does not name the file"))
            .to_string()
    }

    /// Decodes the first channel of a fixture.
    fn first_channel(name: &str) -> Vec<f32> {
        let mut decoder = Decoder::open(&fixture(name)).unwrap();
        let channels = usize::from(decoder.channels());
        let mut samples = Vec::new();
        while let Some(block) = decoder.next_block().unwrap() {
            samples.extend(block.iter().step_by(channels));
        }
        samples
    }

    /// The lag (in frames, within ±40, under half a period of the tone) at
    /// which `samples` best matches the fixtures' 440 Hz sine, which starts
    /// at sample 0.
    fn lag_against_the_source_tone(samples: &[f32], sample_rate: u32) -> i64 {
        let source = |frame: i64| (TAU * 440.0 * frame as f32 / sample_rate as f32).sin();
        let error = |lag: i64| -> f32 {
            (2000..samples.len() as i64 - 2000)
                .map(|frame| (samples[frame as usize] - 0.5 * source(frame - lag)).powi(2))
                .sum()
        };
        (-40..=40)
            .min_by(|&a, &b| error(a).total_cmp(&error(b)))
            .unwrap()
    }

    #[test]
    fn a_44k_stereo_mp3_probes_as_one_second_of_44100_hz_stereo_mp3() {
        assert_probes_as("tone-44k-stereo.mp3", "mp3", 44100, 2);
    }

    #[test]
    fn a_22k_mono_mp3_probes_as_one_second_of_22050_hz_mono_mp3() {
        assert_probes_as("tone-22k-mono.mp3", "mp3", 22050, 1);
    }

    #[test]
    fn a_flac_file_probes_as_one_second_of_44100_hz_stereo_flac() {
        assert_probes_as("tone.flac", "flac", 44100, 2);
    }

    #[test]
    fn an_ogg_vorbis_file_probes_as_one_second_of_44100_hz_stereo_vorbis() {
        assert_probes_as("tone.ogg", "vorbis", 44100, 2);
    }

    #[test]
    fn an_m4a_file_probes_as_one_second_of_44100_hz_stereo_aac() {
        assert_probes_as("tone.m4a", "aac", 44100, 2);
    }

    #[test]
    fn a_wav_file_probes_as_one_second_of_22050_hz_mono_pcm() {
        assert_probes_as("tone.wav", "pcm", 22050, 1);
    }

    #[test]
    fn an_empty_file_is_reported_as_empty() {
        assert_eq!(error_message("empty.mp3"), "file is empty");
    }

    #[test]
    fn a_text_file_named_mp3_is_not_a_recognised_audio_format() {
        assert_eq!(
            error_message("text.mp3"),
            "not a recognised audio format (mp3, aac/m4a, flac, ogg vorbis, wav)"
        );
    }

    #[test]
    fn an_mp3_header_followed_by_garbage_is_corrupt_from_the_start() {
        let message = error_message("corrupt.mp3");
        assert!(
            message.starts_with("corrupt audio data at 0:00.0: "),
            "{message}"
        );
        assert!(message.contains("failed to decode"), "{message}");
    }

    #[test]
    fn garbage_from_the_start_fails_before_any_audio_is_handed_out() {
        let mut decoder = Decoder::open(&fixture("corrupt.mp3")).unwrap();
        assert!(matches!(
            decoder.next_block(),
            Err(AudioError::Corrupt { .. })
        ));
        assert!(
            decoder.next_block().unwrap().is_none(),
            "the stream is over after its error"
        );
    }

    #[test]
    fn a_missing_file_cannot_be_opened() {
        assert_eq!(
            error_message("missing.mp3"),
            "cannot open: No such file or directory (os error 2)"
        );
    }

    #[test]
    fn a_directory_cannot_be_opened() {
        let dir = tempfile::tempdir().unwrap();
        let message = probe(dir.path()).unwrap_err().to_string();
        assert_eq!(
            message,
            format!("{}: cannot open: is a directory", dir.path().display())
        );
    }

    #[test]
    fn random_bytes_are_refused_without_panicking_or_hanging() {
        let dir = tempfile::tempdir().unwrap();
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        for (index, len) in [1, 7, 100, 4096, 30_000, 200_000].into_iter().enumerate() {
            let bytes: Vec<u8> = (0..len)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    state as u8
                })
                .collect();
            for extension in ["mp3", "m4a", "ogg", "flac", "wav"] {
                let path = dir.path().join(format!("noise-{index}.{extension}"));
                std::fs::write(&path, &bytes).unwrap();
                match probe(&path) {
                    Err(
                        AudioError::Unrecognised { .. }
                        | AudioError::Corrupt { .. }
                        | AudioError::NoAudio { .. },
                    ) => {}
                    other => panic!("{len} random bytes as .{extension} gave {other:?}"),
                }
            }
        }
    }

    #[test]
    fn a_truncated_mp3_plays_the_part_that_is_there() {
        let dir = tempfile::tempdir().unwrap();
        let whole = std::fs::read(fixture("tone-44k-stereo.mp3")).unwrap();
        let path = dir.path().join("half.mp3");
        std::fs::write(&path, &whole[..whole.len() / 2]).unwrap();
        let seconds = probe(&path).unwrap().duration.as_secs_f64();
        assert!(
            (0.4..0.6).contains(&seconds),
            "half the file lasts {seconds} s"
        );
    }

    #[test]
    fn an_undecodable_frame_in_a_good_mp3_is_skipped_without_failing_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let mut bytes = std::fs::read(fixture("tone-44k-stereo.mp3")).unwrap();
        // Relabel a frame in the middle as 48 kHz: the decoder refuses a
        // frame whose format differs from the stream's.
        let frame = (bytes.len() / 2..)
            .find(|&at| bytes[at..at + 3] == [0xFF, 0xFB, 0x90])
            .unwrap();
        bytes[frame + 2] |= 0b0000_0100;
        let path = dir.path().join("scratched.mp3");
        std::fs::write(&path, &bytes).unwrap();
        let seconds = probe(&path).unwrap().duration.as_secs_f64();
        assert!(
            (0.9..1.0).contains(&seconds),
            "the scratched file lasts {seconds} s"
        );
    }

    #[test]
    fn a_damaged_ogg_page_is_skipped_without_failing_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let mut bytes = std::fs::read(fixture("tone.ogg")).unwrap();
        // The fixture has 0.1 s pages; damage the end of one in the middle.
        let page = (bytes.len() * 3 / 4..)
            .find(|&at| bytes[at..].starts_with(b"OggS"))
            .unwrap();
        bytes[page - 20] ^= 0xFF;
        let path = dir.path().join("scratched.ogg");
        std::fs::write(&path, &bytes).unwrap();
        let seconds = probe(&path).unwrap().duration.as_secs_f64();
        assert!(
            (0.85..0.95).contains(&seconds),
            "the scratched file lasts {seconds} s, not 0.9 s"
        );
    }

    #[test]
    fn the_decoder_knows_the_format_before_decoding_and_yields_whole_frames() {
        let mut decoder = Decoder::open(&fixture("tone-44k-stereo.mp3")).unwrap();
        assert_eq!((decoder.sample_rate(), decoder.channels()), (44100, 2));
        let mut samples = 0;
        while let Some(block) = decoder.next_block().unwrap() {
            assert_eq!(block.len() % 2, 0);
            samples += block.len();
        }
        assert_eq!(
            samples,
            2 * 44100,
            "gapless MP3 decodes to exactly the encoded length"
        );
        assert!(decoder.next_block().unwrap().is_none());
    }

    #[test]
    fn every_format_decodes_in_time_with_the_source() {
        for (name, rate) in [
            ("tone-44k-stereo.mp3", 44100),
            ("tone-22k-mono.mp3", 22050),
            ("tone.flac", 44100),
            ("tone.ogg", 44100),
            ("tone.m4a", 44100),
            ("tone.wav", 22050),
        ] {
            let lag = lag_against_the_source_tone(&first_channel(name), rate);
            assert!(lag.abs() <= 1, "{name} is {lag} frames off");
        }
    }

    #[test]
    fn the_aac_priming_is_read_from_the_mp4_edit_list() {
        assert_eq!(
            crate::mp4::priming_frames(&fixture("tone.m4a"), 44100),
            1024
        );
        assert_eq!(
            crate::mp4::priming_frames(&fixture("tone-44k-stereo.mp3"), 44100),
            0
        );
    }

    #[test]
    fn positions_read_as_minutes_seconds_and_tenths() {
        assert_eq!(position(Duration::from_millis(3_250)).to_string(), "0:03.2");
        assert_eq!(
            position(Duration::from_millis(754_990)).to_string(),
            "12:34.9"
        );
    }

    /// The fixture `name` as a live stream (a reader that cannot seek),
    /// joined `offset` bytes in.
    fn stream_of(name: &str, offset: usize, hint: Option<&str>) -> Result<Decoder, AudioError> {
        let bytes = std::fs::read(fixture(name)).unwrap();
        let stream = io::Cursor::new(bytes[offset..].to_vec());
        Decoder::open_stream(Box::new(stream), "http://radio.test/vov1", hint)
    }

    fn frames_to_the_end(decoder: &mut Decoder) -> usize {
        let channels = usize::from(decoder.channels());
        let mut frames = 0;
        while let Some(block) = decoder.next_block().unwrap() {
            frames += block.len() / channels;
        }
        frames
    }

    #[test]
    fn a_stream_decodes_to_the_same_audio_as_the_file_it_carries() {
        for hint in [Some("mp3"), None] {
            let mut decoder = stream_of("tone-44k-stereo.mp3", 0, hint).unwrap();
            assert_eq!((decoder.sample_rate(), decoder.channels()), (44100, 2));
            assert_eq!(frames_to_the_end(&mut decoder), 44100, "hint {hint:?}");
        }
    }

    #[test]
    fn a_stream_joined_mid_frame_is_not_mistaken_for_corruption() {
        // The fixture's frames are 417 or 418 bytes: this joins at every
        // kind of place in the first five of them.
        for offset in (1..2100).step_by(37) {
            let mut decoder = stream_of("tone-44k-stereo.mp3", offset, Some("mp3"))
                .unwrap_or_else(|e| panic!("joined at byte {offset}: {e}"));
            let frames = frames_to_the_end(&mut decoder);
            assert!(frames > 38_000, "joined at byte {offset}: {frames} frames");
        }
    }

    #[test]
    fn a_stream_that_is_not_audio_is_refused_under_its_name() {
        for hint in [Some("mp3"), Some("aac"), None] {
            let stream = io::Cursor::new(b"<html>Service Unavailable</html>".to_vec());
            let error = Decoder::open_stream(Box::new(stream), "http://radio.test/vov1", hint)
                .err()
                .unwrap();
            assert_eq!(
                error.to_string(),
                "http://radio.test/vov1: not a recognised audio format \
                 (mp3, aac/m4a, flac, ogg vorbis, wav)",
                "hint {hint:?}"
            );
        }
    }

    /// Feeds packet outcomes (true: decoded) to a `Health` the way the
    /// decoder does, returning the first verdict.
    fn verdict_for(outcomes: &[bool]) -> Option<Verdict> {
        verdict_with(Health::default(), outcomes)
    }

    fn verdict_with(mut health: Health, outcomes: &[bool]) -> Option<Verdict> {
        for (index, &decoded) in outcomes.iter().enumerate() {
            if decoded {
                health.succeeded();
                continue;
            }
            health.failed(
                Duration::from_millis(26 * index as u64),
                format!("bad packet {index}"),
            );
            if let Some(verdict) = health.verdict_mid_stream() {
                return Some(verdict);
            }
        }
        health.verdict_at_end()
    }

    #[test]
    fn five_undecodable_packets_in_a_row_make_a_stream_corrupt_from_the_first() {
        let mut outcomes = vec![true; 100];
        outcomes[40..45].fill(false);
        let verdict = verdict_for(&outcomes).unwrap();
        assert_eq!(verdict.at, Duration::from_millis(26 * 40));
        assert_eq!(
            verdict.reason,
            "5 packets in a row failed to decode (first: bad packet 40)"
        );
    }

    #[test]
    fn four_undecodable_packets_in_a_row_are_a_scratch_not_corruption() {
        let mut outcomes = vec![true; 100];
        outcomes[40..44].fill(false);
        assert!(verdict_for(&outcomes).is_none());
    }

    #[test]
    fn scattered_bad_packets_under_one_in_ten_are_tolerated() {
        let outcomes: Vec<bool> = (0..100).map(|index| index % 12 != 5).collect();
        assert!(verdict_for(&outcomes).is_none());
    }

    #[test]
    fn scattered_bad_packets_over_one_in_ten_make_a_stream_corrupt_once_enough_are_seen() {
        let outcomes: Vec<bool> = (0..100).map(|index| index % 5 != 2).collect();
        let verdict = verdict_for(&outcomes).unwrap();
        assert_eq!(verdict.at, Duration::from_millis(26 * 2));
        assert_eq!(
            verdict.reason,
            "5 of 23 packets failed to decode (first: bad packet 2)"
        );
    }

    #[test]
    fn a_short_stream_with_too_many_bad_packets_is_corrupt_at_its_end() {
        let verdict = verdict_for(&[true, false, true, true, true]).unwrap();
        assert_eq!(
            verdict.reason,
            "1 of 5 packets failed to decode (first: bad packet 1)"
        );
    }

    #[test]
    fn a_stream_forgives_four_bad_packets_before_its_first_good_one() {
        let mut outcomes = vec![false; 4];
        outcomes.extend([true; 30]);
        assert!(verdict_with(Health::joining_mid_stream(), &outcomes).is_none());
        assert!(
            verdict_for(&outcomes).is_some(),
            "a file gets no such allowance"
        );
    }

    #[test]
    fn a_stream_that_never_decodes_is_corrupt_once_its_lead_in_is_used_up() {
        let verdict = verdict_with(Health::joining_mid_stream(), &[false; 20]).unwrap();
        assert_eq!(
            verdict.reason,
            "5 packets in a row failed to decode (first: bad packet 4)"
        );
    }

    #[test]
    fn after_its_first_good_packet_a_stream_is_judged_like_a_file() {
        let mut outcomes = vec![true; 100];
        outcomes[40..45].fill(false);
        let verdict = verdict_with(Health::joining_mid_stream(), &outcomes).unwrap();
        assert_eq!(verdict.at, Duration::from_millis(26 * 40));
    }
}
