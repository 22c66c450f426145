//! The MQTT link against a real Mosquitto, one broker per test.

#[path = "common/broker.rs"]
mod broker;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc as std_mpsc;
use std::time::{Duration, Instant};

use broker::Broker;
use loaxa_link::{Backoff, Incoming, Link, LinkConfig, LinkError, LinkEvent};
use tokio::sync::mpsc::Receiver;

const WAIT: Duration = Duration::from_secs(10);

fn config(broker: &Broker, client_id: &str) -> LinkConfig {
    LinkConfig::new(broker.url(), client_id)
}

/// Waits for the first event that `pick` accepts, skipping the others.
async fn wait_for<T>(
    events: &mut Receiver<LinkEvent>,
    what: &str,
    mut pick: impl FnMut(LinkEvent) -> Option<T>,
) -> T {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        match tokio::time::timeout_at(deadline, events.recv()).await {
            Ok(Some(event)) => {
                if let Some(found) = pick(event) {
                    return found;
                }
            }
            Ok(None) => panic!("event channel closed while waiting for {what}"),
            Err(_) => panic!("timed out waiting for {what}"),
        }
    }
}

async fn connected(events: &mut Receiver<LinkEvent>) -> bool {
    wait_for(events, "Connected", |event| match event {
        LinkEvent::Connected { session_present } => Some(session_present),
        _ => None,
    })
    .await
}

async fn message(events: &mut Receiver<LinkEvent>, topic: &str) -> Incoming {
    wait_for(
        events,
        &format!("a message on {topic}"),
        |event| match event {
            LinkEvent::Message(m) if m.topic == topic => Some(m),
            _ => None,
        },
    )
    .await
}

/// Proves the subscription to `topic` is in place: the link publishes a probe to it and waits
/// for the probe to come back (and acks it). Returns the messages that arrived before it.
async fn round_trip(link: &Link, events: &mut Receiver<LinkEvent>, topic: &str) -> Vec<Incoming> {
    static PROBES: AtomicU64 = AtomicU64::new(0);
    let probe = format!("probe-{}", PROBES.fetch_add(1, Ordering::Relaxed)).into_bytes();
    link.publish(topic, probe.clone(), false).await.unwrap();
    let mut before = Vec::new();
    let echoed = wait_for(events, "the probe", |event| match event {
        LinkEvent::Message(m) if m.payload == probe => Some(m),
        LinkEvent::Message(m) => {
            before.push(m);
            None
        }
        _ => None,
    })
    .await;
    link.ack(&echoed).unwrap();
    before
}

fn mosquitto_pub(broker: &Broker, topic: &str, payload: &str, retain: bool) {
    let mut command = Command::new("mosquitto_pub");
    command.args(["-h", "127.0.0.1", "-p", &broker.port().to_string()]);
    command.args(["-q", "1", "-t", topic, "-m", payload]);
    if retain {
        command.arg("-r");
    }
    let status = command.status().expect("run mosquitto_pub");
    assert!(status.success(), "mosquitto_pub failed: {status}");
}

/// A `mosquitto_sub -C 1` running in the background, its output lines sent to a channel.
struct Sub {
    lines: std_mpsc::Receiver<String>,
    child: std::process::Child,
}

impl Sub {
    fn start(broker: &Broker, topic: &str, extra: &[&str]) -> Sub {
        // stdbuf: mosquitto_sub's stdout is block-buffered into a pipe otherwise, and the
        // SUBACK line would only show up when it exits.
        let mut child = Command::new("stdbuf")
            .args([
                "-oL",
                "mosquitto_sub",
                "-h",
                "127.0.0.1",
                "-p",
                &broker.port().to_string(),
            ])
            .args(["-d", "-C", "1", "-W", "10", "-q", "1", "-t", topic])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("run mosquitto_sub");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, lines) = std_mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Sub { lines, child }
    }

    /// Waits (without blocking the runtime) for an output line containing `needle`.
    async fn line_containing(&self, needle: &str) -> Option<String> {
        self.line_where(|line| line.contains(needle)).await
    }

    async fn line_where(&self, wanted: impl Fn(&str) -> bool) -> Option<String> {
        let deadline = Instant::now() + WAIT;
        while Instant::now() < deadline {
            match self.lines.try_recv() {
                Ok(line) if wanted(&line) => return Some(line),
                Ok(_) => {}
                Err(std_mpsc::TryRecvError::Empty) => {
                    tokio::time::sleep(Duration::from_millis(20)).await
                }
                Err(std_mpsc::TryRecvError::Disconnected) => return None,
            }
        }
        None
    }
}

impl Drop for Sub {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn a_retained_message_is_received_after_connecting_with_the_retain_flag() {
    let broker = Broker::start();
    mosquitto_pub(&broker, "loaxa/box-1/config", "volume=7", true);

    let (link, mut events) = Link::start(
        config(&broker, "box-retained"),
        vec!["loaxa/box-1/config".into()],
    )
    .unwrap();
    connected(&mut events).await;
    let received = message(&mut events, "loaxa/box-1/config").await;
    assert_eq!(received.payload, b"volume=7");
    assert!(received.retain);
    link.ack(&received).unwrap();
    link.shutdown().await;
}

#[tokio::test]
async fn a_subscription_added_later_survives_a_broker_that_lost_the_session_and_can_be_removed() {
    let mut broker = Broker::start();
    mosquitto_pub(&broker, "loaxa/chunk/abc/0", "chunk-0", true);
    let (link, mut events) = Link::start(config(&broker, "box-dynamic"), Vec::new()).unwrap();
    connected(&mut events).await;
    link.subscribe("loaxa/chunk/abc/0").unwrap();
    let chunk = message(&mut events, "loaxa/chunk/abc/0").await;
    assert_eq!(chunk.payload, b"chunk-0");
    link.ack(&chunk).unwrap();

    broker.kill(); // the session (and the unsaved retained message) die with it
    broker.restart();
    connected(&mut events).await;
    // Re-made after the new CONNACK: a chunk published now arrives.
    mosquitto_pub(&broker, "loaxa/chunk/abc/0", "chunk-0", true);
    let again = message(&mut events, "loaxa/chunk/abc/0").await;
    link.ack(&again).unwrap();

    link.unsubscribe("loaxa/chunk/abc/0").unwrap();
    mosquitto_pub(&broker, "loaxa/chunk/abc/1", "chunk-1", true);
    link.subscribe("loaxa/chunk/abc/1").unwrap();
    // The broker handles our requests in order: once chunk 1 (retained) arrives, the
    // unsubscription from chunk 0 is done.
    let one = message(&mut events, "loaxa/chunk/abc/1").await;
    link.ack(&one).unwrap();
    mosquitto_pub(&broker, "loaxa/chunk/abc/0", "not for us any more", false);
    mosquitto_pub(&broker, "loaxa/chunk/abc/1", "marker", false);
    let next = wait_for(&mut events, "the marker", |event| match event {
        LinkEvent::Message(m) => Some(m),
        _ => None,
    })
    .await;
    assert_eq!(
        (next.topic.as_str(), next.payload.as_slice()),
        ("loaxa/chunk/abc/1", &b"marker"[..])
    );
    link.shutdown().await;
}

#[tokio::test]
async fn after_a_broker_restart_the_link_reconnects_by_itself_and_keeps_receiving() {
    let mut broker = Broker::start();
    let (link, mut events) = Link::start(
        config(&broker, "box-restart"),
        vec!["loaxa/restart/#".into()],
    )
    .unwrap();
    assert!(!connected(&mut events).await, "fresh broker has no session");
    round_trip(&link, &mut events, "loaxa/restart/probe").await;

    // SIGKILL before anything was saved: the broker forgets the session, so the link must
    // subscribe again by itself.
    broker.kill();
    broker.restart();
    let retry_in = wait_for(&mut events, "Disconnected", |event| match event {
        LinkEvent::Disconnected { retry_in, .. } => Some(retry_in),
        _ => None,
    })
    .await;
    assert!(
        retry_in >= Duration::from_millis(800) && retry_in <= Duration::from_millis(1200),
        "first retry after 1 s ± 20 %, got {retry_in:?}"
    );
    assert!(!connected(&mut events).await, "session lost with SIGKILL");
    round_trip(&link, &mut events, "loaxa/restart/probe").await;
    mosquitto_pub(&broker, "loaxa/restart/news", "after crash", false);
    let received = message(&mut events, "loaxa/restart/news").await;
    assert_eq!(received.payload, b"after crash");
    link.ack(&received).unwrap();

    // SIGTERM: the broker saves the session, so it is still there after the restart.
    broker.restart();
    assert!(connected(&mut events).await, "persistent session kept");
    mosquitto_pub(&broker, "loaxa/restart/news", "after restart", false);
    // The acks of "after crash" and of the probe may not have reached the broker before it
    // stopped, in which case those messages are (rightly) redelivered first.
    let received = wait_for(
        &mut events,
        "the message after the restart",
        |event| match event {
            LinkEvent::Message(m) if m.payload == b"after restart" => Some(m),
            LinkEvent::Message(m) => {
                let earlier = m.payload == b"after crash" || m.payload.starts_with(b"probe-");
                assert!(earlier, "unexpected message {m:?}");
                None
            }
            _ => None,
        },
    )
    .await;
    link.ack(&received).unwrap();
    link.shutdown().await;
}

#[tokio::test]
async fn a_message_sent_while_the_box_is_offline_is_delivered_when_it_comes_back() {
    let broker = Broker::start();
    let subscriptions = vec!["loaxa/offline".to_string()];
    let (link, mut events) =
        Link::start(config(&broker, "box-offline"), subscriptions.clone()).unwrap();
    connected(&mut events).await;
    round_trip(&link, &mut events, "loaxa/offline").await;
    link.shutdown().await;

    mosquitto_pub(&broker, "loaxa/offline", "bulletin while offline", false);

    let (link, mut events) = Link::start(config(&broker, "box-offline"), subscriptions).unwrap();
    assert!(connected(&mut events).await, "broker kept the session");
    let received = message(&mut events, "loaxa/offline").await;
    assert_eq!(received.payload, b"bulletin while offline");
    assert!(!received.retain);
    link.ack(&received).unwrap();
    link.shutdown().await;
}

#[tokio::test]
async fn a_message_received_but_not_acked_is_redelivered_after_the_link_restarts() {
    let broker = Broker::start();
    let subscriptions = vec!["loaxa/bulletins".to_string()];
    let (link, mut events) =
        Link::start(config(&broker, "box-acks"), subscriptions.clone()).unwrap();
    connected(&mut events).await;
    round_trip(&link, &mut events, "loaxa/bulletins").await;
    mosquitto_pub(&broker, "loaxa/bulletins", "store me first", false);
    let first = message(&mut events, "loaxa/bulletins").await;
    assert_eq!(first.payload, b"store me first");
    // Not acked: the application "crashed" before storing it.
    link.shutdown().await;

    let (link, mut events) =
        Link::start(config(&broker, "box-acks"), subscriptions.clone()).unwrap();
    connected(&mut events).await;
    let again = message(&mut events, "loaxa/bulletins").await;
    assert_eq!(again.payload, b"store me first");
    assert!(again.dup, "redelivery is flagged as a duplicate");
    // An ack token from the earlier connection is refused rather than sent.
    assert!(matches!(link.ack(&first), Err(LinkError::StaleAck)));
    link.ack(&again).unwrap();
    link.shutdown().await;

    // Acked now: the next start gets nothing before a fresh probe.
    let (link, mut events) = Link::start(config(&broker, "box-acks"), subscriptions).unwrap();
    connected(&mut events).await;
    let before_probe = round_trip(&link, &mut events, "loaxa/bulletins").await;
    assert!(
        before_probe.is_empty(),
        "acked message came back: {before_probe:?}"
    );
    link.shutdown().await;
}

#[tokio::test]
async fn a_100_kib_payload_passes_both_ways() {
    let broker = Broker::start();
    let (link, mut events) =
        Link::start(config(&broker, "box-big"), vec!["loaxa/audio".into()]).unwrap();
    connected(&mut events).await;
    let chunk: Vec<u8> = (0..100 * 1024).map(|i| (i % 251) as u8).collect();
    link.publish("loaxa/audio", chunk.clone(), false)
        .await
        .unwrap();
    let received = message(&mut events, "loaxa/audio").await;
    assert_eq!(received.payload.len(), chunk.len());
    assert!(received.payload == chunk);
    link.ack(&received).unwrap();

    let too_big = vec![0u8; 300 * 1024];
    assert!(matches!(
        link.publish("loaxa/audio", too_big, false).await,
        Err(LinkError::TooLarge { .. })
    ));
    link.shutdown().await;
}

#[tokio::test]
async fn messages_published_by_the_link_reach_mosquitto_sub() {
    let broker = Broker::start();
    let sub = Sub::start(&broker, "loaxa/box-9/status", &[]);
    assert!(
        sub.line_containing("SUBACK").await.is_some(),
        "mosquitto_sub subscribed"
    );

    let (link, mut events) = Link::start(config(&broker, "box-9"), vec![]).unwrap();
    connected(&mut events).await;
    link.publish("loaxa/box-9/status", b"on air".to_vec(), false)
        .await
        .unwrap();
    assert!(sub.line_containing("on air").await.is_some());
    link.shutdown().await;
}

#[test]
fn the_retained_last_will_is_set_when_the_box_dies_without_disconnect() {
    let broker = Broker::start();
    let mut config = config(&broker, "box-will");
    config.last_will = Some(("loaxa/box-will/online".into(), b"false".to_vec()));

    // The "box process": a runtime of its own that is torn down without DISCONNECT.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let link = runtime.block_on(async {
        let (link, mut events) = Link::start(config, vec![]).unwrap();
        connected(&mut events).await;
        link.publish("loaxa/box-will/online", b"true".to_vec(), true)
            .await
            .unwrap();
        // Wait until the broker has the "true" before dying.
        let sub = Sub::start(&broker, "loaxa/box-will/online", &["--retained-only"]);
        assert!(sub.line_containing("true").await.is_some());
        link
    });
    drop(runtime); // the connection task and its socket go away, no DISCONNECT sent
    std::mem::forget(link); // and the handle must not try a clean disconnect either

    let test_runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    test_runtime.block_on(async {
        let deadline = Instant::now() + WAIT;
        loop {
            let sub = Sub::start(&broker, "loaxa/box-will/online", &["--retained-only"]);
            let line = sub.line_containing("PUBLISH").await;
            let payload = sub.line_where(|l| l == "true" || l == "false").await;
            if payload.as_deref() == Some("false") {
                assert!(line.unwrap().contains("r1"), "will is retained");
                break;
            }
            assert!(
                Instant::now() < deadline,
                "last will never became the retained status"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    });
}

#[tokio::test]
async fn an_unreachable_broker_is_retried_with_growing_delays_and_shutdown_is_prompt() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut config = LinkConfig::new(format!("mqtt://127.0.0.1:{port}"), "box-nobroker");
    config.reconnect = Backoff {
        initial: Duration::from_millis(50),
        ..Backoff::default()
    };
    let (link, mut events) = Link::start(config, vec!["x".into()]).unwrap();
    let mut delays = Vec::new();
    for _ in 0..4 {
        delays.push(
            wait_for(&mut events, "Disconnected", |event| match event {
                LinkEvent::Disconnected { retry_in, .. } => Some(retry_in),
                _ => None,
            })
            .await,
        );
    }
    for pair in delays.windows(2) {
        // Doubling with ±20 % jitter: each delay is at least 2 × 0.8 / 1.2 of the one before.
        assert!(
            pair[1].as_secs_f64() >= pair[0].as_secs_f64() * 1.3,
            "{delays:?}"
        );
    }
    let started = Instant::now();
    link.shutdown().await;
    assert!(started.elapsed() < Duration::from_secs(1));
}

#[tokio::test]
async fn the_link_speaks_tls_to_an_mqtts_broker_trusting_only_the_given_ca() {
    let broker = Broker::start_tls();
    let mut config = config(&broker, "box-tls");
    config.ca_file = Some(broker.ca_file());
    let (link, mut events) = Link::start(config, vec!["loaxa/tls".into()]).unwrap();
    connected(&mut events).await;
    round_trip(&link, &mut events, "loaxa/tls").await;
    link.shutdown().await;
}

#[tokio::test]
async fn a_broker_certificate_from_another_ca_is_refused() {
    let broker = Broker::start_tls();
    let other = Broker::start_tls();
    let mut config = config(&broker, "box-tls-wrong-ca");
    config.ca_file = Some(other.ca_file());
    let (link, mut events) = Link::start(config, vec![]).unwrap();
    let reason = wait_for(&mut events, "Disconnected", |event| match event {
        LinkEvent::Connected { .. } => panic!("connected despite the wrong CA"),
        LinkEvent::Disconnected { reason, .. } => Some(reason),
        LinkEvent::Message(_) | LinkEvent::Subscribed { .. } => None,
    })
    .await;
    assert!(reason.contains("TLS"), "{reason}");
    link.shutdown().await;
}
