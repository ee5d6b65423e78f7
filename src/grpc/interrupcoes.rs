//! `radar.interrupcoes.v1.InterrupcoesService`: answers from the cache only.

use std::sync::Arc;

use tonic::{Request, Response, Status};

use super::{ServiceError, convert};
use crate::cache::{CACHE_KEY, SnapshotCache};
use crate::domain::dth_recuperacao;
use crate::proto::interrupcoes::v1 as pb;
use crate::proto::interrupcoes::v1::interrupcoes_service_server::InterrupcoesService;

/// ANEEL's `idcStatusRequisicao` for success.
const STATUS_SUCESSO: i32 = 1;
/// ANEEL's `idcStatusRequisicao` for an error.
const STATUS_ERRO: i32 = 2;
/// Rejected pairs listed in the metadata at most.
const MAX_MISSING_PAIRS: usize = 20;

/// The data service adapter.
pub struct InterrupcoesGrpc {
    cache: Arc<SnapshotCache>,
    email_indisponibilidade: String,
}

impl InterrupcoesGrpc {
    /// Answers from `cache`, with `email_indisponibilidade` in every answer.
    pub fn new(cache: Arc<SnapshotCache>, email_indisponibilidade: String) -> Self {
        Self {
            cache,
            email_indisponibilidade,
        }
    }

    async fn answer(
        &self,
        request: pb::GetQuantitativoInterrupcoesAtivasRequest,
    ) -> Result<pb::GetQuantitativoInterrupcoesAtivasResponse, ServiceError> {
        if !request.dth_recuperacao.is_empty() {
            dth_recuperacao::parse(&request.dth_recuperacao).map_err(|reason| {
                ServiceError::InvalidArgument {
                    field: "dthRecuperacao",
                    reason,
                }
            })?;
            return Err(ServiceError::Unimplemented(
                "dthRecuperacao is not supported yet: omit it to get the current answer".into(),
            ));
        }
        let view = self.cache.current().await?;
        let snapshot = &view.snapshot;
        // Beyond the hard limit old numbers would be reported as current: ANEEL gets its
        // error answer instead, saying since when data is unavailable.
        let resposta = if view.expired {
            pb::QuantitativoInterrupcoesAtivas {
                idc_status_requisicao: STATUS_ERRO,
                email_indisponibilidade: self.email_indisponibilidade.clone(),
                mensagem: unavailable_since(snapshot.collected_at),
                interrupcao_fornecimento: Vec::new(),
            }
        } else {
            pb::QuantitativoInterrupcoesAtivas {
                idc_status_requisicao: STATUS_SUCESSO,
                email_indisponibilidade: self.email_indisponibilidade.clone(),
                mensagem: String::new(),
                interrupcao_fornecimento: snapshot.items.iter().map(convert::interrupcao).collect(),
            }
        };
        Ok(pb::GetQuantitativoInterrupcoesAtivasResponse {
            resposta: Some(resposta),
            snapshot: Some(pb::SnapshotMetadata {
                collected_at: Some(convert::timestamp(snapshot.collected_at)),
                age: Some(convert::duration(view.age)),
                stale: view.stale_reason.is_some(),
                stale_reason: view.stale_reason.clone().unwrap_or_default(),
                source: snapshot.source.to_owned(),
                item_count: snapshot.items.len() as u32,
                rejected_rows: u32::try_from(snapshot.rejected.len()).unwrap_or(u32::MAX),
                cache_key: CACHE_KEY.to_owned(),
                missing_pairs: snapshot
                    .rejected
                    .iter()
                    .take(MAX_MISSING_PAIRS)
                    .map(ToString::to_string)
                    .collect(),
            }),
        })
    }
}

/// ANEEL's `mensagem` when the data is too old: since when, in Brasília time.
fn unavailable_since(collected_at: chrono::DateTime<chrono::Utc>) -> String {
    let local = collected_at.with_timezone(&chrono_tz::America::Sao_Paulo);
    format!(
        "Dados indisponíveis desde {} (horário de Brasília): a última coleta de \
         interrupções é antiga demais para ser informada como atual.",
        local.format(dth_recuperacao::FORMAT)
    )
}

#[tonic::async_trait]
impl InterrupcoesService for InterrupcoesGrpc {
    async fn get_quantitativo_interrupcoes_ativas(
        &self,
        request: Request<pb::GetQuantitativoInterrupcoesAtivasRequest>,
    ) -> Result<Response<pb::GetQuantitativoInterrupcoesAtivasResponse>, Status> {
        Ok(Response::new(self.answer(request.into_inner()).await?))
    }
}
