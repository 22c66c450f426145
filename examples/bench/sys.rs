//! What the sections share: the machine, /proc readings, child CPU time, tools on the PATH,
//! environment knobs, and a heap counter.

use std::alloc::{GlobalAlloc, Layout, System};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::{Value, json};

/// System allocator that can keep a count of live heap bytes.
pub struct CountingAllocator;

static COUNTING: AtomicBool = AtomicBool::new(false);
static LIVE: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is forwarded unchanged to the system allocator; only a counter is kept.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if COUNTING.load(Ordering::Relaxed) {
            LIVE.fetch_add(layout.size(), Ordering::Relaxed);
        }
        // SAFETY: same contract as ours.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if COUNTING.load(Ordering::Relaxed) {
            LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        }
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if COUNTING.load(Ordering::Relaxed) {
            LIVE.fetch_add(new_size, Ordering::Relaxed);
            LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        }
        // SAFETY: same contract as ours.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

/// Starts counting live heap bytes from zero. Memory freed later that was allocated before
/// counting started makes the count wrap, so callers only compare two readings taken while
/// their own allocations are alive.
pub fn count_heap(on: bool) {
    LIVE.store(0, Ordering::Relaxed);
    COUNTING.store(on, Ordering::Relaxed);
}

pub fn heap_live() -> isize {
    LIVE.load(Ordering::Relaxed) as isize
}

/// The machine the figures come from.
#[derive(Clone)]
pub struct Machine {
    pub cpus: usize,
    pub cpu_model: String,
    pub ram_bytes: u64,
    pub kernel: String,
    pub tools: Vec<(String, String)>,
}

impl Machine {
    pub fn probe() -> Machine {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        // x86 says "model name"; Raspberry Pi kernels say "Model" (and no model name).
        let cpu_model = ["model name", "Model", "Hardware", "cpu model"]
            .iter()
            .find_map(|key| {
                cpuinfo.lines().find_map(|line| {
                    let (k, v) = line.split_once(':')?;
                    (k.trim() == *key).then(|| v.trim().to_string())
                })
            })
            .unwrap_or_else(|| "unknown CPU".into());
        let ram_bytes = meminfo("MemTotal").unwrap_or(0);
        let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .map(|s| s.trim().to_string())
            .unwrap_or_default();
        let tools = [
            ("mpg123", "--version"),
            ("ffmpeg", "-version"),
            ("mosquitto", "-h"),
        ]
        .iter()
        .map(|(tool, flag)| {
            let version = which(tool)
                .and_then(|path| {
                    let out = std::process::Command::new(path).arg(flag).output().ok()?;
                    let text = String::from_utf8_lossy(&out.stdout).into_owned()
                        + &String::from_utf8_lossy(&out.stderr);
                    text.lines().next().map(|l| l.trim().to_string())
                })
                .unwrap_or_else(|| "not installed".into());
            (tool.to_string(), version)
        })
        .collect();
        Machine {
            cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
            cpu_model,
            ram_bytes,
            kernel,
            tools,
        }
    }

    pub fn describe(&self) -> String {
        format!(
            "{} CPU ({}), {:.1} GiB RAM, Linux {}; {}",
            self.cpus,
            self.cpu_model,
            self.ram_bytes as f64 / (1u64 << 30) as f64,
            self.kernel,
            self.tools
                .iter()
                .map(|(tool, version)| format!("{tool}: {version}"))
                .collect::<Vec<_>>()
                .join("; ")
        )
    }

    pub fn to_json(&self) -> Value {
        json!({
            "cpus": self.cpus,
            "cpu_model": self.cpu_model,
            "ram_bytes": self.ram_bytes,
            "kernel": self.kernel,
            "tools": self.tools.iter().map(|(t, v)| json!({ "tool": t, "version": v })).collect::<Vec<_>>(),
        })
    }
}

/// A `/proc/meminfo` field, in bytes.
pub fn meminfo(key: &str) -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    text.lines().find_map(|line| {
        let rest = line.strip_prefix(key)?.strip_prefix(':')?;
        let kib: u64 = rest.trim().trim_end_matches("kB").trim().parse().ok()?;
        Some(kib * 1024)
    })
}

/// The full path of `tool` on the PATH (or in /usr/sbin, where Debian puts mosquitto).
pub fn which(tool: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/sbin")])
        .map(|dir| dir.join(tool))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// A process's CPU time and memory, from /proc.
#[derive(Clone, Copy, Debug)]
pub struct ProcSample {
    /// user + system, all threads.
    pub cpu: Duration,
    pub rss_bytes: u64,
    pub peak_rss_bytes: u64,
}

pub fn proc_sample(pid: u32) -> Option<ProcSample> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces and parentheses: fields are counted after the last ')'.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    // After ')': state is field 3 of stat(5), so utime (14) and stime (15) are at 11 and 12.
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kib = |key: &str| -> Option<u64> {
        status.lines().find_map(|line| {
            let rest = line.strip_prefix(key)?;
            rest.trim().trim_end_matches("kB").trim().parse().ok()
        })
    };
    Some(ProcSample {
        cpu: Duration::from_nanos(ticks * 1_000_000_000 / hz),
        rss_bytes: kib("VmRSS:")? * 1024,
        peak_rss_bytes: kib("VmHWM:").unwrap_or(0) * 1024,
    })
}

/// user + system CPU of all children waited for so far.
pub fn children_cpu() -> Duration {
    rusage_cpu(libc::RUSAGE_CHILDREN)
}

/// user + system CPU of this process, all threads.
pub fn self_cpu() -> Duration {
    rusage_cpu(libc::RUSAGE_SELF)
}

fn rusage_cpu(who: libc::c_int) -> Duration {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage fills the struct it is given; on failure it stays zeroed.
    let usage = unsafe {
        libc::getrusage(who, usage.as_mut_ptr());
        usage.assume_init()
    };
    let tv = |t: libc::timeval| {
        Duration::from_secs(t.tv_sec.max(0) as u64) + Duration::from_micros(t.tv_usec.max(0) as u64)
    };
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

pub fn raise_fd_limit() {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: plain get/set of this process's own limit.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 {
            limit.rlim_cur = limit.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        }
    }
}

pub fn fd_limit() -> u64 {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: plain read of this process's own limit.
    unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) };
    // rlim_t is 32-bit on 32-bit ARM boxes, 64-bit elsewhere.
    #[allow(clippy::useless_conversion)]
    u64::from(limit.rlim_cur)
}

/// Sends SIGTERM to a child we started.
pub fn terminate(pid: u32) {
    // SAFETY: kill(2) on a pid we spawned and have not reaped.
    unsafe { libc::kill(pid as libc::pid_t, libc::SIGTERM) };
}

pub fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(default)
}

pub fn env_list(name: &str) -> Option<Vec<String>> {
    let value = std::env::var(name).ok()?;
    let items: Vec<String> = value
        .split(',')
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect();
    (!items.is_empty()).then_some(items)
}

/// Percentile (0–100) of sorted values, nearest-rank.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

pub fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    percentile(values, 50.0)
}

/// Sizes are given in MB (10^6 bytes), the unit of the goals.
pub const MB: f64 = 1e6;
