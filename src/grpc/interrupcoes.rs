//! `radar.interrupcoes.v1.InterrupcoesService`: a thin adapter over [`AnswerService`].

use tonic::{Request, Response, Status};

use super::{ServiceError, convert};
use crate::answer::{Answer, AnswerRequest, AnswerService};
use crate::cache::CACHE_KEY;
use crate::proto::interrupcoes::v1 as pb;
use crate::proto::interrupcoes::v1::interrupcoes_service_server::InterrupcoesService;

/// The data service adapter.
pub struct InterrupcoesGrpc {
    answers: AnswerService,
}

impl InterrupcoesGrpc {
    /// Answers through `answers`.
    pub fn new(answers: AnswerService) -> Self {
        Self { answers }
    }
}

fn response(answer: &Answer) -> pb::GetQuantitativoInterrupcoesAtivasResponse {
    let view = &answer.view;
    let snapshot = &view.snapshot;
    pb::GetQuantitativoInterrupcoesAtivasResponse {
        resposta: Some(pb::QuantitativoInterrupcoesAtivas {
            idc_status_requisicao: answer.idc_status_requisicao(),
            email_indisponibilidade: answer.email_indisponibilidade.clone(),
            mensagem: answer.mensagem(),
            interrupcao_fornecimento: answer.items().iter().map(convert::interrupcao).collect(),
        }),
        snapshot: Some(pb::SnapshotMetadata {
            collected_at: Some(convert::timestamp(snapshot.collected_at)),
            age: Some(convert::duration(view.age)),
            stale: view.stale_reason.is_some(),
            stale_reason: view.stale_reason.clone().unwrap_or_default(),
            source: snapshot.source.to_owned(),
            item_count: snapshot.items.len() as u32,
            rejected_rows: u32::try_from(snapshot.rejected.len()).unwrap_or(u32::MAX),
            cache_key: CACHE_KEY.to_owned(),
            missing_pairs: answer.missing_pairs(),
        }),
    }
}

#[tonic::async_trait]
impl InterrupcoesService for InterrupcoesGrpc {
    async fn get_quantitativo_interrupcoes_ativas(
        &self,
        request: Request<pb::GetQuantitativoInterrupcoesAtivasRequest>,
    ) -> Result<Response<pb::GetQuantitativoInterrupcoesAtivasResponse>, Status> {
        let request = AnswerRequest {
            dth_recuperacao: request.into_inner().dth_recuperacao,
        };
        let answer = self
            .answers
            .answer(&request)
            .await
            .map_err(ServiceError::from)?;
        Ok(Response::new(response(&answer)))
    }
}
