//! Why a run failed, as typed values from the job to `ListJobs`, the metrics and what data
//! clients see: an attempt's [`JobError`] (its kind and native codes), or the scheduler's own
//! verdicts (timed out, panicked). The text of a failure is written once, by `Display`, and
//! never read back: whoever needs its meaning matches on these types.

use std::fmt;
use std::time::Duration;

use super::status::RunOutcome;

/// What kind of failure an attempt met: it decides the retry and what clients are told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// A system the job depends on failed in a way another attempt may cure (no listener,
    /// lost connection, busy file): the scheduler retries it within the same run.
    Transient,
    /// A system the job depends on failed in a way that needs an operator (credentials,
    /// missing table, missing client library): not retried.
    Permanent,
    /// What the job read was unusable as a whole (for the warm-up: every source row failed
    /// validation): not retried, since the same input would come back.
    InvalidInput,
}

impl FailureKind {
    /// Lower-case name used in logs, in the API and as a failed run's span `error.type`.
    pub fn as_str(self) -> &'static str {
        match self {
            FailureKind::Transient => "transient",
            FailureKind::Permanent => "permanent",
            FailureKind::InvalidInput => "invalid_input",
        }
    }
}

/// Why an attempt failed: the kind, the native codes of the systems involved, and the
/// detail for operators.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct JobError {
    /// What kind of failure: whether it is retried, and how clients are told.
    pub kind: FailureKind,
    /// Native error codes (`ORA-12541`, `DPI-1080`, `SQLITE_BUSY`), distinct, in the order
    /// the failing system reported them; empty when it gave none.
    pub codes: Vec<String>,
    /// What went wrong, for operators (`ListJobs`, logs). Never contains secrets.
    pub message: String,
}

impl JobError {
    /// A failure worth retrying.
    pub fn transient(message: impl Into<String>) -> Self {
        Self::new(FailureKind::Transient, message)
    }

    /// A failure that another attempt will not cure.
    pub fn permanent(message: impl Into<String>) -> Self {
        Self::new(FailureKind::Permanent, message)
    }

    /// Input that is unusable as a whole.
    pub fn invalid_input(message: impl Into<String>) -> Self {
        Self::new(FailureKind::InvalidInput, message)
    }

    fn new(kind: FailureKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            codes: Vec::new(),
            message: message.into(),
        }
    }

    /// The same failure with the native `codes` it carries (duplicates dropped).
    #[must_use]
    pub fn with_codes(mut self, codes: impl IntoIterator<Item = String>) -> Self {
        for code in codes {
            if !self.codes.contains(&code) {
                self.codes.push(code);
            }
        }
        self
    }

    /// Whether the scheduler retries it within the same run.
    pub fn is_transient(&self) -> bool {
        self.kind == FailureKind::Transient
    }
}

/// How a whole run failed: its last attempt's error, or the scheduler's verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunFailure {
    /// The last attempt returned an error.
    Failed(JobError),
    /// The last attempt exceeded the attempt timeout (retried like a transient failure).
    TimedOut {
        /// The attempt that timed out, from 1.
        attempt: u32,
        /// The attempt timeout it exceeded.
        limit: Duration,
    },
    /// The job panicked; the scheduler caught it. Not retried.
    Panicked {
        /// The panic's message.
        message: String,
        /// Whether it happened in an attempt (`false`: around them, e.g. in
        /// [`Job::on_run_failed`](super::Job::on_run_failed)).
        in_attempt: bool,
    },
}

impl RunFailure {
    /// Whether another run may succeed soon (a transient error or a timeout).
    pub fn is_transient(&self) -> bool {
        match self {
            RunFailure::Failed(error) => error.is_transient(),
            RunFailure::TimedOut { .. } => true,
            RunFailure::Panicked { .. } => false,
        }
    }

    /// The failure's class, the `error.type` of the run's span: the kind of the last
    /// attempt's error, or the scheduler's verdict (`timed_out`, `panicked`).
    pub fn error_type(&self) -> &'static str {
        match self {
            RunFailure::Failed(error) => error.kind.as_str(),
            RunFailure::TimedOut { .. } => "timed_out",
            RunFailure::Panicked { .. } => "panicked",
        }
    }

    /// The run outcome this failure gives.
    pub fn outcome(&self) -> RunOutcome {
        match self {
            RunFailure::Failed(_) => RunOutcome::Failed,
            RunFailure::TimedOut { .. } => RunOutcome::TimedOut,
            RunFailure::Panicked { .. } => RunOutcome::Panicked,
        }
    }
}

impl fmt::Display for RunFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RunFailure::Failed(error) => f.write_str(&error.message),
            RunFailure::TimedOut { attempt, limit } => write!(
                f,
                "attempt {attempt} timed out after {} ms",
                limit.as_millis()
            ),
            RunFailure::Panicked {
                message,
                in_attempt: true,
            } => write!(f, "job panicked: {message}"),
            RunFailure::Panicked {
                in_attempt: false, ..
            } => f.write_str("the job panicked outside its attempts"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_decide_the_retry_and_the_outcome() {
        let transient = JobError::transient("no listener").with_codes(["ORA-12541".to_owned()]);
        assert!(RunFailure::Failed(transient.clone()).is_transient());
        assert!(!RunFailure::Failed(JobError::permanent("login")).is_transient());
        assert!(!RunFailure::Failed(JobError::invalid_input("all rows")).is_transient());
        assert_eq!(
            RunFailure::Failed(transient.clone()).error_type(),
            "transient"
        );
        assert_eq!(
            RunFailure::Failed(JobError::invalid_input("all rows")).error_type(),
            "invalid_input"
        );
        let timed_out = RunFailure::TimedOut {
            attempt: 2,
            limit: Duration::from_secs(60),
        };
        assert!(timed_out.is_transient());
        assert_eq!(timed_out.outcome(), RunOutcome::TimedOut);
        assert_eq!(timed_out.error_type(), "timed_out");
        assert_eq!(timed_out.to_string(), "attempt 2 timed out after 60000 ms");
        let panicked = RunFailure::Panicked {
            message: "boom".into(),
            in_attempt: true,
        };
        assert!(!panicked.is_transient());
        assert_eq!(panicked.outcome(), RunOutcome::Panicked);
        assert_eq!(
            RunFailure::Failed(transient).to_string(),
            "no listener",
            "the message as the job wrote it; the codes are a field"
        );
    }

    #[test]
    fn codes_are_kept_once_in_order() {
        let e = JobError::permanent("x").with_codes(
            ["ORA-04052", "ORA-12541", "ORA-04052"]
                .into_iter()
                .map(String::from),
        );
        assert_eq!(e.codes, vec!["ORA-04052", "ORA-12541"]);
    }
}
