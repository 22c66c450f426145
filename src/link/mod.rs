//! The link to the district over MQTT: the protocol's topics and messages (`protocol`, pure),
//! the connection (`connection`), and the box's side of it (`remote`): the inbox that judges
//! what arrives, the transfers that fetch bulletin audio, and the outbox that reports back.

pub mod bulletins;
pub mod connection;
pub mod inbox;
pub mod protocol;
pub mod refusals;
pub mod remote;
pub mod sweep;
pub mod transfers;
