//! `radar.interrupcoes.v1.InterrupcoesService`: answers from the cache only.

use std::sync::Arc;

use tonic::{Request, Response, Status};

use super::convert;
use super::error::ServiceError;
use crate::answer::Answerer;
use crate::cache::{CACHE_KEY, SnapshotCache};
use crate::proto::interrupcoes::v1 as pb;
use crate::proto::interrupcoes::v1::interrupcoes_service_server::InterrupcoesService;

/// The data service adapter.
pub struct InterrupcoesGrpc {
    answerer: Answerer,
}

impl InterrupcoesGrpc {
    /// Answers from `cache`, with `email_indisponibilidade` in every answer.
    pub fn new(cache: Arc<SnapshotCache>, email_indisponibilidade: String) -> Self {
        Self {
            answerer: Answerer::new(cache, email_indisponibilidade),
        }
    }

    async fn answer(
        &self,
        request: pb::GetQuantitativoInterrupcoesAtivasRequest,
    ) -> Result<pb::GetQuantitativoInterrupcoesAtivasResponse, ServiceError> {
        let answer = self.answerer.answer(&request.dth_recuperacao).await?;
        let snapshot = &answer.view.snapshot;
        Ok(pb::GetQuantitativoInterrupcoesAtivasResponse {
            resposta: Some(pb::QuantitativoInterrupcoesAtivas {
                idc_status_requisicao: answer.idc_status_requisicao,
                email_indisponibilidade: answer.email_indisponibilidade.clone(),
                mensagem: answer.mensagem.clone(),
                interrupcao_fornecimento: answer.items().iter().map(convert::interrupcao).collect(),
            }),
            snapshot: Some(pb::SnapshotMetadata {
                collected_at: Some(convert::timestamp(snapshot.collected_at)),
                age: Some(convert::duration(answer.view.age)),
                stale: answer.view.stale_reason.is_some(),
                stale_reason: answer.view.stale_reason.clone().unwrap_or_default(),
                source: snapshot.source.to_owned(),
                item_count: snapshot.items.len() as u32,
                rejected_rows: u32::try_from(snapshot.rejected.len()).unwrap_or(u32::MAX),
                cache_key: CACHE_KEY.to_owned(),
                missing_pairs: answer.missing_pairs(),
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
