//! The span processor: finished spans go into a bounded queue, and a task of their own
//! sends them to the collector in batches.
//!
//! A call or a warm-up only ever does a `try_send` on the queue: a collector that is down
//! or slow fills the queue, and what does not fit is dropped and counted, never waited
//! for. The SDK's own batch processor drops silently (one log line at shutdown), so drops
//! are counted here, by reason, in counters that the metrics registry exposes.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use opentelemetry::Context;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{Span, SpanData, SpanExporter, SpanProcessor};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

/// Bounds of the queue and the batches.
#[derive(Debug, Clone, Copy)]
pub struct QueueSettings {
    /// Spans waiting for export at most (the SDK's default, 2048).
    pub capacity: usize,
    /// Spans per export call at most (the SDK's default, 512).
    pub batch: usize,
    /// How long a span waits for a batch to fill (the SDK's default, 5 s).
    pub delay: Duration,
    /// How long one export call may take before its spans count as failed.
    pub export_timeout: Duration,
}

impl Default for QueueSettings {
    fn default() -> Self {
        Self {
            capacity: 2048,
            batch: 512,
            delay: Duration::from_secs(5),
            export_timeout: Duration::from_secs(10),
        }
    }
}

/// Spans that never reached the collector, by reason. Clones share the counts.
#[derive(Debug, Clone, Default)]
pub struct SpanDrops(Arc<DropCounts>);

#[derive(Debug, Default)]
struct DropCounts {
    queue_full: AtomicU64,
    export_failed: AtomicU64,
}

impl SpanDrops {
    /// Spans dropped because the queue was full (the collector is slower than the
    /// service, or down).
    pub fn queue_full(&self) -> u64 {
        self.0.queue_full.load(Ordering::Relaxed)
    }

    /// Spans dropped because the collector refused an export or did not answer in time.
    pub fn export_failed(&self) -> u64 {
        self.0.export_failed.load(Ordering::Relaxed)
    }

    /// Every span dropped so far.
    pub fn total(&self) -> u64 {
        self.queue_full() + self.export_failed()
    }
}

/// The process's drop counts: the trace pipeline is process-wide (one global subscriber),
/// and the metrics registry reads them at scrape time.
pub fn span_drops() -> &'static SpanDrops {
    static DROPS: LazyLock<SpanDrops> = LazyLock::new(SpanDrops::default);
    &DROPS
}

/// Requests to the export task that must not be lost when the span queue is full.
enum Control {
    /// Export everything queued so far, then answer.
    Flush(oneshot::Sender<()>),
}

/// The [`SpanProcessor`] half: what the SDK calls when a span ends.
#[derive(Debug)]
pub struct QueuedSpanProcessor {
    spans: mpsc::Sender<SpanData>,
    closed: AtomicBool,
    drops: SpanDrops,
}

/// The task half: flushes on request, and ends when the processor is dropped.
#[derive(Debug)]
pub struct ExportTask {
    control: mpsc::UnboundedSender<Control>,
    task: JoinHandle<()>,
}

/// Builds the processor and spawns its export task on the current Tokio runtime.
pub fn spawn<E>(
    mut exporter: E,
    resource: &Resource,
    settings: QueueSettings,
    drops: SpanDrops,
) -> (QueuedSpanProcessor, ExportTask)
where
    E: SpanExporter + 'static,
{
    // The SDK gives the resource to its processors, which hand it to their exporter; this
    // processor's exporter lives in the task, so it gets the resource before it moves.
    exporter.set_resource(resource);
    let (spans_tx, spans_rx) = mpsc::channel(settings.capacity.max(1));
    let (control_tx, control_rx) = mpsc::unbounded_channel();
    let task = tokio::spawn(run(exporter, spans_rx, control_rx, settings, drops.clone()));
    (
        QueuedSpanProcessor {
            spans: spans_tx,
            closed: AtomicBool::new(false),
            drops,
        },
        ExportTask {
            control: control_tx,
            task,
        },
    )
}

impl SpanProcessor for QueuedSpanProcessor {
    fn on_start(&self, _span: &mut Span, _cx: &Context) {}

    fn on_end(&self, span: SpanData) {
        if !span.span_context.is_sampled() {
            return;
        }
        if self.closed.load(Ordering::Relaxed) || self.spans.try_send(span).is_err() {
            self.drops.0.queue_full.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Spans are flushed by [`ExportTask::flush`], which can be awaited: a blocking wait
    /// here would hold a runtime thread.
    fn force_flush(&self) -> OTelSdkResult {
        Ok(())
    }

    /// Stops taking spans; the task exports what it holds when [`ExportTask::finish`] asks.
    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        self.closed.store(true, Ordering::Relaxed);
        Ok(())
    }

    fn set_resource(&mut self, _resource: &Resource) {}
}

impl ExportTask {
    /// Exports every span queued so far; false when `within` ran out first (or the task
    /// has ended).
    pub async fn flush(&self, within: Duration) -> bool {
        let (done_tx, done_rx) = oneshot::channel();
        if self.control.send(Control::Flush(done_tx)).is_err() {
            return false;
        }
        matches!(tokio::time::timeout(within, done_rx).await, Ok(Ok(())))
    }

    /// Flushes within `within`, then stops the task.
    pub async fn finish(self, within: Duration) -> bool {
        let flushed = self.flush(within).await;
        self.task.abort();
        flushed
    }
}

/// Collects spans into batches and exports a batch when it is full, when the oldest span
/// in it has waited `delay`, or on a flush request.
async fn run<E: SpanExporter>(
    exporter: E,
    mut spans: mpsc::Receiver<SpanData>,
    mut control: mpsc::UnboundedReceiver<Control>,
    settings: QueueSettings,
    drops: SpanDrops,
) {
    let mut batch = Vec::with_capacity(settings.batch);
    let mut failing = false;
    let mut tick = tokio::time::interval(settings.delay);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            biased;
            request = control.recv() => {
                let Some(Control::Flush(done)) = request else { break };
                while let Ok(span) = spans.try_recv() {
                    batch.push(span);
                    if batch.len() >= settings.batch {
                        export(&exporter, &mut batch, &settings, &drops, &mut failing).await;
                    }
                }
                export(&exporter, &mut batch, &settings, &drops, &mut failing).await;
                let _ = done.send(());
            }
            span = spans.recv() => {
                let Some(span) = span else { break };
                batch.push(span);
                if batch.len() >= settings.batch {
                    export(&exporter, &mut batch, &settings, &drops, &mut failing).await;
                }
            }
            _ = tick.tick() => export(&exporter, &mut batch, &settings, &drops, &mut failing).await,
        }
    }
    export(&exporter, &mut batch, &settings, &drops, &mut failing).await;
}

/// Exports `batch` (emptying it); a failure counts its spans as dropped. The first failure
/// after a success is logged, and the recovery, so a collector that is down writes two
/// lines, not one per batch.
async fn export<E: SpanExporter>(
    exporter: &E,
    batch: &mut Vec<SpanData>,
    settings: &QueueSettings,
    drops: &SpanDrops,
    failing: &mut bool,
) {
    if batch.is_empty() {
        return;
    }
    let spans = std::mem::take(batch);
    let count = spans.len() as u64;
    let error = match tokio::time::timeout(settings.export_timeout, exporter.export(spans)).await {
        Ok(Ok(())) => None,
        Ok(Err(e)) => Some(e.to_string()),
        Err(_) => Some(format!(
            "no answer within {} s",
            settings.export_timeout.as_secs()
        )),
    };
    match error {
        None if *failing => {
            *failing = false;
            tracing::info!(dropped_total = drops.total(), "trace export works again");
        }
        None => {}
        Some(error) => {
            drops.0.export_failed.fetch_add(count, Ordering::Relaxed);
            if !*failing {
                *failing = true;
                tracing::warn!(
                    %error,
                    spans = count,
                    "trace export failed; spans are dropped and counted until it works again"
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::trace::{Tracer, TracerProvider};
    use opentelemetry_sdk::trace::SdkTracerProvider;
    use std::sync::Mutex;
    use std::sync::atomic::AtomicUsize;

    type Exported = Arc<Mutex<Vec<SpanData>>>;

    /// An exporter that keeps what it is given, or fails, or hangs.
    #[derive(Debug, Clone, Default)]
    struct Recorder {
        kept: Exported,
        fail: Arc<AtomicBool>,
        hang: Arc<AtomicBool>,
        calls: Arc<AtomicUsize>,
    }

    impl SpanExporter for Recorder {
        async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
            self.calls.fetch_add(1, Ordering::SeqCst);
            if self.hang.load(Ordering::SeqCst) {
                std::future::pending::<()>().await;
            }
            if self.fail.load(Ordering::SeqCst) {
                return Err(opentelemetry_sdk::error::OTelSdkError::InternalFailure(
                    "connection refused".into(),
                ));
            }
            self.kept.lock().unwrap().extend(batch);
            Ok(())
        }
    }

    fn provider(
        recorder: &Recorder,
        settings: QueueSettings,
    ) -> (SdkTracerProvider, ExportTask, SpanDrops) {
        let drops = SpanDrops::default();
        let resource = Resource::builder_empty().build();
        let (processor, task) = spawn(recorder.clone(), &resource, settings, drops.clone());
        let provider = SdkTracerProvider::builder()
            .with_span_processor(processor)
            .build();
        (provider, task, drops)
    }

    fn end_spans(provider: &SdkTracerProvider, n: usize) {
        let tracer = provider.tracer("test");
        for i in 0..n {
            tracer.in_span(format!("span {i}"), |_| {});
        }
    }

    #[tokio::test]
    async fn a_flush_exports_what_is_queued_in_batches() {
        let recorder = Recorder::default();
        let settings = QueueSettings {
            batch: 4,
            delay: Duration::from_secs(3600),
            ..QueueSettings::default()
        };
        let (provider, task, drops) = provider(&recorder, settings);
        end_spans(&provider, 10);
        assert!(task.flush(Duration::from_secs(10)).await);
        assert_eq!(recorder.kept.lock().unwrap().len(), 10);
        // 4 + 4 + 2: never more than a batch per call.
        assert_eq!(recorder.calls.load(Ordering::SeqCst), 3);
        assert_eq!(drops.total(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn a_partial_batch_goes_out_after_the_delay() {
        let recorder = Recorder::default();
        let (provider, _task, _) = provider(&recorder, QueueSettings::default());
        end_spans(&provider, 3);
        // Paused time advances to the next timer whenever the runtime is idle.
        for _ in 0..100 {
            if recorder.kept.lock().unwrap().len() == 3 {
                return;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        panic!("the partial batch was not exported after the delay");
    }

    #[tokio::test]
    async fn a_full_queue_drops_and_counts_without_blocking_the_caller() {
        let recorder = Recorder::default();
        recorder.hang.store(true, Ordering::SeqCst);
        let settings = QueueSettings {
            capacity: 5,
            batch: 1,
            delay: Duration::from_secs(3600),
            ..QueueSettings::default()
        };
        let (provider, _task, drops) = provider(&recorder, settings);
        // The task takes one span and hangs exporting it; five more fill the queue.
        end_spans(&provider, 1);
        while recorder.calls.load(Ordering::SeqCst) == 0 {
            tokio::task::yield_now().await;
        }
        end_spans(&provider, 20);
        assert_eq!(drops.queue_full(), 15);
        assert_eq!(drops.export_failed(), 0);
    }

    #[tokio::test]
    async fn failed_exports_count_their_spans_and_recovery_resumes_export() {
        let recorder = Recorder::default();
        recorder.fail.store(true, Ordering::SeqCst);
        let (provider, task, drops) = provider(&recorder, QueueSettings::default());
        end_spans(&provider, 7);
        assert!(task.flush(Duration::from_secs(10)).await);
        assert_eq!(drops.export_failed(), 7);
        recorder.fail.store(false, Ordering::SeqCst);
        end_spans(&provider, 2);
        assert!(task.flush(Duration::from_secs(10)).await);
        assert_eq!(recorder.kept.lock().unwrap().len(), 2);
        assert_eq!(drops.total(), 7);
    }

    #[tokio::test(start_paused = true)]
    async fn an_export_that_hangs_counts_as_failed_after_its_timeout() {
        let recorder = Recorder::default();
        recorder.hang.store(true, Ordering::SeqCst);
        let (provider, task, drops) = provider(&recorder, QueueSettings::default());
        end_spans(&provider, 2);
        assert!(task.flush(Duration::from_secs(60)).await);
        assert_eq!(drops.export_failed(), 2);
    }

    #[tokio::test]
    async fn unsampled_spans_are_not_queued() {
        let recorder = Recorder::default();
        let drops = SpanDrops::default();
        let (processor, task) = spawn(
            recorder.clone(),
            &Resource::builder_empty().build(),
            QueueSettings::default(),
            drops.clone(),
        );
        let provider = SdkTracerProvider::builder()
            .with_span_processor(processor)
            .with_sampler(opentelemetry_sdk::trace::Sampler::AlwaysOff)
            .build();
        end_spans(&provider, 3);
        assert!(task.flush(Duration::from_secs(10)).await);
        assert!(recorder.kept.lock().unwrap().is_empty());
        assert_eq!(drops.total(), 0);
        provider.shutdown().unwrap();
        assert!(task.finish(Duration::from_secs(10)).await);
    }
}
