//! The systemd unit shipped in the Debian package (`make deb`) is one systemd accepts, with the
//! hardening the box relies on.

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

fn which(name: &str) -> Result<std::path::PathBuf, ()> {
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|dir| dir.join(name))
        .find(|path| path.is_file())
        .ok_or(())
}
