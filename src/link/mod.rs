//! The box's side of the link to the district (`remote`): the inbox that judges what arrives,
//! the bulletins whose audio comes in chunks, the transfers that share the chunk slots, the
//! refusals told back (a few a minute, `loaxa_core::refusals`), and the sweep that deletes what is no longer needed. The messages are
//! `loaxa_core::protocol`; the connection is `loaxa_link`.

pub mod bulletins;
pub mod inbox;
pub mod remote;
pub mod state;
pub mod sweep;
pub mod transfers;
