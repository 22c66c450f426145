//! Audio: files in (`decode`), converted to what the output wants (`convert`), the built-in
//! `chime`, and the output timeline (`output`) with its drivers: a sound card (`device`) or a
//! clock-paced WAV file / null sink (`paced`).

pub mod chime;
pub mod convert;
pub mod decode;
pub mod device;
mod mp4;
pub mod output;
pub mod paced;
