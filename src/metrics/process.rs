//! The standard `process_*` metrics (resident and virtual memory, CPU time, open and
//! maximum file descriptors, threads, start time), under the names every Prometheus client
//! library writes them, so that memory can be sized from Prometheus and the usual
//! dashboards work. prometheus-client has no process collector of its own: this one reads
//! `/proc/self` at scrape time, as client_golang's does on Linux. Elsewhere (no `/proc`)
//! it writes nothing.

use std::fmt::Error;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::Unit;

/// Reads the process's figures from `/proc` on every scrape.
#[derive(Debug)]
pub(super) struct ProcessCollector;

/// One reading of the process's figures.
#[derive(Debug, Clone, PartialEq)]
struct Reading {
    cpu_seconds: f64,
    resident_bytes: u64,
    virtual_bytes: u64,
    threads: u64,
    start_time_seconds: f64,
    open_fds: Option<u64>,
    max_fds: Option<u64>,
}

/// The figures of `/proc/self/stat` (after the command name, which may hold blanks and
/// parentheses), with `/proc/stat`'s boot time for the start time.
fn parse_stat(
    stat: &str,
    boot_time_seconds: u64,
    ticks_per_second: u64,
    page_size: u64,
) -> Option<Reading> {
    let (_, after_name) = stat.rsplit_once(')')?;
    // Fields numbered as in proc(5); the text after the name starts at field 3 (state).
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let field = |n: usize| -> Option<u64> { fields.get(n - 3)?.parse().ok() };
    let ticks = ticks_per_second.max(1) as f64;
    Some(Reading {
        cpu_seconds: (field(14)? + field(15)?) as f64 / ticks,
        threads: field(20)?,
        start_time_seconds: boot_time_seconds as f64 + field(22)? as f64 / ticks,
        virtual_bytes: field(23)?,
        resident_bytes: field(24)?.saturating_mul(page_size),
        open_fds: None,
        max_fds: None,
    })
}

/// `btime` of `/proc/stat`: when the system booted, in seconds since the epoch.
fn boot_time(proc_stat: &str) -> Option<u64> {
    proc_stat
        .lines()
        .find_map(|line| line.strip_prefix("btime "))
        .and_then(|value| value.trim().parse().ok())
}

impl Reading {
    /// This process's figures now, or `None` without a readable `/proc`.
    fn of_this_process() -> Option<Reading> {
        let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
        let boot = boot_time(&std::fs::read_to_string("/proc/stat").ok()?)?;
        let page_size = u64::try_from(rustix::param::page_size()).unwrap_or(4096);
        let mut reading = parse_stat(
            &stat,
            boot,
            rustix::param::clock_ticks_per_second(),
            page_size,
        )?;
        reading.open_fds = std::fs::read_dir("/proc/self/fd")
            .ok()
            .map(|entries| entries.count() as u64);
        reading.max_fds = rustix::process::getrlimit(rustix::process::Resource::Nofile).current;
        Some(reading)
    }
}

fn gauge<N: prometheus_client::encoding::EncodeGaugeValue>(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    unit: Option<&Unit>,
    value: N,
) -> Result<(), Error> {
    let gauge = ConstGauge::new(value);
    gauge.encode(encoder.encode_descriptor(name, help, unit, gauge.metric_type())?)
}

impl Collector for ProcessCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), Error> {
        let Some(reading) = Reading::of_this_process() else {
            return Ok(());
        };
        // prometheus-client adds the unit to the name (and `_total` to the counter's
        // samples): these are client_golang's process_cpu_seconds_total,
        // process_resident_memory_bytes, and so on.
        let cpu = ConstCounter::new(reading.cpu_seconds);
        cpu.encode(encoder.encode_descriptor(
            "process_cpu",
            "Total user and system CPU time spent in seconds",
            Some(&Unit::Seconds),
            cpu.metric_type(),
        )?)?;
        let e = &mut encoder;
        gauge(
            e,
            "process_resident_memory",
            "Resident memory size in bytes",
            Some(&Unit::Bytes),
            reading.resident_bytes,
        )?;
        gauge(
            e,
            "process_virtual_memory",
            "Virtual memory size in bytes",
            Some(&Unit::Bytes),
            reading.virtual_bytes,
        )?;
        gauge(
            e,
            "process_start_time",
            "Start time of the process since unix epoch in seconds",
            Some(&Unit::Seconds),
            reading.start_time_seconds,
        )?;
        gauge(
            e,
            "process_threads",
            "Number of OS threads in the process",
            None,
            reading.threads,
        )?;
        if let Some(open) = reading.open_fds {
            gauge(
                e,
                "process_open_fds",
                "Number of open file descriptors",
                None,
                open,
            )?;
        }
        if let Some(max) = reading.max_fds {
            gauge(
                e,
                "process_max_fds",
                "Maximum number of open file descriptors",
                None,
                max,
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stat_line_is_read_by_field_number_even_with_a_tricky_command_name() {
        // proc(5) fields 3 to 24; the name holds blanks and a closing parenthesis.
        let stat = "4242 (radar (x) y) S 1 4242 4242 0 -1 4194560 900 0 0 0 \
                    250 150 0 0 20 0 7 0 123400 26214400 5120 18446744073709551615";
        let reading = parse_stat(stat, 1_700_000_000, 100, 4096).unwrap();
        assert_eq!(
            reading,
            Reading {
                cpu_seconds: 4.0,
                threads: 7,
                start_time_seconds: 1_700_000_000.0 + 1234.0,
                virtual_bytes: 26_214_400,
                resident_bytes: 5120 * 4096,
                open_fds: None,
                max_fds: None,
            }
        );
        assert_eq!(
            parse_stat("4242 (radar) S 1 2", 0, 100, 4096),
            None,
            "cut short"
        );
        assert_eq!(
            boot_time("cpu 1 2 3\nbtime 1700000000\nprocesses 9\n"),
            Some(1_700_000_000)
        );
        assert_eq!(boot_time("cpu 1 2 3\n"), None);
    }

    #[test]
    fn this_process_reads_as_alive_and_plausible() {
        let reading = Reading::of_this_process().expect("/proc on Linux");
        assert!(reading.resident_bytes > 1024 * 1024, "{reading:?}");
        assert!(
            reading.virtual_bytes >= reading.resident_bytes,
            "{reading:?}"
        );
        assert!(reading.threads >= 1, "{reading:?}");
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64();
        assert!(reading.start_time_seconds <= now + 1.0, "{reading:?}");
        assert!(reading.start_time_seconds > now - 86_400.0, "{reading:?}");
        let (open, max) = (reading.open_fds.unwrap(), reading.max_fds.unwrap());
        assert!(open >= 3 && open <= max, "{reading:?}");
    }
}
