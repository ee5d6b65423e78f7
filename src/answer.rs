//! The data answer, produced once for every adapter: the gRPC handler and the ANEEL HTTP
//! endpoint both call [`AnswerService::answer`] and only convert its result. The rule that
//! data older than the hard limit is ANEEL's error answer, never old numbers reported as
//! current, lives here too ([`Answer::idc_status_requisicao`]).

use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::cache::{NotReady, SnapshotCache, SnapshotView};
use crate::domain::{InterrupcaoAtiva, dth_recuperacao};

/// ANEEL's `idcStatusRequisicao` for success.
pub const STATUS_SUCESSO: i32 = 1;
/// ANEEL's `idcStatusRequisicao` for an error.
pub const STATUS_ERRO: i32 = 2;
/// Missing pairs listed in an answer at most (the count is always complete).
pub const MAX_MISSING_PAIRS: usize = 20;

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

impl Answer {
    /// 1 (success), or 2 (error) when the snapshot is older than the hard limit.
    pub fn idc_status_requisicao(&self) -> i32 {
        if self.view.expired {
            STATUS_ERRO
        } else {
            STATUS_SUCESSO
        }
    }

    /// Empty on success; since when data is unavailable when it is too old.
    pub fn mensagem(&self) -> String {
        if self.view.expired {
            unavailable_since(self.view.snapshot.collected_at)
        } else {
            String::new()
        }
    }

    /// ANEEL's items: none in an error answer.
    pub fn items(&self) -> &[InterrupcaoAtiva] {
        if self.view.expired {
            &[]
        } else {
            &self.view.snapshot.items
        }
    }

    /// The (conjunto, município) pairs left out by validation, with the reason (at most
    /// [`MAX_MISSING_PAIRS`]).
    pub fn missing_pairs(&self) -> Vec<String> {
        self.view
            .snapshot
            .rejected
            .iter()
            .take(MAX_MISSING_PAIRS)
            .map(ToString::to_string)
            .collect()
    }
}

/// ANEEL's `mensagem` when the data is too old: since when, in Brasília time.
fn unavailable_since(collected_at: DateTime<Utc>) -> String {
    let local = collected_at.with_timezone(&chrono_tz::America::Sao_Paulo);
    format!(
        "Dados indisponíveis desde {} (horário de Brasília): a última coleta de \
         interrupções é antiga demais para ser informada como atual.",
        local.format(dth_recuperacao::FORMAT)
    )
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::Snapshot;
    use chrono::TimeZone;
    use std::time::Duration;

    #[tokio::test]
    async fn beyond_the_hard_limit_the_answer_is_an_error_saying_since_when() {
        let cache = Arc::new(
            SnapshotCache::new(Duration::from_secs(60)).with_hard_limit(Duration::from_secs(120)),
        );
        let collected_at = Utc.with_ymd_and_hms(2026, 11, 29, 12, 0, 0).unwrap();
        cache
            .replace(Snapshot {
                collected_at,
                source: "test",
                items: vec![InterrupcaoAtiva {
                    ide_conjunto: 1,
                    ide_municipio: 1_400_100,
                    qtd_ucs_atendidas: 10,
                    qtd_ocorrencia_programada: 1,
                    qtd_ocorrencia_nao_programada: 0,
                }],
                rejected: Vec::new(),
            })
            .await;
        let answer = AnswerService::new(cache, "a@b.c".into())
            .answer(&AnswerRequest::default())
            .await
            .unwrap();
        assert_eq!(answer.idc_status_requisicao(), STATUS_ERRO);
        assert!(answer.items().is_empty());
        assert_eq!(answer.view.snapshot.items.len(), 1, "the snapshot is kept");
        // 12:00 UTC is 09:00 in Brasília.
        assert!(
            answer
                .mensagem()
                .starts_with("Dados indisponíveis desde 29/11/2026 09:00"),
            "{}",
            answer.mensagem()
        );
    }
}
