//! `radar.interrupcoes.v1.InterrupcoesService`: a thin adapter over [`AnswerService`], with
//! the answer of each snapshot (live, or stored and answering past moments) encoded once
//! (see [`super::encoded`]).

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures::Stream;
use tokio_util::sync::CancellationToken;
use tonic::codegen::{Body, BoxFuture, Service, StdError, http};
use tonic::server::{NamedService, UnaryService};
use tonic::{Request, Response, Status};
use tonic_prost::ProstCodec;

use super::convert;
use super::encoded::{EncodedAnswer, EncodedSnapshot};
use super::error::ServiceError;
use crate::answer::{AnswerRequest, AnswerService};
use crate::prepared::PerAnswer;
use crate::proto::interrupcoes::v1 as pb;
use crate::proto::interrupcoes::v1::interrupcoes_service_server::{
    InterrupcoesService, InterrupcoesServiceServer,
};

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

/// The unary method's path: [`InterrupcoesServer`] answers it from the prepared bytes.
const GET_PATH: &str =
    "/radar.interrupcoes.v1.InterrupcoesService/GetQuantitativoInterrupcoesAtivas";

/// `radar.interrupcoes.v1.InterrupcoesService` as a tower service: the unary method answered
/// from the answer encoded once per snapshot (the generated server would need the answer as
/// a message to encode again), every other method by the generated server.
#[derive(Clone)]
pub struct InterrupcoesServer {
    prepared: Arc<PreparedGet>,
    generated: InterrupcoesServiceServer<InterrupcoesGrpc>,
    max_decoding_message_size: Option<usize>,
}

/// The unary method with its per-snapshot memo (the live snapshot's and the past ones').
struct PreparedGet {
    answers: AnswerService,
    encoded: PerAnswer<EncodedSnapshot>,
}

impl PreparedGet {
    async fn answer(
        &self,
        request: pb::GetQuantitativoInterrupcoesAtivasRequest,
    ) -> Result<EncodedAnswer, ServiceError> {
        let request = AnswerRequest {
            dth_recuperacao: request.dth_recuperacao,
        };
        let answer = self.answers.answer(&request).await?;
        let prepared = self.encoded.get_or_prepare(&answer, EncodedSnapshot::new);
        Ok(EncodedAnswer::new(prepared, answer))
    }
}

impl InterrupcoesServer {
    /// Serves `grpc`'s service, its unary method from bytes prepared once per snapshot.
    pub fn new(grpc: InterrupcoesGrpc) -> Self {
        Self {
            prepared: Arc::new(PreparedGet {
                encoded: PerAnswer::new(&grpc.answers.history_limits()),
                answers: grpc.answers.clone(),
            }),
            generated: InterrupcoesServiceServer::new(grpc),
            max_decoding_message_size: None,
        }
    }

    /// Requests larger than `limit` bytes are refused (as the generated server's option).
    #[must_use]
    pub fn max_decoding_message_size(mut self, limit: usize) -> Self {
        self.max_decoding_message_size = Some(limit);
        self.generated = self.generated.max_decoding_message_size(limit);
        self
    }
}

impl NamedService for InterrupcoesServer {
    const NAME: &'static str = pb::interrupcoes_service_server::SERVICE_NAME;
}

/// The unary method, as tonic's server drives it.
struct GetQuantitativo(Arc<PreparedGet>);

impl UnaryService<pb::GetQuantitativoInterrupcoesAtivasRequest> for GetQuantitativo {
    type Response = EncodedAnswer;
    type Future = BoxFuture<Response<EncodedAnswer>, Status>;

    fn call(
        &mut self,
        request: Request<pb::GetQuantitativoInterrupcoesAtivasRequest>,
    ) -> Self::Future {
        let inner = self.0.clone();
        Box::pin(async move { Ok(Response::new(inner.answer(request.into_inner()).await?)) })
    }
}

impl<B> Service<http::Request<B>> for InterrupcoesServer
where
    B: Body + Send + 'static,
    B::Error: Into<StdError> + Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        if request.uri().path() != GET_PATH {
            return self.generated.call(request);
        }
        let method = GetQuantitativo(self.prepared.clone());
        let max_decoding = self.max_decoding_message_size;
        Box::pin(async move {
            let codec =
                ProstCodec::<EncodedAnswer, pb::GetQuantitativoInterrupcoesAtivasRequest>::default(
                );
            let mut grpc =
                tonic::server::Grpc::new(codec).apply_max_message_size_config(max_decoding, None);
            Ok(grpc.unary(method, request).await)
        })
    }
}
