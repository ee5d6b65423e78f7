//! The data answer, produced once for every adapter: the gRPC handler and the ANEEL HTTP
//! endpoint both call [`AnswerService::answer`] and only convert its result.

use std::sync::Arc;

use crate::cache::{NotReady, SnapshotCache, SnapshotView};
use crate::domain::dth_recuperacao;

/// ANEEL's `idcStatusRequisicao` for success.
pub const STATUS_SUCESSO: i32 = 1;
/// ANEEL's `idcStatusRequisicao` for an error.
pub const STATUS_ERRO: i32 = 2;

/// What a caller asks: the answer now, or (later) as it stood at `dthRecuperacao`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AnswerRequest {
    /// ANEEL's `dthRecuperacao` as received (`dd/mm/yyyy hh:mm`); empty asks for now.
    pub dth_recuperacao: String,
}

/// The answer: a snapshot as it looks now, and the contact every answer carries.
#[derive(Debug, Clone)]
pub struct Answer {
    /// The snapshot with its age and staleness.
    pub view: SnapshotView,
    /// `emailIndisponibilidade`.
    pub email_indisponibilidade: String,
}

/// Why there is no answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AnswerError {
    /// No snapshot has loaded yet.
    #[error(transparent)]
    NotReady(#[from] NotReady),
    /// `dthRecuperacao` is not `dd/mm/yyyy hh:mm` in Brasília time.
    #[error("invalid dthRecuperacao: {0}")]
    InvalidDthRecuperacao(String),
    /// `dthRecuperacao` is valid, but answers from the past are not kept yet.
    #[error("dthRecuperacao is not supported yet: omit it to get the current answer")]
    HistoryUnavailable,
}

/// Answers ANEEL's question from the snapshot cache; never touches the source.
#[derive(Clone)]
pub struct AnswerService {
    cache: Arc<SnapshotCache>,
    email_indisponibilidade: String,
}

impl AnswerService {
    /// Answers from `cache`, with `email_indisponibilidade` in every answer.
    pub fn new(cache: Arc<SnapshotCache>, email_indisponibilidade: String) -> Self {
        Self {
            cache,
            email_indisponibilidade,
        }
    }

    /// The contact of every answer, errors included.
    pub fn email_indisponibilidade(&self) -> &str {
        &self.email_indisponibilidade
    }

    /// The answer to `request`, or why there is none.
    pub async fn answer(&self, request: &AnswerRequest) -> Result<Answer, AnswerError> {
        if !request.dth_recuperacao.is_empty() {
            dth_recuperacao::parse(&request.dth_recuperacao)
                .map_err(AnswerError::InvalidDthRecuperacao)?;
            return Err(AnswerError::HistoryUnavailable);
        }
        let view = self.cache.current().await?;
        Ok(Answer {
            view,
            email_indisponibilidade: self.email_indisponibilidade.clone(),
        })
    }
}
