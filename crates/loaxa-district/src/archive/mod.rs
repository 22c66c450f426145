//! The office's durable as-run archive: everything the boxes say (statuses, receipts,
//! rejections, as-run entries), kept in SQLite for reports, exports and the web console.
//!
//! - [`wire`]: statuses and events as the archive reads them, from boxes of every version, and
//!   the refusal of anything else;
//! - [`store`]: the tables (named `archive_…`: the file is shared with the console's own),
//!   written a batch per transaction, pruned after the retention period;
//! - [`collector`]: the durable MQTT subscriber that fills it, acking each message only once
//!   it is committed;
//! - [`report`]: the fleet, one box, reports over a date range and scope, where a bulletin aired;
//! - [`export`] and [`labels`]: those reports as CSV and Excel, with Vietnamese (or English)
//!   headers; [`chart`]: the daily series as SVG.
//!
//! The format of the file is in `docs/archive.md`.

pub mod chart;
pub mod collector;
pub mod export;
pub mod labels;
pub mod report;
pub mod store;
pub mod wire;

pub use store::{Archive, ArchiveError, Change};
