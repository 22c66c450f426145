//! The MQTT link between the box and the district broker.
//!
//! One background task owns rumqttc's `EventLoop` (the maintained `rumqttc-v4-next` fork, MQTT
//! 3.1.1) and drives it; [`Link`] is a cheap, cloneable handle to it and [`LinkEvent`]s come out
//! of an mpsc channel. The task deals with the things rumqttc leaves to its users:
//!
//! * **No wait cycle between the task and the application.** The task takes a slot in the event
//!   channel *before* it reads the next packet: while the application is busy, the task reads
//!   nothing more, the socket's buffers fill and the broker keeps what it has not sent (QoS 1
//!   messages are not acked until handled, so they stay with the broker). The application, in
//!   turn, never waits for the task: [`Link::try_publish`], [`Link::ack`], the subscriptions
//!   only *queue* a request, and refuse with [`LinkError::Busy`] when rumqttc's request queue is
//!   full. An ack that finds the queue full is owed, not lost: the task queues owed acks itself
//!   after every packet. Only one-shot tools (the district's commands) use the waiting
//!   [`Link::publish`].
//!
//! * rumqttc reconnects on the very next `poll()`, with no delay. After every connection error the
//!   task sleeps with jittered exponential backoff (see [`Backoff`]) and reports
//!   [`LinkEvent::Disconnected`] with the delay it chose.
//! * rumqttc does not restore subscriptions; the broker only keeps them while it keeps the
//!   session. The task subscribes (QoS 1) on *every* CONNACK, whatever `session_present` says.
//! * rumqttc's default packet limit is 10 KiB. Outgoing packets are limited to
//!   [`LinkConfig::max_packet_size`] and [`Link::publish`] refuses a bigger message up front.
//!   Incoming packets may be much larger ([`LinkConfig::max_incoming_size`]): an oversized
//!   packet breaks the connection, and a retained one would break it again after every
//!   reconnect, so it is better read and refused, with a report, by the application.
//! * The session is persistent (`clean_session = false`, fixed client id; see
//!   [`LinkConfig::persistent_session`]) and acks are manual:
//!   a QoS 1 message is acknowledged to the broker only when [`Link::ack`] is called, so the
//!   application acks only what it has stored durably, and the broker redelivers the rest.
//! * TLS (`mqtts://`) goes through rustls with the `ring` provider, passed explicitly, so no
//!   process-wide provider needs to be installed and aws-lc-rs is never built.

use std::fmt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rumqttc::{
    AckMode, AsyncClient, Broker, ClientError, ConnectionError, Event, EventLoop, LastWill,
    ManualAck, MqttOptions, Outgoing, Packet, PubAck, PublishOptions, QoS, SubscribeFilter,
    SubscribeReasonCode, Transport,
};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// Capacity of rumqttc's request channel (publishes, acks, subscribes waiting to be sent).
const REQUEST_CAPACITY: usize = 256;
/// Capacity of the [`LinkEvent`] channel. When it is full the connection task reads nothing
/// more from the broker until the application has taken an event (back-pressure rather than
/// unbounded memory; see the module notes).
const EVENT_CAPACITY: usize = 64;
/// Source of connection generations, process-wide so that a token from one `Link` never
/// matches another `Link`'s connection.
static GENERATIONS: AtomicU64 = AtomicU64::new(1);

/// How long [`Link::shutdown`] waits for the DISCONNECT to go out before giving up.
/// Short: a box must stop within a few seconds of SIGTERM, broker or not.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);
/// Room for the fixed header, topic length and packet id around topic + payload.
const PUBLISH_OVERHEAD: usize = 16;

pub use loaxa_core::backoff::Backoff;

/// How to reach the broker.
#[derive(Clone, Debug)]
pub struct LinkConfig {
    /// `mqtt://host:port` or `mqtts://host:port` (`tcp://` and `ssl://` are accepted too;
    /// the port defaults to 1883 / 8883).
    pub url: String,
    /// Fixed per box, so the broker keeps its session across reconnections and restarts.
    pub client_id: String,
    /// `clean_session = false`: the broker keeps subscriptions and queues QoS 1 messages while
    /// the client is away. True for boxes and `loaxa-district fleet` (fixed ids); false for one-shot
    /// district commands, which would otherwise leave an abandoned session per run.
    pub persistent_session: bool,
    pub username: Option<String>,
    pub password: Option<String>,
    /// PEM file with the CA certificate(s) the broker's certificate must chain to; required
    /// for `mqtts://`.
    pub ca_file: Option<PathBuf>,
    /// Default 30 s. Must be zero or at least one second.
    pub keep_alive: Duration,
    /// Largest MQTT packet sent. Default 256 KiB: a 64 KiB audio chunk plus its JSON envelope
    /// fits.
    pub max_packet_size: usize,
    /// Largest MQTT packet read before the connection is dropped. Default 64 MiB, so that a
    /// hostile or mistaken oversized message reaches the application, which refuses it and
    /// reports it, instead of wedging the link (see the module notes). The broker's own limit
    /// (docs/mosquitto/loaxa.conf) keeps such messages out in the first place.
    pub max_incoming_size: usize,
    /// `(topic, payload)` the broker publishes, retained and at QoS 1, when the box vanishes
    /// without a DISCONNECT.
    pub last_will: Option<(String, Vec<u8>)>,
    /// Reconnection delays.
    pub reconnect: Backoff,
}

impl LinkConfig {
    /// A configuration with the defaults above.
    pub fn new(url: impl Into<String>, client_id: impl Into<String>) -> Self {
        LinkConfig {
            url: url.into(),
            client_id: client_id.into(),
            persistent_session: true,
            username: None,
            password: None,
            ca_file: None,
            keep_alive: Duration::from_secs(30),
            max_packet_size: 256 * 1024,
            max_incoming_size: 64 * 1024 * 1024,
            last_will: None,
            reconnect: Backoff::default(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    #[error("invalid link configuration: {0}")]
    Config(String),
    #[error("TLS setup failed: {0}")]
    Tls(String),
    #[error("Link::start must be called from within a tokio runtime")]
    NoRuntime,
    #[error("invalid topic {0:?}")]
    InvalidTopic(String),
    #[error("message of {size} bytes exceeds the maximum packet size of {max} bytes")]
    TooLarge { size: usize, max: usize },
    #[error("the link is shut down")]
    Closed,
    /// rumqttc's request queue is full (the connection is slow or down): nothing was queued.
    /// The caller tries again later; it never waits for the link.
    #[error("the link's send queue is full; try again later")]
    Busy,
    /// The message was received on an earlier connection, which has since dropped. Its packet
    /// id means nothing on the new connection, so the ack is not sent; the broker redelivers
    /// the message (with the persistent session) and the application should ack that copy.
    #[error("message came from an earlier connection; the broker will redeliver it")]
    StaleAck,
}

/// What identifies a received message towards the broker.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct AckToken {
    pkid: u16,
    qos: QoS,
    /// Connection generation the message arrived on.
    generation: u64,
}

/// A received message. It is NOT acknowledged to the broker until [`Link::ack`] is called.
#[derive(Clone, PartialEq, Eq)]
pub struct Incoming {
    pub topic: String,
    pub payload: Vec<u8>,
    pub retain: bool,
    /// True when the broker marks this as a possible redelivery.
    pub dup: bool,
    token: AckToken,
}

impl fmt::Debug for Incoming {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Incoming")
            .field("topic", &self.topic)
            .field("payload_len", &self.payload.len())
            .field("retain", &self.retain)
            .field("dup", &self.dup)
            .field("pkid", &self.token.pkid)
            .finish()
    }
}

#[derive(Debug)]
pub enum LinkEvent {
    /// CONNACK received; subscriptions are being (re)made.
    Connected {
        session_present: bool,
    },
    /// The broker answered a SUBSCRIBE (the first after `Connected`: the subscriptions given
    /// to `start`). What it publishes afterwards, our own messages too, comes after the retained
    /// messages of those subscriptions.
    Subscribed {
        /// Filters it refused (an ACL).
        refused: usize,
    },
    /// The connection failed or dropped; the next attempt is in `retry_in`.
    Disconnected {
        reason: String,
        retry_in: Duration,
        /// The broker refused us (login, or a certificate we do not trust): retrying will not
        /// help until someone changes a configuration. The link retries anyway, since a box
        /// must come back by itself once the broker is fixed; one-shot commands give up.
        refused: bool,
    },
    Message(Incoming),
}

struct Shared {
    client: AsyncClient,
    /// Acks that found the request queue full, as (packet id, connection generation): queued by
    /// the connection task after every packet it handles.
    owed_acks: OwedAcks,
    /// Bumped on every CONNACK and every connection loss; see [`LinkError::StaleAck`].
    generation: Arc<AtomicU64>,
    /// The filters (re)made on every CONNACK, shared with the connection task.
    subscriptions: Subscriptions,
    max_packet_size: usize,
    stop: watch::Sender<bool>,
    task: Mutex<Option<JoinHandle<()>>>,
}

type Subscriptions = Arc<Mutex<std::collections::BTreeSet<String>>>;
type OwedAcks = Arc<Mutex<std::collections::VecDeque<(u16, u64)>>>;

impl Drop for Shared {
    fn drop(&mut self) {
        // Last handle gone without shutdown(): still leave cleanly. If connected, the
        // DISCONNECT goes out through the event loop; if not, the stop signal ends the task.
        let _ = self.client.try_disconnect();
        let _ = self.stop.send(true);
    }
}

/// Handle to the connection task. Cheap to clone.
#[derive(Clone)]
pub struct Link {
    shared: Arc<Shared>,
}

impl fmt::Debug for Link {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Link").finish_non_exhaustive()
    }
}

impl Link {
    /// Starts the connection task. `subscriptions` (topic filters, QoS 1) are made on every
    /// CONNACK. Must be called within a tokio runtime.
    pub fn start(
        config: LinkConfig,
        subscriptions: Vec<String>,
    ) -> Result<(Link, mpsc::Receiver<LinkEvent>), LinkError> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| LinkError::NoRuntime)?;
        let (options, broker) = mqtt_options(&config)?;
        for filter in &subscriptions {
            if filter.is_empty() {
                return Err(LinkError::Config("empty subscription filter".into()));
            }
        }
        let (client, eventloop) = AsyncClient::builder(options)
            .capacity(REQUEST_CAPACITY)
            .build();
        let (events_tx, events_rx) = mpsc::channel(EVENT_CAPACITY);
        let (stop_tx, stop_rx) = watch::channel(false);
        let generation = Arc::new(AtomicU64::new(0)); // 0: never connected
        let subscriptions: Subscriptions =
            Arc::new(Mutex::new(subscriptions.into_iter().collect()));
        let owed_acks = OwedAcks::default();

        let task = ConnectionTask {
            eventloop,
            client: client.clone(),
            events: events_tx,
            stop: stop_rx,
            generation: generation.clone(),
            subscriptions: subscriptions.clone(),
            owed_acks: owed_acks.clone(),
            backoff: config.reconnect.clone(),
            client_id: config.client_id.clone(),
            plain: config.url.starts_with("mqtt://"),
            broker,
        };
        let handle = runtime.spawn(task.run());

        let link = Link {
            shared: Arc::new(Shared {
                client,
                owed_acks,
                generation,
                subscriptions,
                max_packet_size: config.max_packet_size,
                stop: stop_tx,
                task: Mutex::new(Some(handle)),
            }),
        };
        Ok((link, events_rx))
    }

    /// Refuses what the broker could never take, before anything is queued.
    fn check_publish(&self, topic: &str, payload: &[u8]) -> Result<(), LinkError> {
        if topic.is_empty() || topic.contains(['+', '#']) {
            return Err(LinkError::InvalidTopic(topic.to_string()));
        }
        let size = topic.len() + payload.len() + PUBLISH_OVERHEAD;
        if size > self.shared.max_packet_size {
            return Err(LinkError::TooLarge {
                size,
                max: self.shared.max_packet_size,
            });
        }
        Ok(())
    }

    /// Publishes at QoS 1, waiting while rumqttc's request queue is full: for one-shot tools
    /// that have nothing else to do meanwhile. The box uses [`Link::try_publish`].
    ///
    /// `Ok` means only that the message is queued, not that the broker has it: while the link
    /// is down it stays queued, and a message in flight when the connection drops is resent
    /// only if the broker kept the session. Everything still queued is lost if the process dies.
    pub async fn publish(
        &self,
        topic: &str,
        payload: Vec<u8>,
        retain: bool,
    ) -> Result<(), LinkError> {
        self.check_publish(topic, &payload)?;
        self.shared
            .client
            .publish(topic, payload, publish_options(retain))
            .await
            // Topics were checked above, so rumqttc's only remaining refusal is a closed
            // request channel, i.e. the connection task has ended.
            .map_err(|_| LinkError::Closed)
    }

    /// Publishes at QoS 1 if rumqttc's request queue has room, else refuses with
    /// [`LinkError::Busy`] at once. Never waits: a loop that must stay responsive calls this
    /// and keeps what it could not send (the box's outbox) for later.
    pub fn try_publish(
        &self,
        topic: &str,
        payload: Vec<u8>,
        retain: bool,
    ) -> Result<(), LinkError> {
        self.check_publish(topic, &payload)?;
        self.shared
            .client
            .try_publish(topic, payload, publish_options(retain))
            .map_err(queue_error)
    }

    /// Adds a subscription (QoS 1), kept across reconnects like those given to `start`. Used
    /// for what a box needs only for a while. Never waits (see [`Link::try_publish`]); the
    /// filter is remembered even when refused as busy, so the next CONNACK makes it.
    pub fn subscribe(&self, filter: &str) -> Result<(), LinkError> {
        if filter.is_empty() {
            return Err(LinkError::InvalidTopic(filter.to_string()));
        }
        if let Ok(mut subscriptions) = self.shared.subscriptions.lock() {
            subscriptions.insert(filter.to_owned());
        }
        self.shared
            .client
            .try_subscribe(filter, QoS::AtLeastOnce)
            .map_err(queue_error)
    }

    /// Subscribes (QoS 1) for as long as the broker keeps this session, *without* re-making
    /// the subscription on every CONNACK. For what is fetched once, such as retained audio
    /// chunks: re-subscribing makes the broker send the retained message again, on top of the
    /// copy it redelivers from the session, so a flaky link would pay for each chunk two or
    /// three times. The caller re-makes these when a CONNACK says the session is gone
    /// (`session_present = false`). Never waits.
    pub fn subscribe_in_session(&self, filter: &str) -> Result<(), LinkError> {
        if filter.is_empty() {
            return Err(LinkError::InvalidTopic(filter.to_string()));
        }
        self.shared
            .client
            .try_subscribe(filter, QoS::AtLeastOnce)
            .map_err(queue_error)
    }

    /// Removes a subscription made with `subscribe` or `subscribe_in_session` (or given to
    /// `start`). Never waits.
    pub fn unsubscribe(&self, filter: &str) -> Result<(), LinkError> {
        if let Ok(mut subscriptions) = self.shared.subscriptions.lock() {
            subscriptions.remove(filter);
        }
        self.shared
            .client
            .try_unsubscribe(filter)
            .map_err(queue_error)
    }

    /// Acknowledges a received message to the broker (PUBACK). Call it once the message is
    /// stored durably. Never waits: if rumqttc's queue is full, the ack is owed and the
    /// connection task sends it as soon as there is room. Returns [`LinkError::StaleAck`] if
    /// the connection the message came on has dropped since: the broker will redeliver it, so
    /// the application must tolerate duplicates (and ack the redelivered copy).
    pub fn ack(&self, message: &Incoming) -> Result<(), LinkError> {
        let token = message.token;
        if token.qos == QoS::AtMostOnce {
            return Ok(());
        }
        if token.generation != self.shared.generation.load(Ordering::SeqCst) {
            tracing::debug!(pkid = token.pkid, topic = %message.topic, "ack for an earlier connection not sent");
            return Err(LinkError::StaleAck);
        }
        if let Ok(mut owed) = self.shared.owed_acks.lock() {
            owed.push_back((token.pkid, token.generation));
        }
        send_owed_acks(
            &self.shared.client,
            &self.shared.owed_acks,
            self.shared.generation.load(Ordering::SeqCst),
        );
        Ok(())
    }

    /// Publishes `payload` retained on `topic` (QoS 1) as the client's last word, then leaves:
    /// with a clean DISCONNECT once the broker has acknowledged it, within `within`. If it has
    /// not (the link is down, the queue full, the broker slow), the connection is dropped
    /// without a DISCONNECT, so the broker publishes the last will instead: either way the
    /// district learns the client is gone, and the stop never waits longer than `within` plus
    /// [`Link::shutdown`]'s grace. Whether the broker acknowledged the last word.
    pub async fn shutdown_with(self, topic: &str, payload: Vec<u8>, within: Duration) -> bool {
        let notice = self.check_publish(topic, &payload).ok().and_then(|()| {
            self.shared
                .client
                .try_publish_tracked(topic, payload, publish_options(true))
                .ok()
        });
        let acked = match notice {
            Some(notice) => matches!(
                tokio::time::timeout(within, notice.wait_async()).await,
                Ok(Ok(_))
            ),
            None => false,
        };
        if acked {
            self.shutdown().await;
        } else {
            let _ = self.shared.stop.send(true);
            let handle = self.task_handle();
            if let Some(handle) = handle {
                handle.abort();
                let _ = handle.await;
            }
        }
        acked
    }

    fn task_handle(&self) -> Option<JoinHandle<()>> {
        self.shared
            .task
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take()
    }

    /// Sends a clean DISCONNECT (after the requests already queued) and waits, at most a few
    /// seconds, for the connection task to end. The broker keeps the session, and does not
    /// publish the last will. Other clones of this handle stop working.
    pub async fn shutdown(self) {
        let _ = self.shared.client.try_disconnect();
        let _ = self.shared.stop.send(true);
        if let Some(mut handle) = self.task_handle()
            && tokio::time::timeout(SHUTDOWN_GRACE, &mut handle)
                .await
                .is_err()
        {
            tracing::warn!("link did not close in time; dropping the connection");
            handle.abort();
            let _ = handle.await;
        }
    }
}

fn publish_options(retain: bool) -> PublishOptions {
    let options = PublishOptions::at_least_once();
    if retain { options.retained() } else { options }
}

/// What a refusal to queue a request means for the caller.
fn queue_error(error: ClientError) -> LinkError {
    match error {
        ClientError::RequestChannelFull(_) => LinkError::Busy,
        ClientError::InvalidRequest(request) => LinkError::InvalidTopic(format!("{request:?}")),
        _ => LinkError::Closed,
    }
}

/// Queues the owed acks of connection `generation` while rumqttc's queue has room; drops those
/// of earlier connections (the broker redelivers those messages).
fn send_owed_acks(client: &AsyncClient, owed: &OwedAcks, generation: u64) {
    let Ok(mut owed) = owed.lock() else {
        return;
    };
    while let Some(&(pkid, of)) = owed.front() {
        if of == generation {
            match client.try_manual_ack(ManualAck::PubAck(PubAck::new(pkid))) {
                Ok(()) => {}
                Err(ClientError::RequestChannelFull(_)) => return,
                Err(error) => tracing::debug!(pkid, %error, "ack not queued"),
            }
        }
        owed.pop_front();
    }
}

enum Scheme {
    Plain,
    Tls,
}

/// Runs `future` to completion on a runtime of its own: for the command lines, which do one
/// thing over the link (or the box's control socket) and exit.
pub fn block_on<F: std::future::Future>(future: F) -> std::io::Result<F::Output> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    Ok(runtime.block_on(future))
}

/// Splits `mqtt://host:port` into its parts.
fn parse_url(url: &str) -> Result<(Scheme, String, u16), LinkError> {
    let bad = |why: &str| LinkError::Config(format!("broker url {url:?}: {why}"));
    let (scheme, rest) = url.split_once("://").ok_or_else(|| bad("missing scheme"))?;
    let scheme = match scheme.to_ascii_lowercase().as_str() {
        "mqtt" | "tcp" => Scheme::Plain,
        "mqtts" | "ssl" | "tls" => Scheme::Tls,
        _ => return Err(bad("scheme must be mqtt or mqtts")),
    };
    let authority = rest.trim_end_matches('/');
    if authority.contains('/') || authority.contains('@') || authority.contains('?') {
        return Err(bad("only host and port are allowed"));
    }
    let default_port = match scheme {
        Scheme::Plain => 1883,
        Scheme::Tls => 8883,
    };
    let (host, port) =
        loaxa_core::address::split_host_port(authority, default_port).map_err(|why| bad(&why))?;
    if host.is_empty() {
        return Err(bad("missing host"));
    }
    let host = host.to_string();
    Ok((scheme, host, port))
}

/// rumqttc's options for `config`, and the broker's `host:port` for logs.
fn mqtt_options(config: &LinkConfig) -> Result<(MqttOptions, String), LinkError> {
    if config.client_id.is_empty() {
        return Err(LinkError::Config(
            "client_id must be set (the persistent session is keyed on it)".into(),
        ));
    }
    if !config.keep_alive.is_zero() && config.keep_alive < Duration::from_secs(1) {
        return Err(LinkError::Config(
            "keep_alive must be 0 or at least 1 s".into(),
        ));
    }
    if config.max_packet_size < 1024 {
        return Err(LinkError::Config("max_packet_size below 1 KiB".into()));
    }
    let (scheme, host, port) = parse_url(&config.url)?;
    let broker = if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    };
    let mut options = MqttOptions::new(config.client_id.clone(), Broker::tcp(host, port));
    let keep_alive = u16::try_from(config.keep_alive.as_secs()).unwrap_or(u16::MAX);
    options
        .set_clean_session(!config.persistent_session)
        .set_ack_mode(AckMode::Manual)
        .set_keep_alive(keep_alive)
        .set_max_packet_size(
            config.max_incoming_size.max(config.max_packet_size),
            config.max_packet_size,
        );
    match (&config.username, &config.password) {
        (Some(user), password) => {
            options.set_credentials(
                user.clone(),
                password.clone().unwrap_or_default().into_bytes(),
            );
        }
        (None, Some(_)) => {
            return Err(LinkError::Config("password given without username".into()));
        }
        (None, None) => {}
    }
    if let Some((topic, payload)) = &config.last_will {
        if topic.is_empty() || topic.contains(['+', '#']) {
            return Err(LinkError::InvalidTopic(topic.clone()));
        }
        options.set_last_will(LastWill::new(
            topic.clone(),
            payload.clone(),
            QoS::AtLeastOnce,
            true,
        ));
    }
    if let Scheme::Tls = scheme {
        let ca_file = config.ca_file.as_ref().ok_or_else(|| {
            LinkError::Config(
                "an mqtts:// broker needs the CA certificate that signed its certificate \
                 (ca_file in the box's [link], --ca-file for loaxa-district)"
                    .into(),
            )
        })?;
        options.set_transport(Transport::tls_with_config(
            rumqttc::TlsConfiguration::Rustls(Arc::new(tls_config(ca_file)?)),
        ));
    } else if config.ca_file.is_some() {
        tracing::warn!(url = %config.url, "ca_file is ignored for a plain mqtt:// url");
    }
    Ok((options, broker))
}

/// A rustls client configuration trusting only the CAs in `ca_file`, on the `ring` provider.
fn tls_config(ca_file: &std::path::Path) -> Result<rustls::ClientConfig, LinkError> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;

    let tls_err = |what: String| LinkError::Tls(format!("{}: {what}", ca_file.display()));
    let mut roots = rustls::RootCertStore::empty();
    let certs = CertificateDer::pem_file_iter(ca_file).map_err(|e| tls_err(e.to_string()))?;
    for cert in certs {
        let cert = cert.map_err(|e| tls_err(e.to_string()))?;
        roots.add(cert).map_err(|e| tls_err(e.to_string()))?;
    }
    if roots.is_empty() {
        return Err(tls_err("no certificate found".into()));
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| LinkError::Tls(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(config)
}

struct ConnectionTask {
    eventloop: EventLoop,
    client: AsyncClient,
    events: mpsc::Sender<LinkEvent>,
    stop: watch::Receiver<bool>,
    generation: Arc<AtomicU64>,
    subscriptions: Subscriptions,
    owed_acks: OwedAcks,
    backoff: Backoff,
    client_id: String,
    broker: String,
    /// `mqtt://`: a broker that hangs up before answering may be speaking TLS.
    plain: bool,
}

/// Resolves when a stop is requested (or every handle is gone).
async fn stop_requested(stop: &mut watch::Receiver<bool>) {
    // An error means the sender is gone, which also means stop.
    let _ = stop.wait_for(|stopped| *stopped).await;
}

impl ConnectionTask {
    async fn run(mut self) {
        let mut attempt: u32 = 0;
        let mut connected_since: Option<Instant> = None;
        loop {
            // A slot for whatever the next packet brings, taken before reading it: while the
            // application is busy nothing more is read, and the broker keeps what it holds.
            // (A dropped receiver only means nobody listens; the connection goes on.)
            let slot = if self.events.is_closed() {
                None
            } else {
                tokio::select! {
                    biased;
                    _ = stop_requested(&mut self.stop), if connected_since.is_none() => break,
                    slot = self.events.reserve() => slot.ok(),
                }
            };
            // While connected, a stop arrives as a DISCONNECT request through the event loop,
            // so poll() is never cancelled half-way through sending something. While not
            // connected, poll() only dials and waits for CONNACK, which is safe to abandon.
            let polled = if connected_since.is_some() {
                self.eventloop.poll().await
            } else {
                tokio::select! {
                    biased;
                    _ = stop_requested(&mut self.stop) => break,
                    polled = self.eventloop.poll() => polled,
                }
            };
            let event = match polled {
                Ok(Event::Incoming(Packet::ConnAck(connack))) => {
                    connected_since = Some(Instant::now());
                    self.generation
                        .store(GENERATIONS.fetch_add(1, Ordering::SeqCst), Ordering::SeqCst);
                    tracing::info!(
                        client_id = %self.client_id,
                        broker = %self.broker,
                        session_present = connack.session_present,
                        "mqtt connected"
                    );
                    self.resubscribe();
                    Some(LinkEvent::Connected {
                        session_present: connack.session_present,
                    })
                }
                Ok(Event::Incoming(Packet::Publish(publish))) => {
                    if publish.qos == QoS::ExactlyOnce {
                        // We subscribe at QoS 1 only, so the broker should never send QoS 2.
                        tracing::warn!(topic = %String::from_utf8_lossy(&publish.topic), "unexpected QoS 2 message");
                    }
                    Some(LinkEvent::Message(Incoming {
                        topic: String::from_utf8_lossy(&publish.topic).into_owned(),
                        payload: publish.payload.to_vec(),
                        retain: publish.retain,
                        dup: publish.dup,
                        token: AckToken {
                            pkid: publish.pkid,
                            qos: publish.qos,
                            generation: self.generation.load(Ordering::SeqCst),
                        },
                    }))
                }
                Ok(Event::Incoming(Packet::SubAck(suback))) => {
                    let refused = suback
                        .return_codes
                        .iter()
                        .filter(|code| matches!(code, SubscribeReasonCode::Failure))
                        .count();
                    if refused > 0 {
                        tracing::warn!(client_id = %self.client_id, refused, "broker refused subscriptions");
                    }
                    Some(LinkEvent::Subscribed { refused })
                }
                Ok(Event::Outgoing(Outgoing::Disconnect)) => {
                    tracing::info!(client_id = %self.client_id, broker = %self.broker, "mqtt disconnected cleanly");
                    break;
                }
                Ok(_) => None,
                Err(error) => {
                    self.generation
                        .store(GENERATIONS.fetch_add(1, Ordering::SeqCst), Ordering::SeqCst);
                    let was_up = connected_since.take().map(|since| since.elapsed());
                    if was_up.is_some_and(|up| up >= self.backoff.stable_after) {
                        attempt = 0;
                    }
                    let retry_in = self.backoff.delay(attempt);
                    attempt = attempt.saturating_add(1);
                    let mut reason = describe(&error);
                    if self.plain && was_up.is_none() && hung_up(&error) {
                        reason.push_str(
                            "; the broker hung up before answering: if that port speaks TLS \
                             (usually 8883), use an mqtts:// url with the broker's CA file",
                        );
                    }
                    tracing::warn!(
                        client_id = %self.client_id,
                        broker = %self.broker,
                        error = %reason,
                        was_connected_ms = was_up.map(|up| up.as_millis() as u64),
                        retry_in_ms = retry_in.as_millis() as u64,
                        attempt,
                        "mqtt disconnected"
                    );
                    let refused = is_refusal(&error);
                    if let Some(slot) = slot {
                        slot.send(LinkEvent::Disconnected {
                            reason,
                            retry_in,
                            refused,
                        });
                    }
                    tokio::select! {
                        biased;
                        _ = stop_requested(&mut self.stop) => break,
                        _ = tokio::time::sleep(retry_in) => {}
                    }
                    continue;
                }
            };
            if let (Some(slot), Some(event)) = (slot, event) {
                slot.send(event);
            }
            send_owed_acks(
                &self.client,
                &self.owed_acks,
                self.generation.load(Ordering::SeqCst),
            );
        }
    }

    /// Queues the subscriptions. Done from a separate task: `subscribe_many` waits while the
    /// request channel is full, and only this task's polling drains it.
    fn resubscribe(&self) {
        let filters: Vec<SubscribeFilter> = match self.subscriptions.lock() {
            Ok(subscriptions) => subscriptions
                .iter()
                .map(|filter| SubscribeFilter::new(filter.clone(), QoS::AtLeastOnce))
                .collect(),
            Err(_) => return,
        };
        if filters.is_empty() {
            return;
        }
        let client = self.client.clone();
        let client_id = self.client_id.clone();
        tokio::spawn(async move {
            if let Err(error) = client.subscribe_many(filters).await {
                tracing::warn!(%client_id, %error, "could not queue subscriptions");
            }
        });
    }
}

/// What went wrong, in the words an operator needs, with the setting to check.
fn describe(error: &ConnectionError) -> String {
    use rumqttc::ConnectReturnCode as Code;
    match error {
        ConnectionError::ConnectionRefused(Code::BadUserNamePassword | Code::NotAuthorized) => {
            "the broker refused the login: wrong username or password".into()
        }
        ConnectionError::ConnectionRefused(Code::BadClientId) => {
            "the broker refused the client id (box_id)".into()
        }
        ConnectionError::ConnectionRefused(code) => format!("the broker refused us: {code:?}"),
        ConnectionError::Tls(_) if is_refusal(error) => format!(
            "TLS: the broker's certificate is not trusted or not for this host ({error}): \
             check ca_file and the host name in the url"
        ),
        other => other.to_string(),
    }
}

/// Whether the broker closed the connection mid-handshake, as a TLS listener does when it is
/// sent plain MQTT (the error types differ with where the read was cut; their words do not).
fn hung_up(error: &ConnectionError) -> bool {
    let text = error.to_string().to_lowercase();
    ["connection reset", "deserialization", "eof", "broken pipe"]
        .iter()
        .any(|word| text.contains(word))
}

/// Whether the broker (or its certificate) turned us away, as opposed to a network failure.
fn is_refusal(error: &ConnectionError) -> bool {
    match error {
        ConnectionError::ConnectionRefused(_) => true,
        ConnectionError::Tls(rumqttc::TlsError::Io(io)) => io
            .get_ref()
            .is_some_and(|inner| inner.is::<rustls::Error>()),
        ConnectionError::Tls(_) => true,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_parse_into_scheme_host_and_port() {
        let (scheme, host, port) = parse_url("mqtt://broker.local:1884").unwrap();
        assert!(matches!(scheme, Scheme::Plain));
        assert_eq!((host.as_str(), port), ("broker.local", 1884));
        let (scheme, host, port) = parse_url("mqtts://broker.local").unwrap();
        assert!(matches!(scheme, Scheme::Tls));
        assert_eq!((host.as_str(), port), ("broker.local", 8883));
        let (_, host, port) = parse_url("mqtt://[::1]:1883/").unwrap();
        assert_eq!((host.as_str(), port), ("::1", 1883));
        for bad in [
            "broker:1883",
            "http://x:1",
            "mqtt://:1883",
            "mqtt://x:notaport",
            "mqtt://x/y",
        ] {
            assert!(parse_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn mqtts_without_a_ca_file_is_a_config_error() {
        let config = LinkConfig::new("mqtts://broker.local", "box-1");
        assert!(matches!(mqtt_options(&config), Err(LinkError::Config(_))));
    }

    #[test]
    fn options_ask_for_a_persistent_session_with_manual_acks() {
        let config = LinkConfig::new("mqtt://broker.local:1883", "box-1");
        let (options, broker) = mqtt_options(&config).unwrap();
        assert_eq!(broker, "broker.local:1883");
        assert!(!options.clean_session());
        assert_eq!(options.ack_mode(), AckMode::Manual);
        assert_eq!(options.max_packet_size(), 64 * 1024 * 1024); // rumqttc shows the incoming limit
        assert_eq!(options.keep_alive(), Duration::from_secs(30));
    }
}
