//! Audio: files in (`decode`), radio streams in (`relay`), converted to what the output wants
//! (`convert`), measured for loudness (`loudness`), the built-in `chime`s, and the output
//! timeline (`output`) with its drivers: a sound card (`device`) or a clock-paced WAV file /
//! null sink (`paced`).

pub mod chime;
pub mod convert;
pub mod decode;
pub mod device;
pub mod loudness;
mod mp4;
pub mod output;
pub mod paced;
pub mod relay;
