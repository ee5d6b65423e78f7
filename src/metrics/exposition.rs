//! The two exposition formats: OpenMetrics (what prometheus-client writes) and the classic
//! Prometheus text format 0.0.4 (what a scraper gets unless it asks for OpenMetrics).

/// `Content-Type` of the OpenMetrics text format.
pub const OPENMETRICS_CONTENT_TYPE: &str =
    "application/openmetrics-text; version=1.0.0; charset=utf-8";
/// `Content-Type` of the Prometheus text format.
pub const TEXT_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Which exposition format to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// OpenMetrics 1.0 text.
    OpenMetrics,
    /// Prometheus text 0.0.4.
    Text,
}

impl Format {
    /// OpenMetrics when the `Accept` header asks for it, the classic text otherwise.
    pub fn negotiate(accept: Option<&str>) -> Self {
        match accept {
            Some(accept) if accept.contains("application/openmetrics-text") => Format::OpenMetrics,
            _ => Format::Text,
        }
    }

    /// The `Content-Type` of this format.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::OpenMetrics => OPENMETRICS_CONTENT_TYPE,
            Format::Text => TEXT_CONTENT_TYPE,
        }
    }
}

/// Turns OpenMetrics text into `format`. For the classic format: counters are named with
/// their `_total` suffix in `# TYPE`/`# HELP` (as their samples are), and the OpenMetrics-only
/// lines (`# UNIT`, `# EOF`) are dropped.
pub(super) fn render(openmetrics: String, format: Format) -> String {
    if format == Format::OpenMetrics {
        return openmetrics;
    }
    let counters: Vec<&str> = openmetrics
        .lines()
        .filter_map(|line| line.strip_prefix("# TYPE "))
        .filter_map(|rest| rest.strip_suffix(" counter"))
        .collect();
    let mut out = String::with_capacity(openmetrics.len() + counters.len() * 12);
    for line in openmetrics.lines() {
        if line == "# EOF" || line.starts_with("# UNIT ") {
            continue;
        }
        let renamed = ["# TYPE ", "# HELP "].iter().find_map(|prefix| {
            let rest = line.strip_prefix(prefix)?;
            let (name, tail) = rest.split_once(' ')?;
            counters
                .contains(&name)
                .then(|| format!("{prefix}{name}_total {tail}"))
        });
        match renamed {
            Some(line) => out.push_str(&line),
            None => out.push_str(line),
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const OPENMETRICS: &str = "# HELP radar_job_runs Finished runs.\n\
        # TYPE radar_job_runs counter\n\
        radar_job_runs_total{job=\"w\"} 2\n\
        # HELP radar_snapshot_age_seconds Age.\n\
        # TYPE radar_snapshot_age_seconds gauge\n\
        # UNIT radar_snapshot_age_seconds seconds\n\
        radar_snapshot_age_seconds 4.5\n\
        # EOF\n";

    #[test]
    fn the_classic_format_names_counters_with_total_and_has_no_openmetrics_lines() {
        let text = render(OPENMETRICS.to_owned(), Format::Text);
        assert_eq!(
            text,
            "# HELP radar_job_runs_total Finished runs.\n\
             # TYPE radar_job_runs_total counter\n\
             radar_job_runs_total{job=\"w\"} 2\n\
             # HELP radar_snapshot_age_seconds Age.\n\
             # TYPE radar_snapshot_age_seconds gauge\n\
             radar_snapshot_age_seconds 4.5\n"
        );
        assert_eq!(
            render(OPENMETRICS.to_owned(), Format::OpenMetrics),
            OPENMETRICS
        );
    }

    #[test]
    fn openmetrics_only_when_asked() {
        assert_eq!(Format::negotiate(None), Format::Text);
        assert_eq!(Format::negotiate(Some("text/plain")), Format::Text);
        assert_eq!(
            Format::negotiate(Some(
                "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5"
            )),
            Format::OpenMetrics
        );
    }
}
