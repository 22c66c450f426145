//! What the loaxa box and the district office must agree on, and nothing that touches the
//! world: the protocol's messages and topics ([`protocol`]), network addresses ([`address`]),
//! names and ids ([`ids`]), signatures ([`trust`]), schedule files and their times
//! ([`schedule`]) and their TOML mistakes ([`toml_problem`]), why a file cannot be read or aired
//! ([`trouble`]), the one retry policy ([`backoff`]) and the one limit on how many refusals are
//! told ([`refusals`]). No sockets, no audio devices, no SQLite: everything here takes its inputs
//! (text, bytes, the time) as arguments, so it is unit-tested on a virtual clock.

pub mod address;
pub mod backoff;
#[cfg(feature = "i18n")]
pub mod i18n;
pub mod ids;
pub mod protocol;
pub mod refusals;
pub mod report;
pub mod schedule;
pub mod toml_problem;
pub mod trouble;
pub mod trust;
