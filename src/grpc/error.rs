//! The one mapping from service errors to gRPC statuses.

use tonic::{Code, Status};

use crate::answer::{AnswerError, in_the_future};
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
    /// Nothing answers what was asked (a past moment with nothing stored).
    #[error("{0}")]
    NotFound(String),
    /// A dependency of this request is down (the snapshot store); the reason is kept.
    #[error("{0}")]
    Unavailable(String),
    /// The scheduler refused or failed.
    #[error(transparent)]
    Scheduler(#[from] SchedulerError),
}

impl ServiceError {
    /// The gRPC code for this error.
    pub fn code(&self) -> Code {
        match self {
            ServiceError::NotReady(_) | ServiceError::Unavailable(_) => Code::Unavailable,
            ServiceError::InvalidArgument { .. } => Code::InvalidArgument,
            ServiceError::NotFound(_) | ServiceError::Scheduler(SchedulerError::UnknownJob(_)) => {
                Code::NotFound
            }
            ServiceError::Scheduler(
                SchedulerError::DuplicateJob(_) | SchedulerError::Engine(_),
            ) => Code::Internal,
        }
    }
}

impl From<AnswerError> for ServiceError {
    fn from(e: AnswerError) -> Self {
        match e {
            AnswerError::NotReady(not_ready) => ServiceError::NotReady(not_ready),
            AnswerError::InvalidDthRecuperacao(reason) => ServiceError::InvalidArgument {
                field: "dthRecuperacao",
                reason,
            },
            AnswerError::FutureDthRecuperacao { asked, now } => ServiceError::InvalidArgument {
                field: "dthRecuperacao",
                reason: in_the_future(&asked, &now),
            },
            AnswerError::NotFound { message, .. } => ServiceError::NotFound(message),
            AnswerError::StoreUnavailable(_) => ServiceError::Unavailable(e.to_string()),
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

        let s = Status::from(ServiceError::from(AnswerError::StoreUnavailable(
            crate::store::StoreError::new(
                "sqlite",
                Some("SQLITE_BUSY".into()),
                "database is locked (file /srv/store.sqlite): check RADAR_STORE_SQLITE_PATH",
            ),
        )));
        assert_eq!(s.code(), Code::Unavailable);
        assert_eq!(
            s.message(),
            "the history is unavailable (snapshot store sqlite, SQLITE_BUSY); the current \
             answer (without dthRecuperacao) is unaffected",
            "the kind and the code, not the file or the setting"
        );
        let s = Status::from(ServiceError::from(AnswerError::NotFound {
            message: "none".into(),
            oldest: None,
        }));
        assert_eq!((s.code(), s.message()), (Code::NotFound, "none"));
    }
}
