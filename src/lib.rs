//! loaxa — the software of a commune loudspeaker box (đài truyền thanh xã).
//!
//! Data flow, top to bottom (see `docs/architecture.md`):
//! schedule files → [`schedule`] (parse, validate, plan occurrences) → [`agenda`] (pure
//! decisions: air, miss, wait) → [`arbiter`] (who gets the air when it is taken) → [`daemon`] (carries them out, records them in the [`store`]) →
//! [`player`] (one programme at a time) → [`audio`] (decode, convert, output timeline).

pub mod agenda;
pub mod amp;
pub mod arbiter;
pub mod audio;
pub mod cli;
pub mod clock;
pub mod config;
pub mod control;
pub mod daemon;
pub mod levels;
pub mod link;
pub mod player;
pub mod reason;
pub mod store;
pub mod systemd;
pub mod text;
pub mod workers;
