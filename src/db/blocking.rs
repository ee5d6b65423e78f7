//! Running a blocking driver call from async code, the same way for every adapter
//! ([`run_blocking`]): on tokio's blocking pool ([`Lane::Pool`]) or, for the warm-up's source
//! query, on a thread of its own at a background priority ([`Lane::Background`]); inside the caller's span
//! (RPC or job run), with a guard that cancels the call if the caller stops waiting, and
//! with the task's end translated.
//!
//! The background priority: a warm-up on the embedded database is CPU work (a query over
//! every premise) that ran at the same priority as the threads that answer ANEEL, so
//! back-to-back warm-ups took a core from the readers (the load benchmark measured it). At
//! nice [`BACKGROUND_NICE`] readers come first and the warm-up takes the CPU they leave. A
//! thread of its own, not a pool thread, because an unprivileged process cannot raise a
//! thread's priority back, and a pool thread would carry the lowered priority to unrelated
//! work (the snapshot store's reads answer RPCs).

use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex};

use tokio::sync::oneshot;
use tokio::task::JoinError;
use tracing::Span;

use super::cancel::{Cancel, CancelOnDrop};

/// Where the blocking side registers its canceller (see [`super::cancel::register`]).
pub type CancelSlot<C> = Arc<Mutex<Option<C>>>;

/// A blocking task that the runtime cancelled (it is shutting down): each port's error
/// type says what that means for it (for a source, a transient failure).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CancelledTask(pub String);

/// Where a blocking call runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lane {
    /// Tokio's blocking pool, at the normal priority (the store, the check command).
    Pool,
    /// A thread of its own at nice [`BACKGROUND_NICE`]: for work that must not take CPU
    /// from the readers (the warm-up's source query).
    Background,
}

/// Runs `work` in `lane` and waits for it. `work` registers its canceller in the slot it
/// gets once its call can be cancelled; if this future is dropped before the work ends (a
/// timeout, an abandoned attempt), the call is cancelled. A task cancelled by the runtime
/// (shutting down), or a thread that could not start or ended without an answer, is a
/// [`CancelledTask`] naming the work by `what`; a panic in `work` is raised again here, so
/// the scheduler records a panicked run.
pub async fn run_blocking<C, T, E, F>(what: &str, lane: Lane, work: F) -> Result<T, E>
where
    C: Cancel,
    T: Send + 'static,
    E: From<CancelledTask> + Send + 'static,
    F: FnOnce(&CancelSlot<C>) -> Result<T, E> + Send + 'static,
{
    let span = Span::current();
    let guard = CancelOnDrop::default();
    let slot = guard.slot();
    let work = move || {
        let _entered = span.enter();
        work(&slot)
    };
    let ended = match lane {
        Lane::Pool => from_pool(what, tokio::task::spawn_blocking(work).await),
        Lane::Background => on_own_thread(what, work).await,
    };
    // Disarmed before a panic is raised again: the work has ended, there is nothing to cancel.
    guard.disarm();
    settle(ended)
}

/// The nice value of the threads that run the warm-up's source query (0 is the default, 19
/// the lowest priority). A process already running nicer keeps its own value.
///
/// The lowest: under CFS a nice-19 thread weighs 15 against 1024 for a reader (nice 10
/// weighs 110), so with both cores busy answering, the warm-up gets about 1.5 % of the CPU
/// instead of about 10 %, and on an idle machine all of it. The load benchmark measured the
/// readers' p99 during back-to-back warm-ups at 1.21 to 1.53 times idle with nice 10. A
/// warm-up starved by a flood of calls takes longer, not forever (a Roraima warm-up is
/// about 70 ms of CPU), and the job's timeout keeps the last good snapshot if it is ever
/// exceeded.
pub const BACKGROUND_NICE: i32 = 19;

/// How a blocking call ended: with the work's result or its panic, or without an answer
/// (why, for the [`CancelledTask`]).
type Ended<R> = Result<std::thread::Result<R>, String>;

/// How a task of the blocking pool ended.
fn from_pool<R>(what: &str, joined: Result<R, JoinError>) -> Ended<R> {
    match joined {
        Ok(result) => Ok(Ok(result)),
        Err(join) if join.is_panic() => Ok(Err(join.into_panic())),
        Err(join) => Err(format!("the {what} task was cancelled: {join}")),
    }
}

/// Runs `work` on a thread of its own at nice [`BACKGROUND_NICE`] and waits for it.
async fn on_own_thread<R: Send + 'static>(
    what: &str,
    work: impl FnOnce() -> R + Send + 'static,
) -> Ended<R> {
    let (done, ended) = oneshot::channel();
    std::thread::Builder::new()
        .name("radar-source".to_owned())
        .spawn(move || {
            lower_priority();
            let _ = done.send(std::panic::catch_unwind(AssertUnwindSafe(work)));
        })
        .map_err(|e| format!("the {what} thread could not start: {e}"))?;
    ended
        .await
        .map_err(|_| format!("the {what} thread ended without an answer"))
}

/// Lowers the calling thread's priority to [`BACKGROUND_NICE`], unless it is already lower.
/// Where that is not possible the call runs at the normal priority.
fn lower_priority() {
    #[cfg(target_os = "linux")]
    {
        use rustix::process::{getpriority_process, setpriority_process};
        let thread = Some(rustix::thread::gettid());
        let current = getpriority_process(thread).unwrap_or(0);
        if current < BACKGROUND_NICE
            && let Err(e) = setpriority_process(thread, BACKGROUND_NICE)
        {
            tracing::debug!(error = %e, "cannot lower the driver thread's priority");
        }
    }
}

/// The work's result, its panic raised again, or the [`CancelledTask`] of a call that ended
/// without an answer.
fn settle<T, E: From<CancelledTask>>(ended: Ended<Result<T, E>>) -> Result<T, E> {
    match ended {
        Ok(Ok(result)) => result,
        Ok(Err(panic)) => std::panic::resume_unwind(panic),
        Err(reason) => Err(CancelledTask(reason).into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct NoCancel;

    /// A port's error type, as far as this module sees one.
    #[derive(Debug)]
    struct PortError(String);

    impl From<CancelledTask> for PortError {
        fn from(CancelledTask(message): CancelledTask) -> Self {
            Self(message)
        }
    }

    impl Cancel for NoCancel {
        fn cancel(&self) {}
    }

    #[tokio::test]
    async fn a_panic_in_the_background_call_is_raised_again() {
        let outer = tokio::spawn(async {
            run_blocking(
                "test",
                Lane::Background,
                |_: &CancelSlot<NoCancel>| -> Result<(), PortError> { panic!("boom 43") },
            )
            .await
        })
        .await;
        let join = outer.expect_err("the panic reaches the caller");
        assert_eq!(join.into_panic().downcast_ref::<&str>(), Some(&"boom 43"));
    }

    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn the_background_call_runs_at_background_priority_and_the_caller_keeps_its_own() {
        use rustix::process::getpriority_process;
        let nice = || getpriority_process(Some(rustix::thread::gettid())).unwrap();
        let caller = nice();
        let (inside, name) =
            run_blocking("test", Lane::Background, move |_: &CancelSlot<NoCancel>| {
                Ok::<_, PortError>((nice(), std::thread::current().name().map(str::to_owned)))
            })
            .await
            .unwrap();
        assert_eq!(inside, caller.max(BACKGROUND_NICE));
        assert_eq!(name.as_deref(), Some("radar-source"));
        assert_eq!(nice(), caller, "the caller's priority is untouched");
        // The pool keeps the normal priority (the store's reads answer RPCs).
        let pooled = run_blocking("test", Lane::Pool, move |_: &CancelSlot<NoCancel>| {
            Ok::<_, PortError>(nice())
        })
        .await
        .unwrap();
        assert_eq!(pooled, caller);
    }

    #[tokio::test]
    async fn a_panic_in_the_blocking_task_is_raised_again() {
        let outer = tokio::spawn(async {
            let joined =
                tokio::task::spawn_blocking(|| -> Result<(), PortError> { panic!("boom 42") })
                    .await;
            settle(from_pool("test", joined))
        })
        .await;
        let join = outer.expect_err("the panic reaches the caller");
        assert!(join.is_panic());
        let payload = join.into_panic();
        assert_eq!(payload.downcast_ref::<&str>(), Some(&"boom 42"));
    }

    #[tokio::test]
    async fn a_cancelled_blocking_task_is_the_ports_error_naming_the_work() {
        let task = tokio::spawn(std::future::pending::<Result<(), PortError>>());
        task.abort();
        let PortError(message) = settle(from_pool("Oracle fetch", task.await)).unwrap_err();
        assert!(message.contains("cancelled"), "{message}");
        assert!(message.contains("Oracle fetch"), "{message}");
    }
}
