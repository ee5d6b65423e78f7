//! `radar.interrupcoes.v1.InterrupcoesService`: a thin adapter over [`AnswerService`].

use std::pin::Pin;

use futures::Stream;
use tokio_util::sync::CancellationToken;
use tonic::{Request, Response, Status};

use super::convert;
use super::error::ServiceError;
use crate::answer::{AnswerRequest, AnswerService};
use crate::proto::interrupcoes::v1 as pb;
use crate::proto::interrupcoes::v1::interrupcoes_service_server::InterrupcoesService;

/// The data service adapter.
pub struct InterrupcoesGrpc {
    answers: AnswerService,
    stopping: CancellationToken,
}

impl InterrupcoesGrpc {
    /// Answers through `answers`; open streams end when `stopping` is cancelled.
    pub fn new(answers: AnswerService, stopping: CancellationToken) -> Self {
        Self { answers, stopping }
    }
}

/// The stream of `WatchQuantitativoInterrupcoesAtivas`.
type AnswerStream = Pin<
    Box<dyn Stream<Item = Result<pb::GetQuantitativoInterrupcoesAtivasResponse, Status>> + Send>,
>;

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
        Ok(Response::new(convert::answer(&answer)))
    }

    type WatchQuantitativoInterrupcoesAtivasStream = AnswerStream;

    async fn watch_quantitativo_interrupcoes_ativas(
        &self,
        _request: Request<pb::WatchQuantitativoInterrupcoesAtivasRequest>,
    ) -> Result<Response<Self::WatchQuantitativoInterrupcoesAtivasStream>, Status> {
        let answers = self.answers.clone();
        let stream =
            crate::answer::watch(self.answers.subscribe_snapshots(), self.stopping.clone());
        let stream = futures::StreamExt::map(stream, move |snapshot| {
            Ok(convert::answer(&answers.live_from(snapshot)))
        });
        Ok(Response::new(Box::pin(stream)))
    }
}
