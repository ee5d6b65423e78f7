//! Running a blocking driver call from async code, the same way for every adapter: on a
//! thread of its own at a background priority, inside the caller's span (RPC or job run),
//! with a guard that cancels the call if the caller stops waiting, and with the thread's
//! end translated.
//!
//! The priority: a warm-up on the embedded database is CPU work (a query over every
//! premise) that ran on tokio's blocking pool at the same priority as the threads that
//! answer ANEEL, so back-to-back warm-ups took a core from the readers (the load benchmark
//! measured it). On its own thread the call runs at nice [`BACKGROUND_NICE`]: readers
//! come first, and the warm-up takes whatever CPU they leave. A thread of its own, not a
//! pool thread, because an unprivileged process cannot raise a thread's priority back, and
//! a pool thread would carry the lowered priority to unrelated work.

use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex};

use tokio::sync::oneshot;
use tracing::Span;

use super::SourceError;
use super::cancel::{Cancel, CancelOnDrop};

/// Where the blocking side registers its canceller (see [`super::cancel::register`]).
pub type CancelSlot<C> = Arc<Mutex<Option<C>>>;

/// The nice value of the threads that run blocking driver calls (0 is the default, 19 the
/// lowest priority). A process already running nicer keeps its own value.
pub const BACKGROUND_NICE: i32 = 10;

/// How a blocking call's thread ended: with the work's result, or with its panic.
type Ended<T> = std::thread::Result<Result<T, SourceError>>;

/// Runs `work` on a thread of its own at background priority and waits for it. `work`
/// registers its canceller in the slot it gets once its call can be cancelled; if this
/// future is dropped before the work ends (a timeout, an abandoned attempt), the call is
/// cancelled. `what` names the work in the error of a thread that could not start or ended
/// without an answer, which is transient; a panic in `work` is raised again here, so the
/// scheduler records a panicked run.
pub async fn run_blocking<C, T, F>(what: &str, work: F) -> Result<T, SourceError>
where
    C: Cancel,
    T: Send + 'static,
    F: FnOnce(&CancelSlot<C>) -> Result<T, SourceError> + Send + 'static,
{
    let span = Span::current();
    let guard = CancelOnDrop::default();
    let slot = guard.slot();
    let (done, ended) = oneshot::channel::<Ended<T>>();
    let spawned = std::thread::Builder::new()
        .name("radar-source".to_owned())
        .spawn(move || {
            lower_priority();
            let _entered = span.enter();
            let _ = done.send(std::panic::catch_unwind(AssertUnwindSafe(|| work(&slot))));
        });
    if let Err(e) = spawned {
        guard.disarm();
        return Err(SourceError::transient(
            None,
            format!("the {what} thread could not start: {e}"),
        ));
    }
    let ended = ended.await;
    guard.disarm();
    settle(what, ended.ok())
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

fn settle<T>(what: &str, ended: Option<Ended<T>>) -> Result<T, SourceError> {
    match ended {
        Some(Ok(result)) => result,
        Some(Err(panic)) => std::panic::resume_unwind(panic),
        None => Err(SourceError::transient(
            None,
            format!("the {what} thread ended without an answer"),
        )),
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
    async fn a_panic_in_the_blocking_call_is_raised_again() {
        let outer = tokio::spawn(async {
            run_blocking(
                "test",
                |_: &CancelSlot<NoCancel>| -> Result<(), SourceError> { panic!("boom 42") },
            )
            .await
        })
        .await;
        let join = outer.expect_err("the panic reaches the caller");
        assert!(join.is_panic());
        let payload = join.into_panic();
        assert_eq!(payload.downcast_ref::<&str>(), Some(&"boom 42"));
    }

    #[test]
    fn a_thread_that_ends_without_an_answer_is_a_transient_error() {
        let err = settle::<()>("Oracle fetch", None).unwrap_err();
        assert!(err.message.contains("without an answer"), "{err}");
        assert!(err.message.contains("Oracle fetch"), "{err}");
        assert!(err.is_transient());
    }

    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn the_call_runs_at_background_priority_and_the_caller_keeps_its_own() {
        use rustix::process::getpriority_process;
        let nice = || getpriority_process(Some(rustix::thread::gettid())).unwrap();
        let caller = nice();
        let (inside, name) = run_blocking("test", move |_: &CancelSlot<NoCancel>| {
            Ok((nice(), std::thread::current().name().map(str::to_owned)))
        })
        .await
        .unwrap();
        assert_eq!(inside, caller.max(BACKGROUND_NICE));
        assert_eq!(name.as_deref(), Some("radar-source"));
        assert_eq!(nice(), caller, "the caller's priority is untouched");
    }
}
