//! A throw-away box under `target/bench/` run as the real `loaxa daemon` binary.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct BoxDir {
    pub dir: PathBuf,
    loaxa: PathBuf,
}

impl BoxDir {
    /// A fresh box in `dir` (emptied first): all-day broadcast window, UTC, media from
    /// `media_dir`. All-day, because the bench runs at any hour and the default window would
    /// refuse programmes at night.
    pub fn create(dir: &Path, loaxa: &Path, media_dir: &Path) -> Result<BoxDir, String> {
        if !loaxa.is_file() {
            return Err(format!(
                "{} not built (cargo build --release --bin loaxa)",
                loaxa.display()
            ));
        }
        let _ = std::fs::remove_dir_all(dir);
        std::fs::create_dir_all(dir.join("schedules"))
            .map_err(|e| format!("{}: {e}", dir.display()))?;
        let config = format!(
            "box_id = \"bench\"\nstate_dir = \"state\"\nschedules_dir = \"schedules\"\n\
             media_dir = \"{}\"\ntimezone = \"UTC\"\n\n[[window]]\nfrom = \"00:00\"\nto = \"24:00\"\n",
            media_dir.display()
        );
        std::fs::write(dir.join("loaxa.toml"), config).map_err(|e| e.to_string())?;
        Ok(BoxDir {
            dir: dir.to_owned(),
            loaxa: loaxa.to_owned(),
        })
    }

    pub fn write_schedule(&self, name: &str, text: &str) -> Result<(), String> {
        std::fs::write(self.dir.join("schedules").join(name), text).map_err(|e| e.to_string())
    }

    /// `loaxa daemon --output OUTPUT`, logging warnings to `daemon.log` in the box.
    pub fn start(&self, output: &str) -> Result<Daemon, String> {
        let log = std::fs::File::create(self.dir.join("daemon.log")).map_err(|e| e.to_string())?;
        let child = Command::new(&self.loaxa)
            .arg("daemon")
            .arg("--config")
            .arg(self.dir.join("loaxa.toml"))
            .arg("--output")
            .arg(output)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", self.loaxa.display()))?;
        Ok(Daemon { child })
    }

    /// Outcomes of the as-run log (`aired`, `missed`…), from `loaxa log --json`.
    pub fn outcomes(&self) -> Vec<String> {
        let out = Command::new(&self.loaxa)
            .args(["log", "--json", "--config"])
            .arg(self.dir.join("loaxa.toml"))
            .output();
        let Ok(out) = out else { return Vec::new() };
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
            .map(|entry| entry["outcome"].as_str().unwrap_or("?").to_string())
            .collect()
    }
}

pub struct Daemon {
    child: Child,
}

impl Daemon {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// SIGTERM, as systemd would stop it; true if it exited cleanly within 15 s.
    pub fn stop(mut self) -> bool {
        crate::sys::terminate(self.child.id());
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.success();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
