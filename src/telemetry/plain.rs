//! Fields of plain log lines as `name=value`, the value quoted (and escaped) whenever it
//! holds a blank, a quote, an `=` or a control character, whatever way it was recorded
//! (`%display`, `?debug` or a string): `warmup_cron="*/30 * * * *"`, `error="ORA-12541:
//! TNS:no listener"`, `items=218`.

use std::fmt;

use tracing::field::{Field, Visit};
use tracing_subscriber::field::{MakeVisitor, VisitFmt, VisitOutput};
use tracing_subscriber::fmt::format::Writer;

/// The field formatter of plain lines (events and spans).
#[derive(Debug, Clone, Copy, Default)]
pub struct QuotedFields;

impl<'w> MakeVisitor<Writer<'w>> for QuotedFields {
    type Visitor = QuotedVisitor<'w>;

    fn make_visitor(&self, writer: Writer<'w>) -> Self::Visitor {
        QuotedVisitor {
            writer,
            result: Ok(()),
            empty: true,
        }
    }
}

/// Writes one set of fields.
pub struct QuotedVisitor<'w> {
    writer: Writer<'w>,
    result: fmt::Result,
    empty: bool,
}

/// Whether a value must be quoted to be read back as one value.
fn needs_quotes(text: &str) -> bool {
    text.is_empty()
        || text
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '"' | '=' | '\\'))
}

impl QuotedVisitor<'_> {
    /// Writes `name=value` (the message bare), quoting the value when `quote` is set or the
    /// value needs it.
    fn write(&mut self, field: &Field, value: &str, quote: bool) {
        if self.result.is_err() || field.name().starts_with(super::json::OTEL_FIELD_PREFIX) {
            return;
        }
        let separator = if self.empty { "" } else { " " };
        self.empty = false;
        let name = field.name();
        self.result = (|| {
            if name == "message" {
                return write!(self.writer, "{separator}{value}");
            }
            if self.writer.has_ansi_escapes() {
                write!(
                    self.writer,
                    "{separator}\x1b[3m{name}\x1b[0m\x1b[2m=\x1b[0m"
                )?;
            } else {
                write!(self.writer, "{separator}{name}=")?;
            }
            if quote || needs_quotes(value) {
                write!(self.writer, "{value:?}")
            } else {
                self.writer.write_str(value)
            }
        })();
    }
}

impl Visit for QuotedVisitor<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        // Strings are always quoted, so that one that looks like a number reads as text.
        self.write(field, value, true);
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.write(field, &format!("{value:?}"), false);
    }
}

impl VisitOutput<fmt::Result> for QuotedVisitor<'_> {
    fn finish(self) -> fmt::Result {
        self.result
    }
}

impl VisitFmt for QuotedVisitor<'_> {
    fn writer(&mut self) -> &mut dyn fmt::Write {
        &mut self.writer
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::telemetry::capture::Captured;

    fn plain_line(emit: impl FnOnce()) -> String {
        let out = Captured::default();
        let writer = out.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_ansi(false)
            .fmt_fields(QuotedFields)
            .with_writer(writer)
            .finish();
        tracing::subscriber::with_default(subscriber, emit);
        out.text()
    }

    #[test]
    fn values_with_blanks_are_quoted_however_they_were_recorded() {
        let error = std::io::Error::other("ORA-12541: TNS:no listener");
        let path = std::path::Path::new("/srv/radar data/demo.sqlite");
        let text = plain_line(|| {
            let span = tracing::info_span!("job_run", job = "interrupcao_cache_warmup", run_id = 7);
            let _guard = span.enter();
            tracing::warn!(
                warmup_cron = "*/30 * * * *",
                error = %error,
                path = %path.display(),
                items = 218,
                transient = false,
                addr = %"127.0.0.1:50051",
                "job run failed"
            );
        });
        assert!(text.contains(r#"warmup_cron="*/30 * * * *""#), "{text}");
        assert!(
            text.contains(r#"error="ORA-12541: TNS:no listener""#),
            "{text}"
        );
        assert!(
            text.contains(r#"path="/srv/radar data/demo.sqlite""#),
            "{text}"
        );
        assert!(
            text.contains(" items=218 transient=false addr=127.0.0.1:50051"),
            "{text}"
        );
        assert!(
            text.contains(r#"job_run{job="interrupcao_cache_warmup" run_id=7}"#),
            "{text}"
        );
        assert!(text.contains(": job run failed warmup_cron="), "{text}");
    }

    #[test]
    fn quotes_and_control_characters_are_escaped() {
        let text = plain_line(|| tracing::info!(reason = %"a \"b\"\nc", "x"));
        assert!(text.contains(r#"reason="a \"b\"\nc""#), "{text}");
        assert_eq!(text.lines().count(), 1, "{text}");
    }

    #[test]
    fn otel_fields_stay_out_of_the_line() {
        let text = plain_line(|| {
            let span = tracing::info_span!(
                "rpc",
                method = "/x.Y/Z",
                otel.name = "x.Y/Z",
                otel.kind = "server"
            );
            let _span = span.enter();
            tracing::info!("inside");
        });
        assert!(text.contains(r#"rpc{method="/x.Y/Z"}"#), "{text}");
        assert!(!text.contains("otel"), "{text}");
    }
}
