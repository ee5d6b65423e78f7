//! `radar.interrupcoes.v1.InterrupcoesService`: a thin adapter over [`AnswerService`], with
//! the answer of each snapshot encoded once (see [`super::encoded`]).

use std::convert::Infallible;
use std::sync::Arc;
use std::task::{Context, Poll};

use tonic::codegen::{Body, BoxFuture, Service, StdError, http};
use tonic::server::{NamedService, UnaryService};
use tonic::{Request, Response, Status};
use tonic_prost::ProstCodec;

use super::encoded::{EncodedAnswer, EncodedSnapshot};
use super::error::ServiceError;
use crate::answer::{AnswerRequest, AnswerService};
use crate::prepared::PerSnapshot;
use crate::proto::interrupcoes::v1 as pb;

/// The one method's path.
const GET_PATH: &str =
    "/radar.interrupcoes.v1.InterrupcoesService/GetQuantitativoInterrupcoesAtivas";

/// The data service adapter.
pub struct InterrupcoesGrpc {
    answers: AnswerService,
    /// The current snapshot's answer, encoded once per snapshot.
    prepared: PerSnapshot<EncodedSnapshot>,
}

impl InterrupcoesGrpc {
    /// Answers through `answers`.
    pub fn new(answers: AnswerService) -> Self {
        Self {
            answers,
            prepared: PerSnapshot::new(),
        }
    }

    async fn answer(
        &self,
        request: pb::GetQuantitativoInterrupcoesAtivasRequest,
    ) -> Result<EncodedAnswer, ServiceError> {
        let request = AnswerRequest {
            dth_recuperacao: request.dth_recuperacao,
        };
        let answer = self.answers.answer(&request).await?;
        let prepared = self
            .prepared
            .get_or_prepare(&answer.view.snapshot, |_| EncodedSnapshot::new(&answer));
        Ok(EncodedAnswer::new(prepared, &answer.view))
    }

    /// The service to add to the server: the generated `InterrupcoesServiceServer`'s
    /// routing, with the prepared answer as the response (the generated server would need
    /// the answer as a message to encode again).
    pub fn into_server(self) -> InterrupcoesServer {
        InterrupcoesServer {
            inner: Arc::new(self),
            max_decoding_message_size: None,
        }
    }
}

/// `radar.interrupcoes.v1.InterrupcoesService` as a tower service.
#[derive(Clone)]
pub struct InterrupcoesServer {
    inner: Arc<InterrupcoesGrpc>,
    max_decoding_message_size: Option<usize>,
}

impl InterrupcoesServer {
    /// Requests larger than `limit` bytes are refused (as the generated server's option).
    #[must_use]
    pub fn max_decoding_message_size(mut self, limit: usize) -> Self {
        self.max_decoding_message_size = Some(limit);
        self
    }
}

impl NamedService for InterrupcoesServer {
    const NAME: &'static str = pb::interrupcoes_service_server::SERVICE_NAME;
}

/// The unary method, as tonic's server drives it.
struct GetQuantitativo(Arc<InterrupcoesGrpc>);

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
        if request.uri().path() == GET_PATH {
            let method = GetQuantitativo(self.inner.clone());
            let max_decoding = self.max_decoding_message_size;
            Box::pin(async move {
                let codec =
                    ProstCodec::<EncodedAnswer, pb::GetQuantitativoInterrupcoesAtivasRequest>::default();
                let mut grpc = tonic::server::Grpc::new(codec)
                    .apply_max_message_size_config(max_decoding, None);
                Ok(grpc.unary(method, request).await)
            })
        } else {
            Box::pin(async move { Ok(Status::unimplemented("").into_http()) })
        }
    }
}
