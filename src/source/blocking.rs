//! Running a blocking driver call from async code, the same way for every adapter: on
//! tokio's blocking pool ([`run_blocking`]) or, for the warm-up's source query, on a thread
//! of its own at a background priority ([`run_in_background`]); inside the caller's span
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

use super::SourceError;
use super::cancel::{Cancel, CancelOnDrop};

/// Where the blocking side registers its canceller (see [`super::cancel::register`]).
pub type CancelSlot<C> = Arc<Mutex<Option<C>>>;

/// A blocking task that the runtime cancelled (it is shutting down): each adapter's error
/// type says what that means for it (for a source, a transient failure).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CancelledTask(pub String);

impl From<CancelledTask> for SourceError {
    fn from(CancelledTask(message): CancelledTask) -> Self {
        SourceError::transient(None, message)
    }
}

/// Runs `work` on the blocking pool and waits for it. `work` registers its canceller in the
/// slot it gets once its call can be cancelled; if this future is dropped before the work
/// ends (a timeout, an abandoned attempt), the call is cancelled. `what` names the work in
/// the error of a task cancelled by the runtime (shutting down); a panic in `work` is
/// raised again here, so the scheduler records a panicked run.
pub async fn run_blocking<C, T, E, F>(what: &str, work: F) -> Result<T, E>
where
    C: Cancel,
    T: Send + 'static,
    E: From<CancelledTask> + Send + 'static,
    F: FnOnce(&CancelSlot<C>) -> Result<T, E> + Send + 'static,
{
    let span = Span::current();
    let guard = CancelOnDrop::default();
    let slot = guard.slot();
    let joined = tokio::task::spawn_blocking(move || {
        let _entered = span.enter();
        work(&slot)
    })
    .await;
    guard.disarm();
    settle(what, joined)
}

/// The nice value of the threads that run the warm-up's source query (0 is the default, 19
/// the lowest priority). A process already running nicer keeps its own value.
pub const BACKGROUND_NICE: i32 = 10;

/// How a background call's thread ended: with the work's result, or with its panic.
type Ended<T, E> = std::thread::Result<Result<T, E>>;

/// As [`run_blocking`], but on a thread of its own at nice [`BACKGROUND_NICE`]: for work
/// that must not take CPU from the readers (the warm-up's source query). A thread that
/// could not start or ended without an answer is a [`CancelledTask`].
pub async fn run_in_background<C, T, E, F>(what: &str, work: F) -> Result<T, E>
where
    C: Cancel,
    T: Send + 'static,
    E: From<CancelledTask> + Send + 'static,
    F: FnOnce(&CancelSlot<C>) -> Result<T, E> + Send + 'static,
{
    let span = Span::current();
    let guard = CancelOnDrop::default();
    let slot = guard.slot();
    let (done, ended) = oneshot::channel::<Ended<T, E>>();
    let spawned = std::thread::Builder::new()
        .name("radar-source".to_owned())
        .spawn(move || {
            lower_priority();
            let _entered = span.enter();
            let _ = done.send(std::panic::catch_unwind(AssertUnwindSafe(|| work(&slot))));
        });
    if let Err(e) = spawned {
        guard.disarm();
        return Err(CancelledTask(format!("the {what} thread could not start: {e}")).into());
    }
    let ended = ended.await;
    guard.disarm();
    match ended {
        Ok(Ok(result)) => result,
        Ok(Err(panic)) => std::panic::resume_unwind(panic),
        Err(_) => Err(CancelledTask(format!("the {what} thread ended without an answer")).into()),
    }
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

fn settle<T, E: From<CancelledTask>>(
    what: &str,
    joined: Result<Result<T, E>, JoinError>,
) -> Result<T, E> {
    match joined {
        Ok(result) => result,
        Err(join) if join.is_panic() => std::panic::resume_unwind(join.into_panic()),
        Err(join) => Err(CancelledTask(format!("the {what} task was cancelled: {join}")).into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct NoCancel;

    impl Cancel for NoCancel {
        fn cancel(&self) {}
    }

    #[tokio::test]
    async fn a_panic_in_the_background_call_is_raised_again() {
        let outer = tokio::spawn(async {
            run_in_background(
                "test",
                |_: &CancelSlot<NoCancel>| -> Result<(), SourceError> { panic!("boom 43") },
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
        let (inside, name) = run_in_background("test", move |_: &CancelSlot<NoCancel>| {
            Ok::<_, SourceError>((nice(), std::thread::current().name().map(str::to_owned)))
        })
        .await
        .unwrap();
        assert_eq!(inside, caller.max(BACKGROUND_NICE));
        assert_eq!(name.as_deref(), Some("radar-source"));
        assert_eq!(nice(), caller, "the caller's priority is untouched");
        // The pool keeps the normal priority (the store's reads answer RPCs).
        let pooled = run_blocking("test", move |_: &CancelSlot<NoCancel>| {
            Ok::<_, SourceError>(nice())
        })
        .await
        .unwrap();
        assert_eq!(pooled, caller);
    }

    #[tokio::test]
    async fn a_panic_in_the_blocking_task_is_raised_again() {
        let outer = tokio::spawn(async {
            let joined =
                tokio::task::spawn_blocking(|| -> Result<(), SourceError> { panic!("boom 42") })
                    .await;
            settle("test", joined)
        })
        .await;
        let join = outer.expect_err("the panic reaches the caller");
        assert!(join.is_panic());
        let payload = join.into_panic();
        assert_eq!(payload.downcast_ref::<&str>(), Some(&"boom 42"));
    }

    #[tokio::test]
    async fn a_cancelled_blocking_task_is_a_transient_error() {
        let task = tokio::spawn(std::future::pending::<Result<(), SourceError>>());
        task.abort();
        let err = settle("Oracle fetch", task.await).unwrap_err();
        assert!(err.message.contains("cancelled"), "{err}");
        assert!(err.message.contains("Oracle fetch"), "{err}");
        assert!(err.is_transient());
    }
}
