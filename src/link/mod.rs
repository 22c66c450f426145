//! The link to the district over MQTT: the protocol's topics and messages (`protocol`, pure).
//! The connection task and the box's receive/verify/store path are being built (issue 3).

pub mod bulletins;
pub mod connection;
pub mod inbox;
pub mod protocol;
pub mod remote;
pub mod sweep;
