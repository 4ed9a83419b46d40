//! Where every log line goes: a shared buffer that a writer thread empties into stderr
//! in batches. Appending a line is a lock and a copy: no allocation once the buffer
//! has grown, and no wake-up of the writer per line (a line per request would
//! otherwise cost a futex wake and a context switch each, on the request's CPU).
//!
//! Lines reach stderr within [`FLUSH_INTERVAL`]. Nothing is dropped: when the
//! consumer of stderr falls [`MAX_BUFFERED`] behind, appenders wait for the writer.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard, OnceLock};
use std::time::Duration;

/// How long the writer gathers lines before writing them out.
pub(crate) const FLUSH_INTERVAL: Duration = Duration::from_millis(10);

/// Bytes buffered before an appender waits for the writer.
pub(crate) const MAX_BUFFERED: usize = 4 << 20;

/// Bytes that make the writer flush at once instead of after the interval.
const HIGH_WATER: usize = 256 << 10;

#[derive(Default)]
struct State {
    lines: Vec<u8>,
    /// The writer is asleep and waits for the first line.
    idle: bool,
}

/// The process's log buffer (see the module docs).
pub(crate) struct LogSink {
    state: Mutex<State>,
    /// Signals the writer: lines arrived, or the high-water mark was passed.
    wake: Condvar,
    /// Signals appenders waiting for space.
    drained: Condvar,
    /// Held from taking a batch until it is written (taken while `state` is held,
    /// by the writer thread and [`LogSink::flush`] alike), so batches reach stderr in
    /// the order they were taken.
    output: Mutex<()>,
    /// No writer thread could be started: lines are written as they come.
    synchronous: AtomicBool,
}

static SINK: OnceLock<&'static LogSink> = OnceLock::new();

impl LogSink {
    /// The process-wide sink; its writer thread starts with the first call.
    pub(crate) fn global() -> &'static LogSink {
        SINK.get_or_init(|| {
            let sink: &'static LogSink = Box::leak(Box::new(LogSink::new()));
            let spawned = std::thread::Builder::new()
                .name("authgate-log".into())
                .spawn(move || sink.run());
            if spawned.is_err() {
                sink.synchronous.store(true, Ordering::Relaxed);
                eprintln!("authgate: could not start the log writer thread; logging synchronously");
            }
            sink
        })
    }

    fn new() -> Self {
        Self {
            state: Mutex::new(State::default()),
            wake: Condvar::new(),
            drained: Condvar::new(),
            output: Mutex::new(()),
            synchronous: AtomicBool::new(false),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Appends `line` (one or more whole lines).
    pub(crate) fn append(&self, line: &[u8]) {
        if self.synchronous.load(Ordering::Relaxed) {
            let _order = self.lock_output();
            return write_out(line);
        }
        let mut state = self.lock();
        while !state.lines.is_empty() && state.lines.len() + line.len() > MAX_BUFFERED {
            self.wake.notify_one();
            state = self.drained.wait(state).unwrap_or_else(|e| e.into_inner());
        }
        state.lines.extend_from_slice(line);
        if state.idle || state.lines.len() >= HIGH_WATER {
            state.idle = false;
            self.wake.notify_one();
        }
    }

    /// Writes out everything buffered now (before the process exits).
    pub(crate) fn flush(&self) {
        let (lines, _order) = {
            let mut state = self.lock();
            (std::mem::take(&mut state.lines), self.lock_output())
        };
        self.drained.notify_all();
        write_out(&lines);
    }

    fn lock_output(&self) -> MutexGuard<'_, ()> {
        self.output.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn run(&self) {
        let mut spare = Vec::new();
        loop {
            let _order = {
                let mut state = self.lock();
                while state.lines.is_empty() {
                    state.idle = true;
                    state = self.wake.wait(state).unwrap_or_else(|e| e.into_inner());
                }
                // Gather more lines for a while, unless a burst is already large.
                if state.lines.len() < HIGH_WATER {
                    state = self
                        .wake
                        .wait_timeout(state, FLUSH_INTERVAL)
                        .map_or_else(|e| e.into_inner().0, |(s, _)| s);
                }
                std::mem::swap(&mut state.lines, &mut spare);
                self.lock_output()
            };
            self.drained.notify_all();
            write_out(&spare);
            spare.clear();
            // Keep the capacity of a normal batch, give back that of a burst.
            if spare.capacity() > HIGH_WATER * 4 {
                spare = Vec::new();
            }
        }
    }
}

fn write_out(lines: &[u8]) {
    if lines.is_empty() {
        return;
    }
    let mut err = std::io::stderr().lock();
    // Nowhere left to report a failed write to stderr.
    let _ = err.write_all(lines).and_then(|()| err.flush());
}

/// `io::Write` into the global sink: what the `tracing` formatter writes through.
/// The formatter writes each event with one `write_all`, so lines never interleave.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct SinkWriter;

impl Write for SinkWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        LogSink::global().append(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_kept_in_order_and_flush_empties_the_buffer() {
        let sink = LogSink::new();
        sink.append(b"one\n");
        sink.append(b"two\n");
        assert_eq!(sink.lock().lines, b"one\ntwo\n");
        sink.flush();
        assert!(sink.lock().lines.is_empty());
    }
}
