//! The broker walk-through of docs/broker.md works as written. Its shell blocks run here, after
//! the test's own settings (a temporary root in place of /etc and /var), and make the district's
//! CA, the broker's certificate, the logins and the configuration beside Debian's stock
//! mosquitto.conf; a real Mosquitto then runs with them, and a real box and the district use it
//! over TLS, each held to the ACL.

mod common;

use std::fs;
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::docs::blocks;
use common::{District, REPO, TestBox, local_second_ahead, stderr, stdout};

const DOC: &str = "docs/broker.md";
/// Debian's own configuration, which the walk-through's drop-in goes beside.
const STOCK_CONFIG: &str = "/etc/mosquitto/mosquitto.conf";
/// The directories of Debian's Mosquitto that its configuration and the walk-through name: the
/// test roots each in its own temporary directory.
const DEBIAN_DIRS: [&str; 4] = [
    "/etc/mosquitto",
    "/var/lib/mosquitto",
    "/var/log/mosquitto",
    "/run/mosquitto",
];
/// The drop-in's listeners (the boxes', the office's), each moved to a free loopback port.
const LISTENERS: [&str; 2] = ["listener 8883", "listener 8884"];
/// Attempts at a port nobody else takes between our probe and Mosquitto's bind.
const START_ATTEMPTS: usize = 5;

/// A broker set up by the walk-through under a temporary root, and running.
struct Walkthrough {
    root: tempfile::TempDir,
    /// The boxes' listener.
    port: u16,
    /// The office's listener.
    office_port: u16,
    mosquitto: Option<Child>,
}

impl Walkthrough {
    /// Lays out Debian's Mosquitto package under a temporary root, runs the walk-through's set-up
    /// blocks there, and starts Mosquitto with Debian's configuration and the drop-in.
    fn set_up() -> Walkthrough {
        let root = tempfile::Builder::new()
            .prefix("loaxa-walkthrough-")
            .tempdir()
            .expect("temporary root");
        // Mosquitto reads its files as the user `mosquitto`, which must get through here.
        set_mode(root.path(), 0o755);
        let mut walkthrough = Walkthrough {
            root,
            port: free_port(),
            office_port: free_port(),
            mosquitto: None,
        };
        walkthrough.install_debians_mosquitto();
        walkthrough.check_settings_block();
        walkthrough.run("sh broker");
        walkthrough.start();
        walkthrough
    }

    /// What `apt install mosquitto` leaves: the directories (owned by `mosquitto` where the
    /// package and its unit make them so) and the stock mosquitto.conf, its paths under the root.
    fn install_debians_mosquitto(&self) {
        for dir in DEBIAN_DIRS {
            fs::create_dir_all(self.rooted(dir)).expect("a directory of the root");
        }
        for dir in ["conf.d", "certs", "ca_certificates"] {
            fs::create_dir_all(self.etc().join(dir)).expect("a directory of /etc/mosquitto");
        }
        for dir in &DEBIAN_DIRS[1..] {
            let chown = Command::new("chown")
                .arg("mosquitto")
                .arg(self.rooted(dir))
                .status()
                .expect("chown runs");
            assert!(
                chown.success(),
                "chown mosquitto {dir} (the test runs as root)"
            );
        }
        let stock = fs::read_to_string(STOCK_CONFIG)
            .unwrap_or_else(|e| panic!("{STOCK_CONFIG}: {e} (install Debian's mosquitto)"));
        assert!(
            stock.contains("include_dir /etc/mosquitto/conf.d"),
            "{STOCK_CONFIG} is not Debian's: it does not include conf.d\n{stock}"
        );
        fs::write(self.etc().join("mosquitto.conf"), self.redirect(&stock))
            .expect("write mosquitto.conf");
    }

    /// The test's settings in place of the settings block an engineer edits.
    fn settings(&self) -> String {
        let root = self.root.path().display();
        format!(
            "ETC={root}/etc/mosquitto\nSAMPLES={REPO}/docs/mosquitto\nWORK={root}/work\n\
             BROKER_NAME=localhost\nBROKER_IP=127.0.0.1\nBOXES=\"pd-01 pd-02\"\nPORT={}\nOFFICE_PORT={}\n",
            self.port, self.office_port
        )
    }

    /// The doc's settings block sets what the test's does, no more, no less: the other blocks
    /// run as written on the test's.
    fn check_settings_block(&self) {
        let doc = blocks(DOC, "sh broker-settings");
        assert_eq!(doc.len(), 1, "{DOC} has one settings block");
        let (line, block) = &doc[0];
        assert_eq!(
            assigned(block),
            assigned(&self.settings()),
            "the settings block of {DOC}:{line} and this test's"
        );
    }

    /// Runs every block of `info` of the walk-through, in order, after the settings, as one
    /// pasted shell would; fails the test if one fails.
    fn run(&self, info: &str) -> Output {
        let steps = blocks(DOC, info);
        assert!(!steps.is_empty(), "{DOC} has no `{info}` block");
        let mut script = self.settings();
        for (line, block) in steps {
            script.push_str(&format!("# {DOC}:{line}\n{block}"));
        }
        let output = Command::new("bash")
            .args(["-euo", "pipefail", "-c", &script])
            .current_dir(self.root.path())
            .output()
            .expect("bash runs");
        assert!(
            output.status.success(),
            "the `{info}` blocks of {DOC} failed:\n{}{}",
            stdout(&output),
            stderr(&output)
        );
        output
    }

    fn rooted(&self, path: &str) -> PathBuf {
        self.root.path().join(path.trim_start_matches('/'))
    }

    /// A configuration's Debian paths, under the root.
    fn redirect(&self, config: &str) -> String {
        DEBIAN_DIRS.iter().fold(config.to_owned(), |text, dir| {
            text.replace(dir, &self.rooted(dir).display().to_string())
        })
    }

    fn etc(&self) -> PathBuf {
        self.rooted("/etc/mosquitto")
    }

    fn work(&self) -> PathBuf {
        self.root.path().join("work")
    }

    fn ca_file(&self) -> PathBuf {
        self.work().join("loaxa-ca.pem")
    }

    /// The boxes' url.
    fn url(&self) -> String {
        format!("mqtts://localhost:{}", self.port)
    }

    /// The office's url.
    fn office_url(&self) -> String {
        format!("mqtts://localhost:{}", self.office_port)
    }

    /// The listener a login uses: the office's for `district`, the boxes' for the others.
    fn port_of(&self, login: &str) -> u16 {
        if login == "district" {
            self.office_port
        } else {
            self.port
        }
    }

    /// The password of `login` the walk-through wrote down (the latest, for a login made again).
    fn password(&self, login: &str) -> String {
        let logins = fs::read_to_string(self.work().join("logins.txt")).expect("logins.txt");
        logins
            .lines()
            .filter_map(|line| line.split_once(' '))
            .filter(|(name, _)| *name == login)
            .map(|(_, password)| password.to_owned())
            .next_back()
            .unwrap_or_else(|| panic!("no {login} in logins.txt:\n{logins}"))
    }

    fn log(&self) -> String {
        fs::read_to_string(self.rooted("/var/log/mosquitto/mosquitto.log")).unwrap_or_default()
    }

    /// The warnings Mosquitto logged, without their time stamps.
    fn warnings(&self) -> Vec<String> {
        self.log()
            .lines()
            .filter_map(|line| line.split_once(": "))
            .map(|(_, text)| text.to_owned())
            .filter(|text| text.starts_with("Warning:"))
            .collect()
    }

    /// Starts Mosquitto on Debian's mosquitto.conf, the drop-in's listeners moved to free
    /// loopback ports (others if those are taken meanwhile).
    fn start(&mut self) {
        let drop_in = self.etc().join("conf.d/loaxa.conf");
        let installed =
            fs::read_to_string(&drop_in).expect("the walk-through installs the drop-in");
        for listener in LISTENERS {
            assert!(
                installed.lines().any(|line| line == listener),
                "the drop-in has no `{listener}` line:\n{installed}"
            );
        }
        let mut failure = String::new();
        for _ in 0..START_ATTEMPTS {
            let moved = [
                format!("listener {} 127.0.0.1", self.port),
                format!("listener {} 127.0.0.1", self.office_port),
            ];
            let config: String = self
                .redirect(&installed)
                .lines()
                .map(|line| match LISTENERS.iter().position(|l| *l == line) {
                    Some(i) => moved[i].as_str(),
                    None => line,
                })
                .flat_map(|line| [line, "\n"])
                .collect();
            fs::write(&drop_in, config).expect("write the drop-in");
            match self.spawn() {
                Ok(child) => {
                    self.mosquitto = Some(child);
                    return;
                }
                Err(error) => {
                    failure = error;
                    self.port = free_port();
                    self.office_port = free_port();
                }
            }
        }
        panic!("mosquitto did not start after {START_ATTEMPTS} attempts: {failure}");
    }

    fn spawn(&self) -> Result<Child, String> {
        let _ = fs::remove_file(self.rooted("/var/log/mosquitto/mosquitto.log"));
        // Errors in the configuration come before the log file is open.
        let errors = self.root.path().join("mosquitto.stderr");
        let mut child = Command::new("/usr/sbin/mosquitto")
            .arg("-c")
            .arg(self.etc().join("mosquitto.conf"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(fs::File::create(&errors).map_err(|e| e.to_string())?)
            .spawn()
            .map_err(|e| format!("cannot run mosquitto: {e}"))?;
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                let errors = fs::read_to_string(&errors).unwrap_or_default();
                return Err(format!(
                    "mosquitto exited with {status}:\n{errors}{}",
                    self.log()
                ));
            }
            if self.log().contains(" running\n")
                && [self.port, self.office_port]
                    .iter()
                    .all(|port| TcpStream::connect((Ipv4Addr::LOCALHOST, *port)).is_ok())
            {
                return Ok(child);
            }
            if Instant::now() >= deadline {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "ports {} and {} never open:\n{}",
                    self.port,
                    self.office_port,
                    self.log()
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// What `systemctl reload mosquitto` does (Debian's unit: `kill -HUP`).
    fn reload(&self) {
        let pid = self.mosquitto.as_ref().expect("mosquitto runs").id();
        let status = Command::new("kill")
            .args(["-HUP", &pid.to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success());
    }

    /// A Mosquitto client logged in as `login` over TLS, trusting the walk-through's CA, on
    /// the listener that login is meant for.
    fn client(&self, tool: &str, login: &str) -> Command {
        self.client_on(tool, login, self.port_of(login))
    }

    /// The same on the listener of `port`.
    fn client_on(&self, tool: &str, login: &str, port: u16) -> Command {
        let mut command = Command::new(tool);
        command
            .args(["-h", "localhost", "-p", &port.to_string(), "--cafile"])
            .arg(self.ca_file())
            .args(["-u", login, "-P", &self.password(login)]);
        command
    }

    /// Publishes `message` retained as `login`; whether the broker took it (MQTT 5 tells a
    /// refused publication apart).
    fn publish(&self, login: &str, topic: &str, message: &str) -> bool {
        let out = self
            .client("mosquitto_pub", login)
            .args(["-V", "5", "-q", "1", "-r", "-t", topic, "-m", message])
            .output()
            .expect("mosquitto_pub runs");
        assert!(
            out.status.success(),
            "{login} could not publish on {topic}: {}",
            stderr(&out)
        );
        !stderr(&out).contains("Not authorized")
    }

    /// The retained messages `login` receives, as `TOPIC MESSAGE` lines.
    fn retained(&self, login: &str, filter: &str) -> String {
        let out = self
            .client("mosquitto_sub", login)
            .args(["-t", filter, "-v", "--retained-only", "-W", "2"])
            .output()
            .expect("mosquitto_sub runs");
        stdout(&out)
    }
}

impl Drop for Walkthrough {
    fn drop(&mut self) {
        if let Some(mut child) = self.mosquitto.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The names a block of shell assignments sets, in order.
fn assigned(block: &str) -> Vec<String> {
    block
        .lines()
        .filter_map(|line| line.split_once('='))
        .map(|(name, _)| name.trim().to_owned())
        .collect()
}

fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|listener| listener.local_addr())
        .expect("a free loopback port")
        .port()
}

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).expect("chmod");
}

#[test]
fn the_walkthrough_gives_a_broker_beside_debians_config_that_a_box_reaches_over_tls_and_the_district_publishes_through()
 {
    let broker = Walkthrough::set_up();
    let started = blocks(DOC, "text")
        .into_iter()
        .find(|(_, text)| text.contains(" running"))
        .expect("the doc shows the log of a start");
    let warned: Vec<String> = started
        .1
        .lines()
        .filter_map(|line| line.strip_prefix("… "))
        .filter(|text| text.starts_with("Warning:"))
        .map(str::to_owned)
        .collect();
    assert_eq!(
        broker.warnings(),
        warned,
        "the warnings {DOC}:{} expects",
        started.0
    );

    // The engineer's own check: TLS, the logins and the ACL, with mosquitto_pub.
    let check = broker.run("sh broker-check");
    assert!(
        blocks(DOC, "text")
            .iter()
            .any(|(_, text)| *text == stderr(&check)),
        "the check said what {DOC} does not:\n{}",
        stderr(&check)
    );

    // A real box, over TLS (rustls), with the CA and its login from the walk-through.
    let district = District::new();
    let pd01 = TestBox::with_config(&format!(
        "[link]\nurl = \"{}\"\nusername = \"pd-01\"\npassword = \"{}\"\nca_file = \"{}\"\n\
         district = \"gia-lam\"\ncommune = \"phu-dong\"\ntrusted_keys = [\"{}\"]\n",
        broker.url(),
        broker.password("pd-01"),
        broker.ca_file().display(),
        district.public_key()
    ))
    .named("pd-01");
    let daemon = pd01.start_daemon("out.wav");
    let deadline = Instant::now() + Duration::from_secs(20);
    while !broker
        .retained("district", "loaxa/status/pd-01")
        .contains("\"online\"")
    {
        assert!(
            Instant::now() < deadline,
            "pd-01 never said it is online over TLS:\n{}",
            fs::read_to_string(pd01.path("out.wav.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(200));
    }

    // The district publishes to the box's commune, and hears the box take it.
    let (at, _) = local_second_ahead(Duration::from_secs(600));
    let schedule = district.one_off("kiem-tra", &at, "audio/thong-bao-demo.mp3");
    let ca = broker.ca_file().display().to_string();
    let password = broker.password("district");
    let login = [
        "--ca-file",
        &ca,
        "--username",
        "district",
        "--password",
        &password,
    ];
    let out =
        district.publish_schedule_to(&broker.office_url(), &schedule, "commune/phu-dong", &login);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    assert!(
        stdout(&out).lines().any(|line| {
            let mut cells = line.split_whitespace();
            cells.next() == Some("pd-01") && cells.next() == Some("received")
        }),
        "{}",
        stdout(&out)
    );
    assert!(daemon.stop(), "the box stops cleanly");
}

#[test]
fn on_the_walkthroughs_broker_a_box_reads_every_scope_but_another_boxs_and_writes_only_its_own_status_and_events()
 {
    let broker = Walkthrough::set_up();
    for (topic, message) in [
        ("loaxa/all/schedule", "for all"),
        ("loaxa/district/gia-lam/schedule", "for gia-lam"),
        ("loaxa/commune/phu-dong/schedule", "for phu-dong"),
        ("loaxa/commune/dang-xa/schedule", "for dang-xa"),
        ("loaxa/box/pd-01/command", "for pd-01"),
        ("loaxa/box/pd-02/command", "for pd-02"),
        ("loaxa/chunk/3f0c/0", "a chunk"),
        ("loaxa/office/district", "the office's"),
    ] {
        assert!(broker.publish("district", topic, message), "{topic}");
    }
    assert!(broker.publish("pd-02", "loaxa/status/pd-02", "pd-02 online"));
    assert!(broker.publish("pd-02", "loaxa/events/pd-02", "pd-02 received"));

    let seen = broker.retained("pd-01", "loaxa/#");
    for readable in [
        "loaxa/all/schedule for all",
        "loaxa/district/gia-lam/schedule for gia-lam",
        "loaxa/commune/phu-dong/schedule for phu-dong",
        // Another commune's too: the ACL cannot tell a box's commune (docs/broker.md).
        "loaxa/commune/dang-xa/schedule for dang-xa",
        "loaxa/box/pd-01/command for pd-01",
        "loaxa/chunk/3f0c/0 a chunk",
    ] {
        assert!(
            seen.lines().any(|line| line == readable),
            "{readable}:\n{seen}"
        );
    }
    for hidden in [
        "for pd-02",
        "pd-02 online",
        "pd-02 received",
        "the office's",
    ] {
        assert!(!seen.contains(hidden), "pd-01 read {hidden:?}:\n{seen}");
    }

    assert!(broker.publish("pd-01", "loaxa/status/pd-01", "pd-01 online"));
    assert!(broker.publish("pd-01", "loaxa/events/pd-01", "pd-01 received"));
    for topic in [
        "loaxa/status/pd-02",
        "loaxa/events/pd-02",
        "loaxa/all/schedule",
        "loaxa/commune/phu-dong/command",
        "loaxa/box/pd-01/command",
        "loaxa/chunk/3f0c/0",
        "loaxa/office/district",
    ] {
        assert!(
            !broker.publish("pd-01", topic, "forged by pd-01"),
            "pd-01 wrote on {topic}"
        );
    }
    assert!(
        !broker.publish("pd-02", "loaxa/status/pd-01", "forged by pd-02"),
        "another box's login writes pd-01's status"
    );

    let held = broker.retained("district", "loaxa/#");
    assert!(!held.contains("forged"), "{held}");
    for kept in [
        "loaxa/status/pd-01 pd-01 online",
        "loaxa/events/pd-01 pd-01 received",
        "loaxa/status/pd-02 pd-02 online",
        "loaxa/chunk/3f0c/0 a chunk",
    ] {
        assert!(held.lines().any(|line| line == kept), "{kept}:\n{held}");
    }
}

#[test]
fn a_box_added_as_the_walkthrough_says_logs_in_and_writes_its_status_with_no_acl_edit() {
    let broker = Walkthrough::set_up();
    let acl = fs::read_to_string(broker.etc().join("loaxa.acl")).expect("the ACL");
    let added = broker.run("sh broker-add");
    let (new_box, _) = stdout(&added)
        .lines()
        .last()
        .and_then(|line| line.split_once(' '))
        .map(|(login, password)| (login.to_owned(), password.to_owned()))
        .expect("the block prints the new login");
    broker.reload();

    // The reload is asynchronous: the login works once Mosquitto has read the file again.
    let own_status = format!("loaxa/status/{new_box}");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let out = broker
            .client("mosquitto_pub", &new_box)
            .args([
                "-V",
                "5",
                "-q",
                "1",
                "-r",
                "-t",
                &own_status,
                "-m",
                "online",
            ])
            .output()
            .expect("mosquitto_pub runs");
        if out.status.success() {
            assert_eq!(stderr(&out), "", "{new_box} writes its own status");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{new_box} never logged in: {}\n{}",
            stderr(&out),
            broker.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(!broker.publish(&new_box, "loaxa/status/pd-01", "forged"));
    assert!(
        broker
            .retained("district", "loaxa/status/#")
            .lines()
            .any(|line| line == format!("{own_status} online"))
    );
    assert_eq!(
        fs::read_to_string(broker.etc().join("loaxa.acl")).expect("the ACL"),
        acl,
        "adding a box leaves the ACL alone"
    );
}

#[test]
fn a_box_login_cannot_take_another_clients_id_nor_log_in_on_the_office_listener() {
    let broker = Walkthrough::set_up();
    // pd-02 and the console's collector are connected, each with its own client id.
    let hold = |login: &str, id: &str| {
        broker
            .client("mosquitto_sub", login)
            .args(["-i", id, "-t", "loaxa/all/#", "-W", "30"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("mosquitto_sub runs")
    };
    let mut held = [
        hold("pd-02", "loaxa-box-pd-02"),
        hold("district", "loaxa-console-gia-lam"),
    ];
    let deadline = Instant::now() + Duration::from_secs(10);
    while !(broker.log().contains(" as pd-02 ")
        && broker.log().contains(" as loaxa-console-gia-lam "))
    {
        assert!(
            Instant::now() < deadline,
            "the clients never connected:\n{}",
            broker.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // pd-01's own status, written with the login of pd-01 and the client id `id`, on `port`.
    let as_pd01 = |port: u16, id: &str| {
        broker
            .client_on("mosquitto_pub", "pd-01", port)
            .args([
                "-i",
                id,
                "-q",
                "1",
                "-t",
                "loaxa/status/pd-01",
                "-m",
                "online",
            ])
            .output()
            .expect("mosquitto_pub runs")
    };
    // pd-01's login asks for each of their ids on the boxes' listener: it gets its own.
    for id in ["loaxa-box-pd-02", "loaxa-console-gia-lam"] {
        let out = as_pd01(broker.port, id);
        assert!(out.status.success(), "{}", stderr(&out));
    }
    let log = broker.log();
    assert_eq!(log.matches(" as pd-01 ").count(), 2, "{log}");
    assert!(
        !log.contains("already connected"),
        "a client was taken over:\n{log}"
    );
    for child in &mut held {
        assert!(
            matches!(child.try_wait(), Ok(None)),
            "a held client was dropped:\n{log}"
        );
    }
    // On the office's listener a box's login is not known at all.
    let out = as_pd01(broker.office_port, "loaxa-console-gia-lam");
    assert!(
        !out.status.success(),
        "pd-01 logged in on the office's listener"
    );
    assert!(stderr(&out).contains("not authorised"), "{}", stderr(&out));
    assert!(
        matches!(held[1].try_wait(), Ok(None)),
        "the collector was dropped"
    );
    for mut child in held {
        let _ = child.kill();
        let _ = child.wait();
    }
}
