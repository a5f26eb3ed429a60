//! A one-line progress bar on stderr for long runs: drawn only when stderr is a terminal and
//! the run has lasted long enough to be worth it, redrawn a few times a second, erased at
//! the end.

use std::io::{IsTerminal, Write};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Shared progress of a batch of work items.
pub struct Progress {
    total: usize,
    done: AtomicUsize,
    current: Mutex<String>,
    enabled: bool,
    what: &'static str,
}

/// The bar shows up only after this long.
const DELAY: Duration = Duration::from_millis(500);
const WIDTH: usize = 30;

impl Progress {
    /// Progress over `total` items called `what`; drawn only if `wanted` and stderr is a tty.
    pub fn new(total: usize, what: &'static str, wanted: bool) -> Progress {
        Progress {
            total,
            done: AtomicUsize::new(0),
            current: Mutex::new(String::new()),
            enabled: wanted && std::io::stderr().is_terminal(),
            what,
        }
    }

    /// Notes the item a worker starts.
    pub fn start(&self, name: &str) {
        if self.enabled
            && let Ok(mut c) = self.current.lock()
        {
            name.clone_into(&mut c);
        }
    }

    /// Counts one finished item.
    pub fn finish_one(&self) {
        self.done.fetch_add(1, Ordering::Relaxed);
    }

    /// The bar's text.
    pub fn line(&self) -> String {
        let done = self.done.load(Ordering::Relaxed).min(self.total);
        let filled = (done * WIDTH).checked_div(self.total).unwrap_or(WIDTH);
        let current = self.current.lock().map(|c| c.clone()).unwrap_or_default();
        format!(
            "[{}{}] {done}/{} {}  {current}",
            "#".repeat(filled),
            " ".repeat(WIDTH - filled),
            self.total,
            self.what
        )
    }

    /// Redraws until `stop` is set, then erases the bar (run on its own thread).
    pub fn draw_until(&self, stop: &AtomicBool) {
        if !self.enabled {
            return;
        }
        let t0 = Instant::now();
        let mut drawn = false;
        while !stop.load(Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(50));
            if t0.elapsed() < DELAY {
                continue;
            }
            let line: String = self.line().chars().take(100).collect();
            let mut e = std::io::stderr().lock();
            let _ = write!(e, "\r\x1b[K{line}");
            let _ = e.flush();
            drawn = true;
            drop(e);
            std::thread::sleep(Duration::from_millis(150));
        }
        if drawn {
            let mut e = std::io::stderr().lock();
            let _ = write!(e, "\r\x1b[K");
            let _ = e.flush();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bar_fills_with_work() {
        let p = Progress::new(4, "programs", false);
        assert!(
            p.line()
                .starts_with(&format!("[{}] 0/4", " ".repeat(WIDTH)))
        );
        p.finish_one();
        p.finish_one();
        assert!(p.line().contains("2/4"));
        assert!(
            p.line()
                .starts_with(&format!("[{}{}]", "#".repeat(15), " ".repeat(15)))
        );
        let empty = Progress::new(0, "programs", false);
        assert!(empty.line().contains("0/0"));
    }
}
