//! `radar.interrupcoes.v1.InterrupcoesService`: answers from the cache only.

use std::sync::Arc;

use tonic::{Request, Response, Status};

use super::convert;
use super::error::ServiceError;
use crate::cache::{CACHE_KEY, SnapshotCache};
use crate::domain::dth_recuperacao;
use crate::proto::interrupcoes::v1 as pb;
use crate::proto::interrupcoes::v1::interrupcoes_service_server::InterrupcoesService;

/// ANEEL's `idcStatusRequisicao` for success.
const STATUS_SUCESSO: i32 = 1;

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
        Ok(pb::GetQuantitativoInterrupcoesAtivasResponse {
            resposta: Some(pb::QuantitativoInterrupcoesAtivas {
                idc_status_requisicao: STATUS_SUCESSO,
                email_indisponibilidade: self.email_indisponibilidade.clone(),
                mensagem: String::new(),
                interrupcao_fornecimento: snapshot.items.iter().map(convert::interrupcao).collect(),
            }),
            snapshot: Some(pb::SnapshotMetadata {
                collected_at: Some(convert::timestamp(snapshot.collected_at)),
                age: Some(convert::duration(view.age)),
                stale: view.stale_reason.is_some(),
                stale_reason: view.stale_reason.clone().unwrap_or_default(),
                source: snapshot.source.to_owned(),
                item_count: snapshot.items.len() as u32,
                rejected_rows: u32::try_from(snapshot.rejected).unwrap_or(u32::MAX),
                cache_key: CACHE_KEY.to_owned(),
            }),
        })
    }
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
