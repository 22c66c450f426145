//! Audio files as loaxa meets them: what a file is and whether it decodes (`decode`, over
//! symphonia, with MP4 priming read by `mp4`), and how loud it is (`loudness`, EBU R 128).
//! Both the box (before airing) and the district (before publishing) use it; it opens no audio
//! device.

pub mod decode;
pub mod loudness;
mod mp4;
