//! How loud each audio file is, measured once (EBU R128, `audio::loudness`) and remembered in
//! the store, so that a quiet phone recording and a loud studio file come out of the
//! loudspeakers at the same level without decoding anything twice at air time.

use std::path::Path;
use std::time::UNIX_EPOCH;

use crate::audio::loudness::{Loudness, measure_file, playback_gain};
use crate::store::Store;

/// The file's loudness: from the store if it was measured as it is now (same size and
/// modification time), otherwise measured and stored. None if it cannot be read or decoded
/// (airing it will fail and say why).
pub fn measured(store: &mut Store, path: &Path) -> Option<Loudness> {
    let meta = std::fs::metadata(path).ok()?;
    let modified = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos() as i64);
    if let Ok(Some(known)) = store.loudness(path, meta.len(), modified) {
        return Some(known);
    }
    let started = std::time::Instant::now();
    let loudness = measure_file(path).ok()?;
    tracing::info!(
        path = %path.display(),
        lufs = loudness.integrated_lufs.map_or("silent".into(), |l| format!("{l:.1}")),
        true_peak_dbtp = loudness.true_peak_dbtp.map_or("-".into(), |p| format!("{p:.1}")),
        took_ms = started.elapsed().as_millis() as u64,
        "loudness measured"
    );
    if let Err(e) = store.save_loudness(path, meta.len(), modified, &loudness) {
        tracing::warn!(error = %e, "loudness not stored; it will be measured again");
    }
    Some(loudness)
}

/// The gain that brings `path` to `target_lufs` without its true peak passing `ceiling_dbtp`.
pub fn gain(store: &mut Store, path: &Path, target_lufs: f64, ceiling_dbtp: f64) -> f32 {
    measured(store, path).map_or(1.0, |l| playback_gain(&l, target_lufs, ceiling_dbtp))
}

/// "−18.7 LUFS, true peak −0.1 dBTP", for people.
pub fn describe(loudness: &Loudness) -> String {
    match (loudness.integrated_lufs, loudness.true_peak_dbtp) {
        (Some(lufs), Some(peak)) => format!("{lufs:.1} LUFS, true peak {peak:.1} dBTP"),
        (Some(lufs), None) => format!("{lufs:.1} LUFS"),
        _ => "silent".into(),
    }
}
