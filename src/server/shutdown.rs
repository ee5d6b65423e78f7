//! The shutdown sequence: health NOT_SERVING, the scheduler stopped, still answering for
//! the drain delay so endpoints can be updated, then the listeners closed and the calls in
//! flight drained within the grace period, and the spans still queued exported within
//! what is left of it.

use std::future::Future;
use std::time::Duration;

use anyhow::Context;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::listeners::HttpServer;
use crate::scheduler::SchedulerService;
use crate::telemetry::TraceExport;

/// The gRPC server's task (it ends once `drain` is cancelled and its connections closed).
pub(super) type GrpcServer = JoinHandle<()>;

/// A token cancelled once `shutdown` resolves.
pub(super) fn on(shutdown: impl Future<Output = ()> + Send + 'static) -> CancellationToken {
    let stopping = CancellationToken::new();
    tokio::spawn({
        let stopping = stopping.clone();
        async move {
            shutdown.await;
            tracing::info!("shutting down: health NOT_SERVING, then the scheduler, then drain");
            stopping.cancel();
        }
    });
    stopping
}

/// Everything the sequence stops, and its two delays.
pub(super) struct Running {
    /// The gRPC server.
    pub server: GrpcServer,
    /// The HTTP servers.
    pub http_servers: Vec<HttpServer>,
    /// The health task (ends once `stopping` is cancelled, NOT_SERVING published).
    pub health_task: JoinHandle<()>,
    /// The scheduler.
    pub scheduler: SchedulerService,
    /// The start-up warm-up loop.
    pub warm_up: JoinHandle<()>,
    /// Cancelled by the shutdown signal.
    pub stopping: CancellationToken,
    /// Cancelled to close the listeners and drain.
    pub drain: CancellationToken,
    /// How long NOT_SERVING is answered before the listeners close.
    pub drain_delay: Duration,
    /// How long the calls in flight get once the listeners are closed.
    pub grace: Duration,
    /// Trace export, flushed last (the drain's own spans included).
    pub traces: Option<TraceExport>,
}

impl Running {
    /// Waits for the shutdown signal (or the gRPC server's failure), then stops everything.
    pub(super) async fn until_stopped(mut self) -> anyhow::Result<()> {
        tokio::select! {
            result = &mut self.server => {
                self.stopping.cancel();
                self.drain.cancel(); // the HTTP servers stop with it
                let _ = self.scheduler.stop().await;
                result.context("server task")?;
                anyhow::bail!("the gRPC server stopped on its own");
            }
            () = self.stopping.cancelled() => {}
        }
        let _ = (&mut self.health_task).await;
        if let Err(e) = self.scheduler.stop().await {
            tracing::warn!(error = %e, "stopping the scheduler failed");
        }
        self.warm_up.abort();
        if !self.drain_delay.is_zero() {
            tracing::info!(
                drain_delay_ms = u64::try_from(self.drain_delay.as_millis()).unwrap_or(u64::MAX),
                "NOT_SERVING published: still answering until endpoints are updated"
            );
            tokio::select! {
                () = tokio::time::sleep(self.drain_delay) => {}
                result = &mut self.server => {
                    result.context("server task")?;
                    anyhow::bail!("the gRPC server stopped on its own");
                }
            }
        }
        self.drain().await
    }

    /// Closes the listeners and waits for the calls in flight until the grace period ends,
    /// then closes what is left.
    async fn drain(self) -> anyhow::Result<()> {
        tracing::info!("closing the listener and draining the calls in flight");
        self.drain.cancel();
        let deadline = tokio::time::Instant::now() + self.grace;
        for (name, mut task) in self.http_servers {
            match tokio::time::timeout_at(deadline, &mut task).await {
                Ok(Ok(Ok(()))) => tracing::info!(server = name, "HTTP server stopped"),
                Ok(Ok(Err(e))) => tracing::error!(server = name, error = %e, "HTTP server failed"),
                Ok(Err(e)) => tracing::error!(server = name, error = %e, "HTTP server task failed"),
                Err(_) => {
                    tracing::warn!(server = name, "grace period over: closing its connections");
                    task.abort();
                }
            }
        }
        let mut server = self.server;
        let served = if let Ok(result) = tokio::time::timeout_at(deadline, &mut server).await {
            result.context("server task")
        } else {
            tracing::warn!(
                grace_secs = self.grace.as_secs(),
                "grace period over: closing the remaining connections"
            );
            server.abort();
            Ok(())
        };
        if let Some(traces) = self.traces {
            flush_traces(traces, deadline).await;
        }
        served?;
        tracing::info!("stopped");
        Ok(())
    }
}

/// Exports the spans still queued, within what is left of the grace period (at least a
/// moment, so that a drain that used it all still sends the calls' last spans).
async fn flush_traces(traces: TraceExport, deadline: tokio::time::Instant) {
    let within = deadline
        .saturating_duration_since(tokio::time::Instant::now())
        .max(FLUSH_AT_LEAST);
    let dropped = traces.drops().total();
    if traces.shutdown(within).await {
        tracing::info!(spans_dropped = dropped, "trace export flushed");
    } else {
        tracing::warn!(
            within_ms = u64::try_from(within.as_millis()).unwrap_or(u64::MAX),
            "trace export not flushed in time: the spans still queued are lost"
        );
    }
}

/// The shortest flush: enough for one export to a collector beside the service.
const FLUSH_AT_LEAST: Duration = Duration::from_millis(500);
