//! Reads the encoder delay of an MP4 file's audio track from its edit list.
//!
//! AAC encoders put "priming" frames before the audio, and MP4 files say how
//! many in the first entry of the track's edit list (`moov/trak/edts/elst`),
//! counted in the track's time scale (`mdia/mdhd`). ffmpeg and every player skip
//! them; this module finds the number so the decoder can too. Anything missing
//! or malformed gives 0: then the file plays as symphonia decodes it.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

/// `moov` is read whole; a claim larger than this is not a file we trust
/// (an hour of AAC needs about 1 MB of tables).
const MAX_MOOV_BYTES: u64 = 32 << 20;

/// Frames at `sample_rate` to skip at the start of the first audio track.
pub fn priming_frames(path: &Path, sample_rate: u32) -> u64 {
    priming(path, sample_rate).unwrap_or(0)
}

fn priming(path: &Path, sample_rate: u32) -> Option<u64> {
    let moov = read_moov(path)?;
    let (_, trak) = children(&moov).find(|&(kind, trak)| kind == b"trak" && is_audio(trak))?;
    let media_time = u128::from(first_edit_start(trak)?);
    let frames = media_time * u128::from(sample_rate) / u128::from(media_timescale(trak)?);
    u64::try_from(frames).ok()
}

/// Walks the top-level boxes of the file to the `moov` box and reads its
/// contents. `moov` may come before or after the audio data.
fn read_moov(path: &Path) -> Option<Vec<u8>> {
    let mut file = File::open(path).ok()?;
    let mut first = true;
    loop {
        let mut header = [0u8; 8];
        file.read_exact(&mut header).ok()?;
        let kind: [u8; 4] = header[4..8].try_into().ok()?;
        if std::mem::take(&mut first) && &kind != b"ftyp" {
            return None;
        }
        let body = box_body_len(&mut file, &header)?;
        if &kind == b"moov" {
            if body > MAX_MOOV_BYTES {
                return None;
            }
            let mut moov = vec![0; usize::try_from(body).ok()?];
            file.read_exact(&mut moov).ok()?;
            return Some(moov);
        }
        file.seek(SeekFrom::Current(i64::try_from(body).ok()?))
            .ok()?;
    }
}

/// Length of a box's contents after its header, reading the 64-bit size
/// when the box has one. Boxes that run to the end of the file (size 0)
/// are not followed.
fn box_body_len(file: &mut File, header: &[u8; 8]) -> Option<u64> {
    match u32::from_be_bytes(header[0..4].try_into().ok()?) {
        1 => {
            let mut large = [0u8; 8];
            file.read_exact(&mut large).ok()?;
            u64::from_be_bytes(large).checked_sub(16)
        }
        size => u64::from(size).checked_sub(8).filter(|_| size != 0),
    }
}

/// The boxes inside `data`, as (type, contents). Stops at the first box
/// whose size does not fit.
fn children(data: &[u8]) -> impl Iterator<Item = (&[u8], &[u8])> {
    let mut rest = data;
    std::iter::from_fn(move || {
        let size = usize::try_from(u32::from_be_bytes(rest.get(0..4)?.try_into().ok()?)).ok()?;
        let (header, size) = match size {
            1 => (
                16,
                usize::try_from(u64::from_be_bytes(rest.get(8..16)?.try_into().ok()?)).ok()?,
            ),
            0 => (8, rest.len()),
            size => (8, size),
        };
        let item = (rest.get(4..8)?, rest.get(header..size)?);
        rest = &rest[size..];
        Some(item)
    })
}

fn child<'a>(data: &'a [u8], kind: &[u8; 4]) -> Option<&'a [u8]> {
    children(data)
        .find(|(k, _)| k == kind)
        .map(|(_, body)| body)
}

fn is_audio(trak: &[u8]) -> bool {
    let handler = child(trak, b"mdia").and_then(|mdia| child(mdia, b"hdlr"));
    handler.and_then(|hdlr| hdlr.get(8..12)) == Some(b"soun".as_slice())
}

fn media_timescale(trak: &[u8]) -> Option<u64> {
    let mdhd = child(child(trak, b"mdia")?, b"mdhd")?;
    let at = if *mdhd.first()? == 1 { 20 } else { 12 };
    let timescale = u32::from_be_bytes(mdhd.get(at..at + 4)?.try_into().ok()?);
    Some(u64::from(timescale)).filter(|&t| t > 0)
}

/// Media time where the first non-empty edit starts playing.
fn first_edit_start(trak: &[u8]) -> Option<u64> {
    let elst = child(child(trak, b"edts")?, b"elst")?;
    let wide = *elst.first()? == 1;
    let count = u32::from_be_bytes(elst.get(4..8)?.try_into().ok()?);
    let entry_len = if wide { 20 } else { 12 };
    let entries = elst.get(8..)?.chunks_exact(entry_len);
    entries
        .take(usize::try_from(count).ok()?)
        .find_map(|entry| {
            let media_time = if wide {
                i64::from_be_bytes(entry.get(8..16)?.try_into().ok()?)
            } else {
                i64::from(i32::from_be_bytes(entry.get(4..8)?.try_into().ok()?))
            };
            // -1 marks an empty edit (a pause before the media starts).
            u64::try_from(media_time).ok()
        })
}
