//! `radar.interrupcoes.v1.InterrupcoesService`: a thin adapter over [`AnswerService`],
//! served by its generated server, with the answer of each snapshot (live, or stored and
//! answering past moments) encoded once (see [`super::encoded`]).

use std::pin::Pin;
use std::sync::Arc;

use futures::Stream;
use tokio_util::sync::CancellationToken;
use tonic::{Request, Response, Status};

use super::encoded::{AnswerEncoder, EncodedAnswer};
use super::error::ServiceError;
use crate::answer::{AnswerRequest, AnswerService};
use crate::proto::interrupcoes::v1 as pb;
use crate::proto::interrupcoes::v1::interrupcoes_service_server::{
    InterrupcoesService, InterrupcoesServiceServer,
};

/// `radar.interrupcoes.v1.InterrupcoesService` as a tower service: the generated server
/// around [`InterrupcoesGrpc`]. Generated with [`EncodedAnswer`] as its response (see
/// `build.rs`), so that answers are written from the bytes prepared once per snapshot.
pub type InterrupcoesServer = InterrupcoesServiceServer<InterrupcoesGrpc>;

/// The data service adapter.
pub struct InterrupcoesGrpc {
    answers: AnswerService,
    encoder: Arc<AnswerEncoder>,
    stopping: CancellationToken,
}

impl InterrupcoesGrpc {
    /// Answers through `answers`; open streams end when `stopping` is cancelled.
    pub fn new(answers: AnswerService, stopping: CancellationToken) -> Self {
        Self {
            encoder: Arc::new(AnswerEncoder::new(&answers.history_limits())),
            answers,
            stopping,
        }
    }
}

/// The stream of `WatchQuantitativoInterrupcoesAtivas`.
type AnswerStream = Pin<Box<dyn Stream<Item = Result<EncodedAnswer, Status>> + Send>>;

#[tonic::async_trait]
impl InterrupcoesService for InterrupcoesGrpc {
    async fn get_quantitativo_interrupcoes_ativas(
        &self,
        request: Request<pb::GetQuantitativoInterrupcoesAtivasRequest>,
    ) -> Result<Response<EncodedAnswer>, Status> {
        let request = AnswerRequest {
            dth_recuperacao: request.into_inner().dth_recuperacao,
        };
        let answer = self
            .answers
            .answer(&request)
            .await
            .map_err(ServiceError::from)?;
        Ok(Response::new(self.encoder.encode(&answer)))
    }

    type WatchQuantitativoInterrupcoesAtivasStream = AnswerStream;

    async fn watch_quantitativo_interrupcoes_ativas(
        &self,
        _request: Request<pb::WatchQuantitativoInterrupcoesAtivasRequest>,
    ) -> Result<Response<Self::WatchQuantitativoInterrupcoesAtivasStream>, Status> {
        let encoder = self.encoder.clone();
        let stream = self.answers.watch_live(self.stopping.clone());
        let stream = futures::StreamExt::map(stream, move |answer| Ok(encoder.encode(&answer)));
        Ok(Response::new(Box::pin(stream)))
    }
}
