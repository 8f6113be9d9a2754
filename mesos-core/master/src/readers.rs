//! Reader threads: where state views are built and written, off the
//! master's event loop and below its priority.
//!
//! A `/state` of 100,000 tasks keeps a thread busy for 150-300 ms. On a
//! machine with few cores that thread competes with the event loop for
//! a core, and a turn of the loop that waits behind it is a turn late
//! (the goal is never more than 10 ms). Each view is therefore built on
//! a thread of its own whose nice value is [`READER_NICENESS`] above the
//! master's: the scheduler then lets the loop's thread run first when
//! both want a core, and the reader still gets every core nothing else
//! wants. Helper threads a reader starts inherit its nice value.
//!
//! A thread per view, not a pool: a thread's nice value can only be
//! lowered back with privileges, so a pooled thread that served a
//! reader would stay slow for whatever the pool gave it next. Starting
//! a thread costs tens of microseconds, nothing beside a view. At most
//! [`READERS`] run at once; more wait for a free one.

use tokio::sync::{Semaphore, oneshot};

/// How far below the master's other threads a reader runs: a nice value
/// this much higher. At 5 the CPU scheduler weighs a reader at about a
/// third of the event loop.
pub(crate) const READER_NICENESS: i32 = 5;

/// Readers at once, at most.
pub(crate) const READERS: usize = 32;

static SLOTS: Semaphore = Semaphore::const_new(READERS);

/// Why a view could not be built.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ReaderError {
    /// The operating system would not start a thread.
    #[error("cannot start a reader thread: {0}")]
    Spawn(#[from] std::io::Error),
    /// The view's code panicked.
    #[error("building the view failed")]
    Panicked,
}

/// Starts `read` on a reader thread (once one of the [`READERS`] is
/// free) and returns where its result will arrive.
pub(crate) async fn spawn<R: Send + 'static>(
    read: impl FnOnce() -> R + Send + 'static,
) -> Result<oneshot::Receiver<R>, ReaderError> {
    // The semaphore is never closed.
    let slot = SLOTS.acquire().await.map_err(|_| ReaderError::Panicked)?;
    let (tx, rx) = oneshot::channel();
    std::thread::Builder::new()
        .name("mesos-reader".into())
        .spawn(move || {
            let _slot = slot;
            lower_priority();
            let _ = tx.send(read());
        })?;
    Ok(rx)
}

/// Runs `read` on a reader thread and waits for its result.
pub(crate) async fn run<R: Send + 'static>(
    read: impl FnOnce() -> R + Send + 'static,
) -> Result<R, ReaderError> {
    spawn(read).await?.await.map_err(|_| ReaderError::Panicked)
}

/// Raises this thread's nice value by [`READER_NICENESS`]. On Linux the
/// nice value belongs to the thread (`setpriority(2)`, BUGS), so only
/// this reader slows; elsewhere it would be the whole process', so it is
/// left alone.
fn lower_priority() {
    #[cfg(target_os = "linux")]
    {
        use rustix::process::{getpriority_process, setpriority_process};
        let now = getpriority_process(None).unwrap_or(0);
        if let Err(e) = setpriority_process(None, (now + READER_NICENESS).min(19)) {
            tracing::debug!(error = %e, "a reader thread keeps the master's priority");
        }
    }
}

/// This thread's nice value (for tests).
#[cfg(all(test, target_os = "linux"))]
fn niceness() -> i32 {
    rustix::process::getpriority_process(None).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_reader_runs_its_view_and_answers() {
        assert_eq!(run(|| 6 * 7).await.unwrap(), 42);
    }

    #[tokio::test]
    async fn a_panicking_view_is_an_error_and_frees_its_slot() {
        for _ in 0..READERS + 1 {
            let failed = run(|| -> u8 { panic!("view broke") }).await;
            assert!(matches!(failed, Err(ReaderError::Panicked)), "{failed:?}");
        }
        assert_eq!(run(|| 1).await.unwrap(), 1);
    }

    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn a_reader_runs_below_the_callers_priority_and_its_helpers_too() {
        let mine = niceness();
        let (reader, helper) = run(|| {
            let helper = std::thread::scope(|s| s.spawn(niceness).join().unwrap());
            (niceness(), helper)
        })
        .await
        .unwrap();
        assert_eq!(reader, (mine + READER_NICENESS).min(19));
        assert_eq!(helper, reader);
        // The caller's thread is left as it was.
        assert_eq!(niceness(), mine);
    }
}
