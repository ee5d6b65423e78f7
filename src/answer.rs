//! The answer to ANEEL's question, produced here once for every adapter (the gRPC service
//! today, an HTTP endpoint later): the request checked, the snapshot read, and the rule
//! that data older than the hard limit is ANEEL's error answer, never old numbers
//! reported as current. Adapters only convert it.

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

/// Why there is no answer.
#[derive(Debug, thiserror::Error)]
pub enum AnswerError {
    /// `dthRecuperacao` is not `dd/mm/yyyy hh:mm`.
    #[error("invalid dthRecuperacao: {0}")]
    InvalidDthRecuperacao(String),
    /// `dthRecuperacao` is valid, but this version answers only the present.
    #[error("dthRecuperacao is not supported yet: omit it to get the current answer")]
    DthRecuperacaoUnsupported,
    /// No snapshot has loaded yet.
    #[error(transparent)]
    NotReady(#[from] NotReady),
}

/// One answer: ANEEL's fields and the snapshot it came from.
#[derive(Debug, Clone)]
pub struct Answer {
    /// 1 success, 2 error.
    pub idc_status_requisicao: i32,
    /// The distributor's contact.
    pub email_indisponibilidade: String,
    /// Empty on success; since when data is unavailable on error.
    pub mensagem: String,
    /// The snapshot, its age and staleness.
    pub view: SnapshotView,
}

impl Answer {
    /// ANEEL's items: none in an error answer.
    pub fn items(&self) -> &[InterrupcaoAtiva] {
        if self.idc_status_requisicao == STATUS_SUCESSO {
            &self.view.snapshot.items
        } else {
            &[]
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

/// Answers from the cache only.
pub struct Answerer {
    cache: Arc<SnapshotCache>,
    email_indisponibilidade: String,
}

impl Answerer {
    /// Answers from `cache`, with `email_indisponibilidade` in every answer.
    pub fn new(cache: Arc<SnapshotCache>, email_indisponibilidade: String) -> Self {
        Self {
            cache,
            email_indisponibilidade,
        }
    }

    /// The answer for `dth_recuperacao` (empty: now).
    pub async fn answer(&self, dth_recuperacao: &str) -> Result<Answer, AnswerError> {
        if !dth_recuperacao.is_empty() {
            dth_recuperacao::parse(dth_recuperacao).map_err(AnswerError::InvalidDthRecuperacao)?;
            return Err(AnswerError::DthRecuperacaoUnsupported);
        }
        let view = self.cache.current().await?;
        let (idc_status_requisicao, mensagem) = if view.expired {
            (STATUS_ERRO, unavailable_since(view.snapshot.collected_at))
        } else {
            (STATUS_SUCESSO, String::new())
        };
        Ok(Answer {
            idc_status_requisicao,
            email_indisponibilidade: self.email_indisponibilidade.clone(),
            mensagem,
            view,
        })
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
        let answer = Answerer::new(cache, "a@b.c".into())
            .answer("")
            .await
            .unwrap();
        assert_eq!(answer.idc_status_requisicao, STATUS_ERRO);
        assert!(answer.items().is_empty());
        assert_eq!(answer.view.snapshot.items.len(), 1, "the snapshot is kept");
        // 12:00 UTC is 09:00 in Brasília.
        assert!(
            answer
                .mensagem
                .starts_with("Dados indisponíveis desde 29/11/2026 09:00"),
            "{}",
            answer.mensagem
        );
    }
}
