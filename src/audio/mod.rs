//! Audio out: radio streams in (`relay`), decoded audio converted to what the output wants
//! (`convert`), the built-in `chime`s, and the output timeline (`output`) with its drivers: a
//! sound card (`device`) or a clock-paced WAV file / null sink (`paced`). Files are decoded and
//! measured by `loaxa_media`.

pub mod chime;
pub mod convert;
pub mod device;
pub mod output;
pub mod paced;
pub mod relay;
