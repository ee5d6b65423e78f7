//! `radar.interrupcoes.v1.InterrupcoesService`: a thin adapter over [`Answers`].

use std::pin::Pin;
use std::sync::Arc;

use futures::Stream;
use tokio_util::sync::CancellationToken;
use tonic::{Request, Response, Status};

use super::convert;
use super::error::ServiceError;
use crate::answer::Answers;
use crate::cache::SnapshotCache;
use crate::proto::interrupcoes::v1 as pb;
use crate::proto::interrupcoes::v1::interrupcoes_service_server::InterrupcoesService;

/// The data service adapter.
pub struct InterrupcoesGrpc {
    answers: Arc<Answers>,
    cache: Arc<SnapshotCache>,
    email_indisponibilidade: String,
    stopping: CancellationToken,
}

impl InterrupcoesGrpc {
    /// Answers with `answers` (streams follow `cache`), with `email_indisponibilidade` in
    /// every answer; open streams end when `stopping` is cancelled.
    pub fn new(
        answers: Arc<Answers>,
        cache: Arc<SnapshotCache>,
        email_indisponibilidade: String,
        stopping: CancellationToken,
    ) -> Self {
        Self {
            answers,
            cache,
            email_indisponibilidade,
            stopping,
        }
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
        let answer = self
            .answers
            .answer(&request.into_inner().dth_recuperacao)
            .await
            .map_err(ServiceError::from)?;
        Ok(Response::new(convert::answer(
            &answer,
            &self.email_indisponibilidade,
        )))
    }

    type WatchQuantitativoInterrupcoesAtivasStream = AnswerStream;

    async fn watch_quantitativo_interrupcoes_ativas(
        &self,
        _request: Request<pb::WatchQuantitativoInterrupcoesAtivasRequest>,
    ) -> Result<Response<Self::WatchQuantitativoInterrupcoesAtivasStream>, Status> {
        let answers = self.answers.clone();
        let email = self.email_indisponibilidade.clone();
        let stream = crate::answer::watch(self.cache.subscribe_snapshots(), self.stopping.clone());
        let stream = futures::StreamExt::map(stream, move |snapshot| {
            Ok(convert::answer(&answers.live_from(snapshot), &email))
        });
        Ok(Response::new(Box::pin(stream)))
    }
}
