//! The ANEEL endpoint: `GET /quantitativointerrupcoesativas`, a thin adapter over
//! [`AnswerService`], with ANEEL's error envelope, the snapshot metadata in headers,
//! `HEAD` and conditional requests ([`super::conditional`]), the query read by
//! [`super::params`], behind its guard ([`super::guard`]: client address,
//! allow-list, `x-api-key`, rate limit), one log line and one span per request, and
//! `X-Request-ID`.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Extension, Query, Request, State};
use axum::http::header::{
    ALLOW, CACHE_CONTROL, CONTENT_TYPE, ETAG, LAST_MODIFIED, RETRY_AFTER, WWW_AUTHENTICATE,
};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::{DateTime, Utc};

use super::api_key::{Denial, KeyStore};
use super::client_addr::{self, ClientAddr};
use super::conditional::Validators;
use super::guard::{Guard, GuardSettings};
use super::params::{self, DTH_RECUPERACAO, QueryError};
use super::rate_limit::{Decision, LimitedBy};
use super::request_id::RequestId;
use super::security_headers;
use super::v4::Resposta;
use crate::answer::{Answer, AnswerError, AnswerRequest, AnswerService, STATUS_SUCESSO};
use crate::cache::{NotReady, SnapshotView};
use crate::hygiene::echo;
use crate::metrics::Metrics;
use crate::prepared::PerAnswer;

/// The one path of the endpoint.
pub const PATH: &str = "/quantitativointerrupcoesativas";
/// `Content-Type` of every answer, errors included.
pub const JSON_CONTENT_TYPE: &str = "application/json; charset=utf-8";
/// `true` when the answer comes from a stale snapshot.
pub const X_RADAR_STALE: HeaderName = HeaderName::from_static("x-radar-stale");
/// Why the snapshot is stale.
pub const X_RADAR_STALE_REASON: HeaderName = HeaderName::from_static("x-radar-stale-reason");
/// The snapshot's age in seconds. Not `Age`: an origin server's answer is generated when
/// sent, and `Age` (RFC 9111 §5.1) is the time a response spent in caches since then; a
/// cache that read our snapshot's age there would count the response as that much older.
pub const X_RADAR_SNAPSHOT_AGE: HeaderName = HeaderName::from_static("x-radar-snapshot-age");
/// The header ANEEL sends its key in.
pub const X_API_KEY: HeaderName = HeaderName::from_static("x-api-key");
/// Requests per window of the rate limit, on every counted answer (the peer's name).
pub const X_RATELIMIT_LIMIT: HeaderName = HeaderName::from_static("x-ratelimit-limit");
/// Requests left in the window, on every counted answer (the peer's name).
pub const X_RATELIMIT_REMAINING: HeaderName = HeaderName::from_static("x-ratelimit-remaining");
/// Seconds a client is told to wait before asking again when there is no snapshot yet.
const RETRY_AFTER_SECS: u64 = 30;
/// Longest path or query written to the log (the rest is cut).
const MAX_LOGGED_LEN: usize = 200;

/// What the endpoint's handlers share.
#[derive(Clone)]
pub struct AneelState {
    answers: AnswerService,
    keys: Arc<KeyStore>,
    guard: Arc<Guard>,
    metrics: Arc<Metrics>,
    /// The bodies and validators of the current snapshot and of the stored ones that
    /// answer past moments, built once per snapshot.
    prepared: Arc<PerAnswer<PreparedBodies>>,
    /// Past it the current snapshot's body is ANEEL's error answer.
    hard_limit: Duration,
}

/// What of an answer depends only on its snapshot (for a past answer, not on the moment
/// asked either: the age and staleness headers are written per call).
struct PreparedBodies {
    /// ANEEL's answer with the snapshot's items.
    body: Bytes,
    validators: Validators,
    /// ANEEL's error answer, for when the snapshot is older than the hard limit.
    body_expired: Bytes,
    validators_expired: Validators,
}

impl PreparedBodies {
    fn new(answer: &Answer, hard_limit: Duration) -> Self {
        let as_expired = |expired: bool| Answer {
            view: SnapshotView {
                expired,
                ..answer.view.clone()
            },
            ..answer.clone()
        };
        let snapshot = &answer.view.snapshot;
        // When it expired: computed, not read from a clock, so every replica says the same.
        let expired_at = chrono::Duration::from_std(hard_limit)
            .ok()
            .and_then(|limit| snapshot.collected_at.checked_add_signed(limit))
            .unwrap_or(DateTime::<Utc>::MAX_UTC);
        Self {
            body: body(&as_expired(false)).into(),
            validators: Validators::of_data(snapshot),
            body_expired: body(&as_expired(true)).into(),
            validators_expired: Validators::of_expired(snapshot, expired_at),
        }
    }
}

/// The JSON body of `answer`: beyond the hard limit, ANEEL's error answer, not old numbers
/// reported as current.
fn body(answer: &Answer) -> Vec<u8> {
    if answer.idc_status_requisicao() == STATUS_SUCESSO {
        Resposta::sucesso(&answer.email_indisponibilidade, answer.items()).to_json()
    } else {
        Resposta::erro(&answer.email_indisponibilidade, &answer.mensagem()).to_json()
    }
}

impl AneelState {
    /// Answers through `answers`, lets in callers according to `guard` and `keys`, counts
    /// in `metrics`.
    pub fn new(
        answers: AnswerService,
        keys: Arc<KeyStore>,
        guard: GuardSettings,
        metrics: Arc<Metrics>,
    ) -> Self {
        Self {
            prepared: Arc::new(PerAnswer::new(&answers.history_limits())),
            hard_limit: answers.hard_limit(),
            answers,
            keys,
            guard: Arc::new(Guard::from(guard)),
            metrics,
        }
    }
}

/// The endpoint's routes behind the guard's layers (in [`super::guard`]'s order; a layer
/// that is turned off is not installed). Serve it with the client address
/// (`into_make_service_with_connect_info::<SocketAddr>`).
pub fn router(state: AneelState) -> Router {
    // Each `layer` wraps the ones before it: the last one added runs first.
    let mut router = Router::new()
        .route(PATH, get(quantitativo).fallback(method_not_allowed))
        .fallback(not_found);
    if state.guard.limiter.is_some() {
        router = router.layer(middleware::from_fn_with_state(state.clone(), rate_limit));
    }
    router = router.layer(middleware::from_fn_with_state(state.clone(), authorize));
    if !state.guard.allowed_clients.is_empty() {
        router = router.layer(middleware::from_fn_with_state(state.clone(), allow_list));
    }
    router
        .layer(middleware::from_fn_with_state(state.clone(), log_and_count))
        .layer(middleware::from_fn(super::request_id::request_id))
        .layer(middleware::from_fn_with_state(
            state.guard.proxies.clone(),
            client_addr::resolve,
        ))
        .layer(middleware::map_response(security_headers::add))
        .layer(middleware::from_fn(|request: Request, next: Next| {
            let route = (request.uri().path() == PATH).then_some(PATH);
            super::trace::trace_request(route, request, next)
        }))
        .with_state(state)
}

/// Everything the endpoint can answer instead of data: the one mapping to HTTP statuses
/// and ANEEL's envelope (messages in Portuguese, for ANEEL's operators).
#[derive(Debug)]
enum HttpError {
    Answer(AnswerError, String),
    BadQuery,
    /// The query names `dthRecuperacao` in another case, or twice.
    Parameter(QueryError),
    Denied(Denial),
    /// The client's address is not in the allow-list.
    NotAllowed(IpAddr),
    NotFound,
    MethodNotAllowed,
    RateLimited {
        limit: u32,
        window: Duration,
        retry_after_secs: u64,
    },
}

impl HttpError {
    fn status(&self) -> StatusCode {
        match self {
            HttpError::Answer(AnswerError::NotReady(_) | AnswerError::StoreUnavailable(_), _) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            HttpError::Answer(
                AnswerError::InvalidDthRecuperacao(_) | AnswerError::FutureDthRecuperacao { .. },
                _,
            )
            | HttpError::BadQuery
            | HttpError::Parameter(_) => StatusCode::BAD_REQUEST,
            HttpError::Answer(AnswerError::NotFound { .. }, _) | HttpError::NotFound => {
                StatusCode::NOT_FOUND
            }
            HttpError::Denied(Denial::MissingKey | Denial::WrongKey) => StatusCode::UNAUTHORIZED,
            HttpError::Denied(Denial::NotLoopback) | HttpError::NotAllowed(_) => {
                StatusCode::FORBIDDEN
            }
            HttpError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            HttpError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
        }
    }

    fn mensagem(&self) -> String {
        const FORMATO: &str =
            "Formato esperado: dd/mm/aaaa hh:mm, horário de Brasília (exemplo: 28/11/2026 14:30).";
        match self {
            HttpError::Answer(AnswerError::NotReady(NotReady::FirstLoadInProgress), _) => {
                "Dados ainda não disponíveis: a primeira carga está em andamento. Tente novamente \
                 em instantes."
                    .to_owned()
            }
            HttpError::Answer(
                AnswerError::NotReady(NotReady::LoadFailed {
                    transient: true, ..
                }),
                _,
            ) => "Dados ainda não disponíveis: a carga dos dados falhou e está sendo repetida. \
                  Tente novamente em instantes."
                .to_owned(),
            HttpError::Answer(
                AnswerError::NotReady(NotReady::LoadFailed {
                    transient: false, ..
                }),
                _,
            ) => "Dados ainda não disponíveis: a carga dos dados falhou por um erro que novas \
                  tentativas não resolvem, e só será feita de novo na próxima execução \
                  agendada ou quando a operação a acionar."
                .to_owned(),
            HttpError::Answer(AnswerError::InvalidDthRecuperacao(_), value) => {
                format!(
                    "Parâmetro dthRecuperacao inválido: {}. {FORMATO}",
                    echo(value)
                )
            }
            HttpError::Answer(AnswerError::FutureDthRecuperacao { asked, now }, _) => format!(
                "Parâmetro dthRecuperacao no futuro: {} é posterior ao momento atual, {now} \
                 (horário de Brasília). Informe um momento passado, ou omita o parâmetro para \
                 obter a resposta atual.",
                echo(asked)
            ),
            HttpError::BadQuery => format!("Parâmetros da consulta inválidos. {FORMATO}"),
            HttpError::Parameter(QueryError::Misspelled(name)) => format!(
                "Parâmetro {} desconhecido: o nome correto é {DTH_RECUPERACAO} (com essas \
                 maiúsculas e minúsculas). {FORMATO}",
                echo(name)
            ),
            HttpError::Parameter(QueryError::Repeated) => format!(
                "Parâmetro {DTH_RECUPERACAO} informado mais de uma vez: informe-o uma única vez. \
                 {FORMATO}"
            ),

            HttpError::Answer(AnswerError::NotFound { oldest, .. }, value) => match oldest {
                Some(oldest) => format!(
                    "Nenhum dado armazenado para dthRecuperacao {value:?}: o momento mais antigo \
                     que pode ser consultado é {oldest} (horário de Brasília)."
                ),
                None => format!(
                    "Nenhum dado armazenado para dthRecuperacao {value:?}: o histórico ainda \
                     está vazio."
                ),
            },
            HttpError::Answer(AnswerError::StoreUnavailable(_), _) => {
                "Histórico indisponível no momento: tente novamente em instantes. A consulta \
                 sem dthRecuperacao não é afetada."
                    .to_owned()
            }
            HttpError::Denied(Denial::MissingKey) => {
                "Chave de acesso ausente: informe-a no cabeçalho x-api-key.".to_owned()
            }
            HttpError::Denied(Denial::WrongKey) => {
                "Chave de acesso inválida (cabeçalho x-api-key).".to_owned()
            }
            HttpError::Denied(Denial::NotLoopback) => {
                "Acesso negado: nenhuma chave de acesso configurada; apenas clientes locais são \
                 atendidos."
                    .to_owned()
            }
            HttpError::NotAllowed(ip) => format!(
                "Acesso negado: o endereço {ip} não está autorizado a consultar este serviço."
            ),
            HttpError::NotFound => format!("Recurso não encontrado: use GET {PATH}."),
            HttpError::MethodNotAllowed => format!("Método não permitido: use GET ou HEAD {PATH}."),
            HttpError::RateLimited {
                limit,
                window,
                retry_after_secs,
            } => format!(
                "Limite de requisições excedido: no máximo {limit} a cada {} s por chave de \
                 acesso e por endereço. Tente novamente em {retry_after_secs} s.",
                window.as_secs()
            ),
        }
    }

    fn into_response(self, email: &str) -> Response {
        let status = self.status();
        let mensagem = self.mensagem();
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static(JSON_CONTENT_TYPE));
        match self {
            HttpError::RateLimited {
                retry_after_secs, ..
            } => {
                headers.insert(RETRY_AFTER, HeaderValue::from(retry_after_secs));
            }
            HttpError::Answer(AnswerError::NotReady(_) | AnswerError::StoreUnavailable(_), _) => {
                headers.insert(RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECS));
            }
            HttpError::MethodNotAllowed => {
                headers.insert(ALLOW, HeaderValue::from_static("GET, HEAD"));
            }
            HttpError::Denied(Denial::MissingKey | Denial::WrongKey) => {
                headers.insert(
                    WWW_AUTHENTICATE,
                    HeaderValue::from_static("ApiKey header=\"x-api-key\""),
                );
            }
            _ => {}
        }
        (status, headers, Resposta::erro(email, &mensagem).to_json()).into_response()
    }
}

async fn quantitativo(
    State(state): State<AneelState>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
    headers: HeaderMap,
) -> Response {
    let email = state.answers.email_indisponibilidade();
    let Ok(Query(pairs)) = query else {
        return HttpError::BadQuery.into_response(email);
    };
    let query = match params::read(pairs) {
        Ok(query) => query,
        Err(e) => return HttpError::Parameter(e).into_response(email),
    };
    state.metrics.record_ignored_parameters(query.ignored);
    let request = AnswerRequest {
        dth_recuperacao: query.dth_recuperacao.unwrap_or_default(),
    };
    match state.answers.answer(&request).await {
        Ok(answer) => success(&answer, &headers, &state.prepared, state.hard_limit),
        Err(e) => HttpError::Answer(e, request.dth_recuperacao).into_response(email),
    }
}

/// The answer, or 304 when the request's validators name the body it would carry.
fn success(
    answer: &Answer,
    request: &HeaderMap,
    prepared: &PerAnswer<PreparedBodies>,
    hard_limit: Duration,
) -> Response {
    let view = &answer.view;
    let prepared =
        prepared.get_or_prepare(answer, |answer| PreparedBodies::new(answer, hard_limit));
    let (body, validators) = if view.expired {
        (&prepared.body_expired, &prepared.validators_expired)
    } else {
        (&prepared.body, &prepared.validators)
    };
    let mut headers = HeaderMap::new();
    headers.insert(ETAG, validators.etag.clone());
    headers.insert(LAST_MODIFIED, validators.last_modified.clone());
    headers.insert(X_RADAR_SNAPSHOT_AGE, HeaderValue::from(view.age.as_secs()));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if let Some(reason) = &view.stale_reason {
        headers.insert(X_RADAR_STALE, HeaderValue::from_static("true"));
        headers.insert(X_RADAR_STALE_REASON, header_text(reason));
    }
    if validators.not_modified(request) {
        return (StatusCode::NOT_MODIFIED, headers).into_response();
    }
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(JSON_CONTENT_TYPE));
    (StatusCode::OK, headers, body.clone()).into_response()
}

/// `text` as a header value: visible ASCII only (others become `?`), at most 200 bytes.
fn header_text(text: &str) -> HeaderValue {
    let clean: String = text
        .chars()
        .map(|c| {
            if c == ' ' || c.is_ascii_graphic() {
                c
            } else {
                '?'
            }
        })
        .take(200)
        .collect();
    HeaderValue::from_str(&clean).expect("visible ASCII is a valid header value")
}

async fn method_not_allowed(State(state): State<AneelState>) -> Response {
    HttpError::MethodNotAllowed.into_response(state.answers.email_indisponibilidade())
}

async fn not_found(State(state): State<AneelState>) -> Response {
    HttpError::NotFound.into_response(state.answers.email_indisponibilidade())
}

/// The key a request was let in with: for the rate limit, and the request log.
#[derive(Debug, Clone)]
struct KeyId(Arc<str>);

/// The allow-list's decision, for the request log.
#[derive(Debug, Clone, Copy)]
enum AllowListOutcome {
    Allowed,
    Refused,
}

/// Lets in the clients whose address is in the allow-list; answers 403 to the others.
async fn allow_list(
    State(state): State<AneelState>,
    Extension(client): Extension<ClientAddr>,
    request: Request,
    next: Next,
) -> Response {
    let (outcome, mut response) = if state.guard.allowed_clients.contains(client.ip()) {
        (AllowListOutcome::Allowed, next.run(request).await)
    } else {
        let refusal = HttpError::NotAllowed(client.ip())
            .into_response(state.answers.email_indisponibilidade());
        (AllowListOutcome::Refused, refusal)
    };
    response.extensions_mut().insert(outcome);
    response
}

/// Lets the request through when [`super::ApiKeys::authorize`] does (for the client's
/// address, not the proxy's); answers 401/403 otherwise.
async fn authorize(
    State(state): State<AneelState>,
    Extension(client): Extension<ClientAddr>,
    mut request: Request,
    next: Next,
) -> Response {
    let decision = state
        .keys
        .current()
        .authorize(
            client.ip(),
            request.headers().get(X_API_KEY).map(HeaderValue::as_bytes),
        )
        .map(Arc::<str>::from);
    match decision {
        Ok(key_id) => {
            let key_id = KeyId(key_id);
            request.extensions_mut().insert(key_id.clone());
            let mut response = next.run(request).await;
            response.extensions_mut().insert(key_id);
            response
        }
        Err(denial) => {
            HttpError::Denied(denial).into_response(state.answers.email_indisponibilidade())
        }
    }
}

/// Counts the request against its key and its client address: the handler answers while
/// both have room, 429 otherwise; either answer says the limit and what is left of it.
async fn rate_limit(
    State(state): State<AneelState>,
    Extension(client): Extension<ClientAddr>,
    Extension(key_id): Extension<KeyId>,
    request: Request,
    next: Next,
) -> Response {
    let Some(limiter) = &state.guard.limiter else {
        return next.run(request).await;
    };
    let decision = limiter.check(&key_id.0, client.ip(), Instant::now());
    let (mut response, limit, remaining) = match decision {
        Decision::Allowed { limit, remaining } => (next.run(request).await, limit, remaining),
        Decision::Limited {
            limit, retry_after, ..
        } => {
            let refusal = HttpError::RateLimited {
                limit,
                window: limiter.limit().window,
                // Whole seconds, rounded up: asking again sooner would be refused.
                retry_after_secs: retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0),
            };
            (
                refusal.into_response(state.answers.email_indisponibilidade()),
                limit,
                0,
            )
        }
    };
    let headers = response.headers_mut();
    headers.insert(X_RATELIMIT_LIMIT, HeaderValue::from(limit));
    headers.insert(X_RATELIMIT_REMAINING, HeaderValue::from(remaining));
    response.extensions_mut().insert(decision);
    response
}

/// One info line per request, with each layer's decision (never the key: only its id), and
/// the request metrics.
async fn log_and_count(
    State(state): State<AneelState>,
    Extension(client): Extension<ClientAddr>,
    request: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let path = cut(request.uri().path());
    let query = cut(&super::log_query::redacted(
        request.uri().query().unwrap_or_default(),
    ));
    let route = if request.uri().path() == PATH {
        PATH
    } else {
        "other"
    };
    let request_id = request
        .extensions()
        .get::<RequestId>()
        .map(|id| id.as_str().to_owned())
        .unwrap_or_default();
    let response = next.run(request).await;
    let elapsed = started.elapsed();
    let status = response.status().as_u16();
    let outcomes = response.extensions();
    let key_id = outcomes.get::<KeyId>().map_or("-", |k| &k.0);
    // "off": the layer is not installed; "-": an earlier layer answered.
    let allow_list = match outcomes.get::<AllowListOutcome>() {
        _ if state.guard.allowed_clients.is_empty() => "off",
        Some(AllowListOutcome::Allowed) => "allowed",
        Some(AllowListOutcome::Refused) => "refused",
        None => "-",
    };
    let rate = outcomes.get::<Decision>();
    let rate_limit = match rate {
        _ if state.guard.limiter.is_none() => "off",
        Some(Decision::Allowed { .. }) => "counted",
        Some(Decision::Limited { .. }) => "limited",
        None => "-",
    };
    let rate_remaining = match rate {
        Some(Decision::Allowed { remaining, .. }) => Some(*remaining),
        _ => None,
    };
    let rate_limited_by = match rate {
        Some(Decision::Limited { by, .. }) => Some(LimitedBy::as_str(*by)),
        _ => None,
    };
    tracing::info!(
        method = %method,
        path,
        query,
        status,
        duration_ms = elapsed.as_millis() as u64,
        client = %client,
        peer = %client.peer(),
        allow_list,
        key_id,
        rate_limit,
        rate_remaining,
        rate_limited_by,
        request_id,
        "aneel request"
    );
    state
        .metrics
        .record_http(method_label(&method), route, status, elapsed);
    response
}

fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

fn cut(text: &str) -> String {
    match text.char_indices().nth(MAX_LOGGED_LEN) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    /// A snapshot of one item collected at `collected_at`.
    fn one_item_snapshot(collected_at: DateTime<Utc>) -> crate::cache::Snapshot {
        crate::cache::Snapshot {
            collected_at,
            source: "test".to_owned(),
            instance: "radar-0".to_owned(),
            items: vec![crate::domain::InterrupcaoAtiva {
                ide_conjunto: 7,
                ide_municipio: 1_400_100,
                qtd_ucs_atendidas: 1000,
                qtd_ocorrencia_programada: 3,
                qtd_ocorrencia_nao_programada: 40,
            }],
            rejected: Vec::new(),
        }
    }

    #[test]
    fn the_bodies_prepared_from_a_fresh_answer_are_the_per_call_bodies_fresh_and_expired() {
        let collected_at = Utc.with_ymd_and_hms(2026, 11, 29, 12, 0, 0).unwrap();
        let answer = |expired: bool| Answer {
            view: SnapshotView {
                snapshot: Arc::new(one_item_snapshot(collected_at)),
                age: std::time::Duration::ZERO,
                stale_reason: None,
                expired,
            },
            email_indisponibilidade: "a@b.br".to_owned(),
            cache_key: crate::cache::CACHE_KEY.to_owned(),
            recovered: None,
        };
        let prepared = PreparedBodies::new(&answer(false), Duration::from_secs(7200));
        assert_eq!(prepared.body, body(&answer(false)));
        assert_eq!(prepared.body_expired, body(&answer(true)));
        assert_ne!(prepared.body, prepared.body_expired);
        assert_eq!(
            prepared.validators.last_modified,
            super::super::conditional::http_date(collected_at)
        );
        assert_eq!(
            prepared.validators_expired.last_modified, "Sun, 29 Nov 2026 14:00:00 GMT",
            "collected at 12:00 plus the 2 h limit"
        );
        assert_ne!(prepared.validators.etag, prepared.validators_expired.etag);
    }

    #[tokio::test]
    async fn a_past_answer_s_body_is_prepared_once_per_stored_snapshot_and_is_the_per_call_body() {
        use crate::answer::{HISTORY_CACHE_KEY, HistoryLimits, Recovered};
        use std::time::Duration;
        let collected_at = Utc.with_ymd_and_hms(2026, 11, 29, 12, 0, 0).unwrap();
        let snapshot = Arc::new(one_item_snapshot(collected_at));
        let past = |minutes: u64, stale_reason: Option<&str>| {
            let asked_at = collected_at + chrono::Duration::minutes(minutes as i64);
            Answer {
                view: SnapshotView {
                    snapshot: snapshot.clone(),
                    age: Duration::from_secs(minutes * 60),
                    stale_reason: stale_reason.map(str::to_owned),
                    expired: false,
                },
                email_indisponibilidade: "a@b.br".to_owned(),
                cache_key: format!("{HISTORY_CACHE_KEY}:{}", asked_at.to_rfc3339()),
                recovered: Some(Recovered {
                    asked_at,
                    snapshot_id: "stored-1".into(),
                }),
            }
        };
        let memo = PerAnswer::new(&HistoryLimits {
            retention: chrono::Duration::days(7),
            cache_capacity: 10,
            cache_ttl: Duration::from_secs(600),
            stale_after: Duration::from_secs(3600),
        });
        let first = past(5, None);
        let later = past(
            90,
            Some("at that moment the snapshot was older than the limit"),
        );
        for answer in [&first, &later, &first] {
            let response = success(answer, &HeaderMap::new(), &memo, Duration::from_secs(7200));
            assert_eq!(response.status(), StatusCode::OK);
            let headers = response.headers().clone();
            let sent = axum::body::to_bytes(response.into_body(), usize::MAX)
                .await
                .unwrap();
            assert_eq!(sent, body(answer), "the body built per call");
            assert_eq!(
                headers[X_RADAR_SNAPSHOT_AGE],
                answer.view.age.as_secs().to_string()
            );
            assert_eq!(
                headers.contains_key(X_RADAR_STALE),
                answer.view.stale_reason.is_some()
            );
            assert_eq!(
                headers[LAST_MODIFIED],
                super::super::conditional::http_date(collected_at)
            );
        }
        // Every moment of that stored snapshot shares the bodies prepared for the first.
        memo.get_or_prepare(&later, |_| panic!("prepared again"));
    }

    #[test]
    fn header_text_keeps_visible_ascii_only() {
        assert_eq!(
            header_text("ORA-03113: fim\nde arquivo"),
            "ORA-03113: fim?de arquivo"
        );
    }
}
