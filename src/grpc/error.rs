//! The one mapping from service errors to gRPC statuses.

use tonic::{Code, Status};

use crate::answer::AnswerError;
use crate::cache::NotReady;
use crate::scheduler::SchedulerError;

/// Everything a handler can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// No snapshot has loaded yet.
    #[error(transparent)]
    NotReady(#[from] NotReady),
    /// A request field is invalid.
    #[error("invalid {field}: {reason}")]
    InvalidArgument {
        /// The field's JSON name.
        field: &'static str,
        /// What is wrong and what is expected.
        reason: String,
    },
    /// The answer could not be produced.
    #[error(transparent)]
    Answer(#[from] AnswerError),
    /// The scheduler refused or failed.
    #[error(transparent)]
    Scheduler(#[from] SchedulerError),
}

impl ServiceError {
    /// The gRPC code for this error.
    pub fn code(&self) -> Code {
        match self {
            ServiceError::NotReady(_)
            | ServiceError::Answer(AnswerError::NotReady(_) | AnswerError::StoreUnavailable(_)) => {
                Code::Unavailable
            }
            ServiceError::InvalidArgument { .. }
            | ServiceError::Answer(AnswerError::InvalidArgument { .. }) => Code::InvalidArgument,
            ServiceError::Answer(AnswerError::NotFound(_))
            | ServiceError::Scheduler(SchedulerError::UnknownJob(_)) => Code::NotFound,
            ServiceError::Scheduler(
                SchedulerError::DuplicateJob(_) | SchedulerError::Engine(_),
            ) => Code::Internal,
        }
    }
}

impl From<ServiceError> for Status {
    fn from(e: ServiceError) -> Self {
        Status::new(e.code(), e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_error_has_its_code_and_a_message_that_names_the_problem() {
        let s = Status::from(ServiceError::NotReady(NotReady::FirstLoadInProgress));
        assert_eq!(s.code(), Code::Unavailable);
        assert!(s.message().contains("first load is in progress"));

        let s = Status::from(ServiceError::InvalidArgument {
            field: "dthRecuperacao",
            reason: "expected dd/mm/yyyy hh:mm".into(),
        });
        assert_eq!(s.code(), Code::InvalidArgument);
        assert_eq!(
            s.message(),
            "invalid dthRecuperacao: expected dd/mm/yyyy hh:mm"
        );

        let s = Status::from(ServiceError::Scheduler(SchedulerError::UnknownJob(
            "x".into(),
        )));
        assert_eq!(s.code(), Code::NotFound);
        assert_eq!(s.message(), "no job named \"x\"");

        let s = Status::from(ServiceError::Answer(AnswerError::StoreUnavailable(
            crate::store::StoreError::new("sqlite", Some("SQLITE_BUSY".into()), "locked"),
        )));
        assert_eq!(s.code(), Code::Unavailable);
        assert!(
            s.message().contains("SQLITE_BUSY: locked"),
            "{}",
            s.message()
        );
        let s = Status::from(ServiceError::Answer(AnswerError::NotFound("none".into())));
        assert_eq!((s.code(), s.message()), (Code::NotFound, "none"));
    }
}
