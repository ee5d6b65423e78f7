//! Running a blocking driver call from async code, the same way for every adapter: on
//! tokio's blocking pool, inside the caller's span (RPC or job run), with a guard that
//! cancels the call if the caller stops waiting, and with the task's end translated.

use std::sync::{Arc, Mutex};

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
