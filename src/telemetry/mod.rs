//! The tracing subscriber: plain text for people, JSON for log pipelines.
//!
//! - Colour only when standard error is a terminal and `NO_COLOR` is unset ([`use_colour`]).
//! - Plain lines quote every field value that needs it ([`plain`]).
//! - JSON lines carry the fields of the enclosing spans at the top level ([`json`]).
//! - Dependencies log at `warn` unless the filter names them ([`LogFilter`]).
//! - Spans go to an OpenTelemetry collector when the standard `OTEL_*` variables say so
//!   ([`TraceSettings`], [`trace_export`]), and JSON lines written inside an exported span
//!   carry its `trace_id` and `span_id` ([`trace_ids`]).

#[cfg(test)]
pub(crate) mod capture;
mod json;
mod plain;
pub mod propagation;
pub mod span_queue;
pub mod spans;
#[cfg(test)]
pub(crate) mod testing;
pub mod trace_export;
pub mod trace_ids;
pub mod trace_settings;

pub use propagation::{continue_caller_trace, link_caller_trace};
pub use span_queue::{SpanDrops, span_drops};
pub use trace_export::{ServiceIdentity, TraceExport, tracing_enabled};
pub use trace_settings::{TraceSettings, TraceSettingsError};

use std::ffi::OsStr;
use std::io::IsTerminal;
use std::str::FromStr;

use opentelemetry_sdk::trace::SdkTracer;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::Layer as _;
use tracing_subscriber::filter::{Directive, ParseError};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::fmt::format::JsonFields;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Plain,
    /// One JSON object per line, span fields at the top level.
    Json,
}

/// Crates whose `info` lines are their own internals, not the service's: kept at `warn`
/// unless the filter names them (e.g. `info,tokio_cron_scheduler=info`).
const QUIET_DEPENDENCIES: &[&str] = &[
    "tokio_cron_scheduler",
    "h2",
    "hyper",
    "hyper_util",
    "tower",
    "tonic",
    "oracle",
];

/// A log filter in `tracing`'s EnvFilter syntax (`info`, `radar_interrupcoes=debug,warn`),
/// parsed once, when the settings are read.
#[derive(Debug, Clone)]
pub struct LogFilter {
    directives: Vec<Directive>,
    /// The targets the directives name (empty for a bare level).
    targets: Vec<String>,
}

impl FromStr for LogFilter {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Self, ParseError> {
        let texts: Vec<&str> = s
            .split(',')
            .map(str::trim)
            .filter(|d| !d.is_empty())
            .collect();
        let directives = texts.iter().map(|d| d.parse()).collect::<Result<_, _>>()?;
        let targets = texts
            .iter()
            .filter_map(|d| {
                let target = d.split(['=', '[']).next().unwrap_or_default().trim();
                // A bare level (`debug`) names no target.
                (!target.is_empty()
                    && target.parse::<tracing::Level>().is_err()
                    && !target.eq_ignore_ascii_case("off"))
                .then(|| target.to_owned())
            })
            .collect();
        Ok(Self {
            directives,
            targets,
        })
    }
}

impl LogFilter {
    /// Whether a directive names `krate` or one of its modules.
    fn names(&self, krate: &str) -> bool {
        self.targets
            .iter()
            .any(|t| t == krate || t.starts_with(&format!("{krate}::")))
    }

    fn into_env_filter(self) -> EnvFilter {
        let quiet: Vec<Directive> = QUIET_DEPENDENCIES
            .iter()
            .filter(|krate| !self.names(krate))
            .map(|krate| format!("{krate}=warn").parse().expect("a valid directive"))
            .collect();
        quiet
            .into_iter()
            .chain(self.directives)
            .fold(EnvFilter::default(), EnvFilter::add_directive)
    }
}

/// Whether to write colour escape codes: only to a terminal, and never when `NO_COLOR` is
/// set to a non-empty value (<https://no-color.org>).
pub fn use_colour(stderr_is_terminal: bool, no_color: Option<&OsStr>) -> bool {
    stderr_is_terminal && no_color.is_none_or(OsStr::is_empty)
}

/// Installs the global subscriber, writing to standard error; with `tracer`, this crate's
/// spans are also exported ([`trace_export::start`] made it).
pub fn init(format: LogFormat, filter: LogFilter, tracer: Option<SdkTracer>) {
    let colour = use_colour(
        std::io::stderr().is_terminal(),
        std::env::var_os("NO_COLOR").as_deref(),
    );
    init_with_writer(format, filter, tracer, std::io::stderr, colour);
}

/// [`init`] writing the log lines to `writer` (with colour escape codes when `colour`):
/// the same subscriber, layers and spans, for a benchmark that must measure what the
/// service runs without filling its terminal.
pub fn init_with_writer<W>(
    format: LogFormat,
    filter: LogFilter,
    tracer: Option<SdkTracer>,
    writer: W,
    colour: bool,
) where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    subscriber(format, filter, tracer, writer, colour).init();
}

/// The subscriber [`init_with_writer`] installs.
///
/// The log filter is the outermost layer, on purpose: below the trace export's per-layer
/// filter (this crate's spans only), a filter's "never" for a dependency's `trace!` would
/// become "sometimes" on its way out through the layers without a filter of their own, and
/// every disabled `trace!` and `debug!` of h2, hyper and tonic would then be checked
/// against the directives on every call (a quarter of the data RPC's throughput on the
/// load benchmark). Outermost, its "never" stands.
fn subscriber<W>(
    format: LogFormat,
    filter: LogFilter,
    tracer: Option<SdkTracer>,
    writer: W,
    colour: bool,
) -> impl tracing::Subscriber + Send + Sync + 'static
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let ids = trace_ids::TraceIdsLayer::new(tracer.is_some());
    let otel = tracer.map(trace_export::layer);
    let logs = tracing_subscriber::fmt::layer().with_writer(writer);
    let logs = match format {
        LogFormat::Plain => logs
            .with_ansi(colour)
            .fmt_fields(plain::QuotedFields)
            .boxed(),
        LogFormat::Json => logs
            .with_ansi(false)
            .fmt_fields(JsonFields::new())
            .event_format(json::FlatJson)
            .boxed(),
    };
    tracing_subscriber::registry()
        .with(otel)
        .with(ids)
        .with(logs)
        .with(filter.into_env_filter())
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::telemetry::capture::Captured;

    fn logged_with(filter: &str) -> String {
        let out = Captured::default();
        let writer = out.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_env_filter(filter.parse::<LogFilter>().unwrap().into_env_filter())
            .with_ansi(false)
            .with_writer(writer)
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            tracing::info!(target: "tokio_cron_scheduler::job_scheduler", "Job creator created");
            tracing::warn!(target: "tokio_cron_scheduler::job_scheduler", "scheduler problem");
            tracing::info!(target: "radar_interrupcoes::server", "ours");
            tracing::debug!(target: "radar_interrupcoes::server", "our detail");
        });
        out.text()
    }

    #[test]
    fn dependencies_log_at_warn_unless_the_filter_names_them() {
        let text = logged_with("info");
        assert!(!text.contains("Job creator created"), "{text}");
        assert!(text.contains("scheduler problem"), "{text}");
        assert!(
            text.contains("ours") && !text.contains("our detail"),
            "{text}"
        );

        let text = logged_with("debug");
        assert!(!text.contains("Job creator created"), "{text}");
        assert!(text.contains("our detail"), "{text}");

        let text = logged_with("info,tokio_cron_scheduler=info");
        assert!(text.contains("Job creator created"), "{text}");
        let text = logged_with("tokio_cron_scheduler::job_scheduler=info,warn");
        assert!(text.contains("Job creator created"), "{text}");
        assert!(!text.contains("ours"), "{text}");
    }

    /// A dependency's `trace!` callsite (h2's), for asking a subscriber's interest in it.
    struct DependencyTrace;

    impl tracing::Callsite for DependencyTrace {
        fn set_interest(&self, _: tracing::subscriber::Interest) {}

        fn metadata(&self) -> &tracing::Metadata<'_> {
            &DEPENDENCY_TRACE
        }
    }

    static DEPENDENCY_CALLSITE: DependencyTrace = DependencyTrace;
    static DEPENDENCY_TRACE: tracing::Metadata<'static> = tracing::Metadata::new(
        "event h2/src/proto/streams/prioritize.rs",
        "h2::proto::streams::prioritize",
        tracing::Level::TRACE,
        None,
        None,
        None,
        tracing::field::FieldSet::new(&[], tracing::callsite::Identifier(&DEPENDENCY_CALLSITE)),
        tracing::metadata::Kind::EVENT,
    );

    #[test]
    fn a_disabled_dependency_callsite_stays_disabled_with_export_on() {
        use opentelemetry::trace::TracerProvider as _;
        use tracing::Subscriber as _;

        for tracer in [
            None,
            Some(
                opentelemetry_sdk::trace::SdkTracerProvider::builder()
                    .build()
                    .tracer("test"),
            ),
        ] {
            let exporting = tracer.is_some();
            let subscriber = subscriber(
                LogFormat::Json,
                "info".parse().unwrap(),
                tracer,
                std::io::sink,
                false,
            );
            // "sometimes" would check the directives at every h2 `trace!` of every call.
            assert!(
                subscriber.register_callsite(&DEPENDENCY_TRACE).is_never(),
                "export on: {exporting}"
            );
        }
    }

    #[test]
    fn colour_only_on_a_terminal_and_never_with_no_color() {
        assert!(use_colour(true, None));
        assert!(use_colour(true, Some(OsStr::new(""))));
        assert!(!use_colour(true, Some(OsStr::new("1"))));
        assert!(!use_colour(false, None));
    }
}
