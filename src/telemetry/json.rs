//! JSON log lines with the fields of every enclosing span at the top level, next to the
//! event's own: `{"timestamp":..,"level":"INFO","target":..,"span":"job_run:attempt:warmup",
//! "job":..,"run_id":..,"cache_key":..,"items":..,"message":..}`. An event field wins over a
//! span field of the same name, an inner span over an outer one. Inside an exported span
//! the line also carries `trace_id` and `span_id` (of the innermost exported span).

use std::fmt;

use chrono::{SecondsFormat, Utc};
use serde_json::{Map, Value};
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::{JsonFields, Writer};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormattedFields};
use tracing_subscriber::registry::LookupSpan;

/// The prefix of the span fields meant for the exporter only (`otel.name`, `otel.kind`).
pub(super) const OTEL_FIELD_PREFIX: &str = "otel.";

/// The event formatter of JSON lines. Span fields must be recorded with [`JsonFields`].
#[derive(Debug, Clone, Copy, Default)]
pub struct FlatJson;

impl<S> FormatEvent<S, JsonFields> for FlatJson
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, JsonFields>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let meta = event.metadata();
        let mut line = Map::new();
        line.insert(
            "timestamp".into(),
            Utc::now()
                .to_rfc3339_opts(SecondsFormat::Micros, true)
                .into(),
        );
        line.insert("level".into(), meta.level().as_str().into());
        line.insert("target".into(), meta.target().into());
        if let Some(scope) = ctx.event_scope() {
            let mut names = Vec::new();
            for span in scope.from_root() {
                names.push(span.name());
                let extensions = span.extensions();
                let fields = extensions
                    .get::<FormattedFields<JsonFields>>()
                    .and_then(|f| serde_json::from_str::<Map<String, Value>>(&f.fields).ok());
                // `otel.*` fields name and classify the exported span; they say nothing
                // a reader of the line needs.
                line.extend(
                    fields
                        .into_iter()
                        .flatten()
                        .filter(|(name, _)| !name.starts_with(OTEL_FIELD_PREFIX)),
                );
            }
            line.insert("span".into(), names.join(":").into());
            if let Some(ids) = super::trace_ids::innermost(ctx.event_scope().into_iter().flatten())
            {
                line.insert("trace_id".into(), ids.trace_id.into());
                line.insert("span_id".into(), ids.span_id.into());
            }
        }
        event.record(&mut FieldsVisitor(&mut line));
        let text = serde_json::to_string(&line).map_err(|_| fmt::Error)?;
        writeln!(writer, "{text}")
    }
}

/// Records an event's fields into the line, typed: numbers and booleans as JSON numbers
/// and booleans, everything else as text.
struct FieldsVisitor<'a>(&'a mut Map<String, Value>);

impl FieldsVisitor<'_> {
    fn put(&mut self, field: &Field, value: Value) {
        self.0.insert(field.name().to_owned(), value);
    }
}

impl Visit for FieldsVisitor<'_> {
    fn record_f64(&mut self, field: &Field, value: f64) {
        let value = serde_json::Number::from_f64(value).map_or(Value::Null, Value::Number);
        self.put(field, value);
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.put(field, value.into());
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.put(field, value.into());
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.put(field, value.into());
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.put(field, value.into());
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.put(field, format!("{value:?}").into());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::telemetry::capture::Captured;
    use tracing::Instrument;

    /// A subscriber with the JSON format `init` installs, and what it writes.
    fn json_lines() -> (impl Subscriber + Send + Sync, Captured) {
        let out = Captured::default();
        let subscriber = tracing_subscriber::fmt()
            .fmt_fields(JsonFields::new())
            .event_format(FlatJson)
            .with_writer(out.clone())
            .finish();
        (subscriber, out)
    }

    #[test]
    fn span_fields_are_at_the_top_level() {
        let (subscriber, out) = json_lines();
        tracing::subscriber::with_default(subscriber, || {
            let run = tracing::info_span!("job_run", job = "interrupcao_cache_warmup", run_id = 3);
            let _run = run.enter();
            let warmup = tracing::info_span!("warmup", cache_key = "interrupcoes:ativas:v1");
            let _warmup = warmup.enter();
            tracing::info!(items = 218, rejected = 0, error = %"x y", "snapshot replaced");
        });
        let text = out.text();
        let v: serde_json::Value = serde_json::from_str(text.trim()).unwrap();
        assert_eq!(v["job"], "interrupcao_cache_warmup", "{text}");
        assert_eq!(v["run_id"], 3, "{text}");
        assert_eq!(v["cache_key"], "interrupcoes:ativas:v1", "{text}");
        assert_eq!(v["items"], 218, "{text}");
        assert_eq!(v["error"], "x y", "{text}");
        assert_eq!(v["message"], "snapshot replaced", "{text}");
        assert_eq!(v["level"], "INFO", "{text}");
        assert_eq!(v["span"], "job_run:warmup", "{text}");
        assert!(
            v.get("spans").is_none() && v.get("fields").is_none(),
            "{text}"
        );
    }

    #[tokio::test]
    async fn instrumented_futures_keep_their_span_fields() {
        let (subscriber, out) = json_lines();
        let _default = tracing::subscriber::set_default(subscriber);
        async { tracing::info!("inside") }
            .instrument(tracing::info_span!("rpc", method = "/x.Y/Z"))
            .await;
        let v: serde_json::Value = serde_json::from_str(out.text().trim()).unwrap();
        assert_eq!(v["method"], "/x.Y/Z");
    }

    #[test]
    fn otel_fields_stay_out_of_the_line() {
        let (subscriber, out) = json_lines();
        tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!(
                "rpc",
                method = "/x.Y/Z",
                otel.name = "x.Y/Z",
                otel.kind = "server"
            );
            let _span = span.enter();
            tracing::info!("inside");
        });
        let v: serde_json::Value = serde_json::from_str(out.text().trim()).unwrap();
        assert_eq!(v["method"], "/x.Y/Z");
        assert!(
            v.get("otel.name").is_none() && v.get("otel.kind").is_none(),
            "{v}"
        );
    }
}
