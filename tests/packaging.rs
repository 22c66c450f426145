//! The systemd unit shipped in the Debian package (`make deb`) is one systemd accepts, with the
//! hardening the box relies on; and the crates keep to their rooms: the pure core pulls in no
//! I/O, the office's tool no audio device.

use std::process::Command;

const REPO: &str = env!("CARGO_MANIFEST_DIR");

#[test]
fn systemd_analyze_verify_accepts_the_unit() {
    let unit = std::fs::read_to_string(format!("{REPO}/packaging/loaxa.service")).unwrap();
    for line in [
        "Type=notify",
        "WatchdogSec=",
        "ProtectSystem=strict",
        "StateDirectory=loaxa",
        "ReadWritePaths=/var/lib/loaxa",
        "User=loaxa",
    ] {
        assert!(unit.contains(line), "the unit lacks {line}");
    }
    let Ok(analyze) = which("systemd-analyze") else {
        eprintln!("systemd-analyze is not installed; only the unit's text was checked");
        return;
    };
    // Verified as installed, but pointing at the binary under test (no /usr/bin/loaxa here).
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("loaxa.service");
    std::fs::write(
        &path,
        unit.replace("/usr/bin/loaxa", env!("CARGO_BIN_EXE_loaxa")),
    )
    .unwrap();
    let out = Command::new(analyze)
        .arg("verify")
        .arg(&path)
        .output()
        .unwrap();
    let complaints = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && complaints.trim().is_empty(),
        "{complaints}"
    );
}

/// The names of the packages `cargo tree` lists as normal (not dev, not build) dependencies of
/// `package`, from the lock file alone.
fn dependencies_of(package: &str) -> Vec<String> {
    let out = Command::new(env!("CARGO"))
        .args([
            "tree",
            "--offline",
            "--locked",
            "-e",
            "normal",
            "--prefix",
            "none",
        ])
        .args(["--format", "{p}", "-p", package])
        .current_dir(REPO)
        .output()
        .expect("cargo runs");
    assert!(
        out.status.success(),
        "cargo tree -p {package}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|line| line.split_whitespace().next())
        .map(str::to_owned)
        .collect()
}

#[test]
fn the_core_crate_has_no_async_runtime_broker_client_audio_device_or_database() {
    let deps = dependencies_of("loaxa-core");
    assert!(deps.iter().any(|d| d == "ed25519-dalek"), "{deps:?}");
    for forbidden in [
        "tokio",
        "rumqttc-v4-next",
        "cpal",
        "alsa",
        "alsa-sys",
        "rusqlite",
        "symphonia",
    ] {
        assert!(
            !deps.iter().any(|d| d == forbidden),
            "loaxa-core depends on {forbidden}"
        );
    }
}

#[test]
fn the_district_tool_builds_without_alsa_or_the_box() {
    let deps = dependencies_of("loaxa-district");
    assert!(deps.iter().any(|d| d == "loaxa-link"), "{deps:?}");
    // SQLite it has, for the console's accounts and the archive; a sound card it never needs.
    for forbidden in ["cpal", "alsa", "alsa-sys", "loaxa"] {
        assert!(
            !deps.iter().any(|d| d == forbidden),
            "loaxa-district depends on {forbidden}"
        );
    }
}

fn which(name: &str) -> Result<std::path::PathBuf, ()> {
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|dir| dir.join(name))
        .find(|path| path.is_file())
        .ok_or(())
}
