//! The master's event loop on a thread of its own.
//!
//! Run as a task of the caller's multi-threaded runtime, the loop shares
//! its worker threads with every HTTP connection: woken by a command, it
//! waits in a worker's queue behind whatever requests that worker took
//! first, and a turn starts late. On a thread of its own (with a
//! single-threaded runtime for its timers) it is woken by the kernel
//! directly, and the CPU scheduler, which favours a thread that mostly
//! sleeps, runs it as soon as a core is free.
//!
//! The loop's future still talks to the rest of the master only through
//! channels, which work across runtimes, and it is still stopped through
//! the [`JoinHandle`] this returns (abort it, await it), as a spawned
//! task would be.

use std::future::Future;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// The name the loop's thread has (seen in `top -H` and `perf`).
pub const THREAD_NAME: &str = "mesos-master";

/// Starts `event_loop` on a new thread with a runtime of its own, which
/// lasts until the loop ends or the returned handle aborts it.
pub(crate) fn spawn<F>(event_loop: F) -> std::io::Result<JoinHandle<()>>
where
    F: Future<Output = ()> + Send + 'static,
{
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .thread_name(THREAD_NAME)
        .build()?;
    // Dropped with the loop's future, whether it ended or was aborted:
    // that ends the thread.
    let (done, finished) = oneshot::channel::<()>();
    let task = runtime.spawn(async move {
        let _done = done;
        event_loop.await;
    });
    std::thread::Builder::new()
        .name(THREAD_NAME.into())
        .spawn(move || {
            runtime.block_on(async {
                let _ = finished.await;
            });
        })?;
    Ok(task)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn a_loop_runs_on_its_own_thread_with_timers_and_ends_with_its_future() {
        let (tx, rx) = oneshot::channel();
        let handle = spawn(async move {
            tokio::time::sleep(Duration::from_millis(5)).await;
            let _ = tx.send(std::thread::current().name().map(str::to_owned));
        })
        .expect("a thread starts");
        assert_eq!(rx.await.expect("the loop ran"), Some(THREAD_NAME.into()));
        handle.await.expect("the loop ended by itself");
    }

    #[tokio::test]
    async fn an_aborted_loop_is_dropped_and_its_thread_ends() {
        // The loop holds a sender; once it is dropped, the receiver
        // knows the future was dropped.
        let (held, mut dropped) = oneshot::channel::<()>();
        let handle = spawn(async move {
            let _held = held;
            std::future::pending::<()>().await;
        })
        .expect("a thread starts");
        handle.abort();
        let joined = handle.await;
        assert!(joined.is_err_and(|e| e.is_cancelled()));
        assert!(matches!(
            dropped.try_recv(),
            Err(oneshot::error::TryRecvError::Closed)
        ));
    }
}
