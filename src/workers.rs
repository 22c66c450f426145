//! A small pool of threads for work that grows with its input: decoding a whole file to measure
//! its loudness or its length, putting a bulletin together and hashing it, parsing the schedules.
//! The daemon's loop hands a job over and carries on; the answer comes back on a tokio channel the
//! loop waits on among its other events. The loop never waits for a worker, so a 10-hour file
//! or 100,000 programmes cannot make a programme start late, starve the systemd watchdog or
//! the MQTT keep-alive.
//!
//! Sized for a one-core box: two threads (one long decode does not hold up a reload), a bounded
//! queue (a burst of files cannot pile up memory), and a lower CPU priority than the player's
//! thread, which decodes what is on air against the clock.

use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex};

use tokio::sync::mpsc::UnboundedSender;

/// Threads of the daemon's pool.
pub const THREADS: usize = 2;
/// Jobs waiting for a thread, at most.
pub const QUEUE: usize = 32;
/// How much nicer than the rest of the daemon the workers are (nice(2) steps).
const NICENESS: i32 = 10;

type Job = Box<dyn FnOnce() + Send>;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum WorkerError {
    #[error("the worker queue is full ({QUEUE} jobs waiting)")]
    Full,
    #[error("the worker threads have stopped")]
    Stopped,
}

/// A handle on the pool; clones share it. The threads end once every handle is dropped and the
/// jobs already queued are done.
#[derive(Clone)]
pub struct Workers {
    queue: SyncSender<Job>,
}

impl Workers {
    /// Starts `threads` threads sharing a queue of `capacity` jobs.
    pub fn start(threads: usize, capacity: usize) -> std::io::Result<Workers> {
        let (queue, jobs) = sync_channel::<Job>(capacity);
        let jobs = Arc::new(Mutex::new(jobs));
        for index in 0..threads.max(1) {
            let jobs = Arc::clone(&jobs);
            std::thread::Builder::new()
                .name(format!("loaxa-worker-{index}"))
                .spawn(move || work(&jobs))?;
        }
        Ok(Workers { queue })
    }

    /// Queues `job`; its result is sent to `reply`. If the job panics, `if_it_panics` is sent
    /// instead, so whoever waits for an answer always gets one. Never blocks: a full queue is
    /// an error, and the caller tries again later.
    pub fn submit<R: Send + 'static>(
        &self,
        reply: &UnboundedSender<R>,
        if_it_panics: R,
        job: impl FnOnce() -> R + Send + 'static,
    ) -> Result<(), WorkerError> {
        let reply = reply.clone();
        let wrapped: Job = Box::new(move || {
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job))
                .unwrap_or_else(|_| {
                    tracing::error!("a background job panicked; its work is reported as failed");
                    if_it_panics
                });
            // The loop may be gone (shutting down): nobody is left to tell.
            let _ = reply.send(result);
        });
        self.queue.try_send(wrapped).map_err(|e| match e {
            TrySendError::Full(_) => WorkerError::Full,
            TrySendError::Disconnected(_) => WorkerError::Stopped,
        })
    }
}

fn work(jobs: &Mutex<Receiver<Job>>) {
    lower_priority();
    loop {
        // The lock is held only while waiting for the next job, never while running one.
        let job = match jobs.lock() {
            Ok(receiver) => receiver.recv(),
            Err(_) => return,
        };
        match job {
            Ok(job) => job(),
            Err(_) => return, // every handle dropped
        }
    }
}

/// On a one-core box the workers share the CPU with the player's real-time decoding: they yield
/// to it. Linux applies nice values per thread; failing to lower it changes nothing else.
fn lower_priority() {
    // SAFETY: gettid and setpriority take plain integers and touch no memory of ours.
    unsafe {
        let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
        libc::setpriority(libc::PRIO_PROCESS, tid, NICENESS);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Barrier;
    use std::time::Duration;

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap()
    }

    #[test]
    fn a_job_runs_off_the_calling_thread_and_its_result_comes_back_on_the_channel() {
        let workers = Workers::start(1, 4).unwrap();
        let (reply, mut results) = tokio::sync::mpsc::unbounded_channel();
        let caller = std::thread::current().id();
        workers
            .submit(&reply, None, move || {
                Some(std::thread::current().id() != caller)
            })
            .unwrap();
        let answer = runtime().block_on(results.recv()).unwrap();
        assert_eq!(answer, Some(true));
    }

    #[test]
    fn a_full_queue_refuses_a_job_at_once_instead_of_blocking() {
        let workers = Workers::start(1, 1).unwrap();
        let (reply, mut results) = tokio::sync::mpsc::unbounded_channel();
        let started = Arc::new(Barrier::new(2));
        let release = Arc::new(Barrier::new(2));
        let (s, r) = (Arc::clone(&started), Arc::clone(&release));
        workers
            .submit(&reply, 0, move || {
                s.wait();
                r.wait();
                1
            })
            .unwrap();
        started.wait(); // the thread is busy with the first job
        workers.submit(&reply, 0, || 2).unwrap(); // waits in the queue
        assert_eq!(workers.submit(&reply, 0, || 3), Err(WorkerError::Full));
        release.wait();
        let rt = runtime();
        assert_eq!(rt.block_on(results.recv()), Some(1));
        assert_eq!(rt.block_on(results.recv()), Some(2));
    }

    #[test]
    fn a_job_that_panics_answers_with_its_stand_in_and_the_thread_carries_on() {
        let workers = Workers::start(1, 4).unwrap();
        let (reply, mut results) = tokio::sync::mpsc::unbounded_channel();
        workers
            .submit(&reply, "crashed", || panic!("a decoder bug"))
            .unwrap();
        workers.submit(&reply, "crashed", || "done").unwrap();
        let rt = runtime();
        assert_eq!(rt.block_on(results.recv()), Some("crashed"));
        assert_eq!(rt.block_on(results.recv()), Some("done"));
    }

    #[test]
    fn two_threads_run_a_short_job_beside_a_long_one() {
        let workers = Workers::start(2, 4).unwrap();
        let (reply, mut results) = tokio::sync::mpsc::unbounded_channel();
        let (hold, held) = std::sync::mpsc::channel::<()>();
        workers
            .submit(&reply, "long", move || {
                let _ = held.recv_timeout(Duration::from_secs(10));
                "long"
            })
            .unwrap();
        workers.submit(&reply, "short", || "short").unwrap();
        let rt = runtime();
        assert_eq!(rt.block_on(results.recv()), Some("short"));
        hold.send(()).unwrap();
        assert_eq!(rt.block_on(results.recv()), Some("long"));
    }
}
