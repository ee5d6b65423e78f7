//! The tracing subscriber: plain text for people, JSON for log pipelines.

use std::str::FromStr;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::filter::{Directive, ParseError};

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Plain,
    /// One JSON object per line, span fields included.
    Json,
}

/// A log filter in `tracing`'s EnvFilter syntax (`info`, `radar_interrupcoes=debug,warn`),
/// parsed once, when the settings are read.
#[derive(Debug, Clone)]
pub struct LogFilter(Vec<Directive>);

impl FromStr for LogFilter {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Self, ParseError> {
        s.split(',')
            .filter(|d| !d.trim().is_empty())
            .map(str::parse)
            .collect::<Result<_, _>>()
            .map(Self)
    }
}

impl LogFilter {
    fn into_env_filter(self) -> EnvFilter {
        self.0
            .into_iter()
            .fold(EnvFilter::default(), EnvFilter::add_directive)
    }
}

/// Installs the global subscriber, writing to standard error.
pub fn init(format: LogFormat, filter: LogFilter) {
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter.into_env_filter())
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Plain => builder.init(),
        LogFormat::Json => builder
            .json()
            .with_current_span(true)
            .with_span_list(true)
            .flatten_event(true)
            .init(),
    }
}
