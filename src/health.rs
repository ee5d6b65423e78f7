//! Readiness as a state machine: `grpc.health.v1` statuses derived from the cache and the
//! scheduler, published only when they change.

use std::collections::HashMap;
use std::time::Duration;

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tonic_health::ServingStatus;
use tonic_health::server::HealthReporter;

use crate::scheduler::SchedulerService;

/// Health name of the data service: SERVING while a snapshot is loaded (fresh or stale).
pub const INTERRUPCOES_SERVICE: &str = "radar.interrupcoes.v1.InterrupcoesService";
/// Health name of the scheduler admin: SERVING while the scheduler runs and is not stuck
/// (the liveness name).
pub const SCHEDULER_SERVICE: &str = "radar.scheduler.v1.SchedulerAdmin";
/// The overall health: SERVING when both are.
pub const OVERALL: &str = "";

/// Every health name the service publishes.
pub const NAMES: [&str; 3] = [INTERRUPCOES_SERVICE, SCHEDULER_SERVICE, OVERALL];

/// What the statuses are computed from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(clippy::struct_excessive_bools)] // four independent facts, each a watch channel
pub struct Inputs {
    /// A snapshot has loaded.
    pub snapshot_loaded: bool,
    /// The scheduler is firing cron ticks.
    pub scheduler_running: bool,
    /// A run has outlived its worst case, or cron ticks have stopped.
    pub scheduler_stuck: bool,
    /// Shutdown has begun: everything is NOT_SERVING from now on.
    pub shutting_down: bool,
}

/// A status as the protocol spells it (`SERVING`, `NOT_SERVING`), which grpcurl,
/// `/readyz` and the README show too: the logs use it, not the Rust variant's name.
pub fn status_name(status: ServingStatus) -> &'static str {
    match status {
        ServingStatus::Serving => "SERVING",
        ServingStatus::NotServing => "NOT_SERVING",
        ServingStatus::Unknown => "UNKNOWN",
    }
}

/// The status of each health name for `inputs`.
pub fn statuses(inputs: Inputs) -> [(&'static str, ServingStatus); 3] {
    let status = |serving: bool| {
        if serving && !inputs.shutting_down {
            ServingStatus::Serving
        } else {
            ServingStatus::NotServing
        }
    };
    let scheduler_ok = inputs.scheduler_running && !inputs.scheduler_stuck;
    [
        (INTERRUPCOES_SERVICE, status(inputs.snapshot_loaded)),
        (SCHEDULER_SERVICE, status(scheduler_ok)),
        (OVERALL, status(inputs.snapshot_loaded && scheduler_ok)),
    ]
}

/// Publishes statuses to tonic-health, skipping any that did not change, so `Watch`
/// clients never see duplicate messages.
pub struct HealthPublisher {
    reporter: HealthReporter,
    published: HashMap<&'static str, ServingStatus>,
}

impl HealthPublisher {
    /// Sets every name to NOT_SERVING (tonic-health starts `""` as SERVING).
    pub async fn new(reporter: HealthReporter) -> Self {
        for name in NAMES {
            reporter
                .set_service_status(name, ServingStatus::NotServing)
                .await;
        }
        let published = NAMES
            .into_iter()
            .map(|name| (name, ServingStatus::NotServing))
            .collect();
        Self {
            reporter,
            published,
        }
    }

    /// Ends every open `Watch` stream, after the last published status reaches it: each
    /// name's channel is replaced by a new one with the same status, and a stream whose
    /// channel is gone ends. `Check` keeps answering; a `Watch` opened later follows the
    /// new channel.
    pub async fn close_watches(&mut self) {
        for (name, status) in &self.published {
            self.reporter.clear_service_status(name).await;
            self.reporter.set_service_status(name, *status).await;
        }
    }

    /// Publishes the statuses for `inputs` that differ from the last published ones.
    pub async fn publish(&mut self, inputs: Inputs) {
        for (name, status) in statuses(inputs) {
            if self.published.insert(name, status) != Some(status) {
                tracing::info!(
                    service = name,
                    status = status_name(status),
                    "health status changed"
                );
                self.reporter.set_service_status(name, status).await;
            }
        }
    }
}

/// Keeps health in step with the cache and the scheduler until `shutdown`, then turns
/// everything NOT_SERVING, ends the open `Watch` streams (which would otherwise hold the
/// drain until the grace period) and returns (before the scheduler stops and the server
/// drains).
pub async fn run(
    mut publisher: HealthPublisher,
    mut loaded: watch::Receiver<bool>,
    mut scheduler_running: watch::Receiver<bool>,
    mut scheduler_stuck: watch::Receiver<bool>,
    shutdown: CancellationToken,
) {
    loop {
        let inputs = Inputs {
            snapshot_loaded: *loaded.borrow_and_update(),
            scheduler_running: *scheduler_running.borrow_and_update(),
            scheduler_stuck: *scheduler_stuck.borrow_and_update(),
            shutting_down: false,
        };
        publisher.publish(inputs).await;
        tokio::select! {
            changed = loaded.changed() => if changed.is_err() { break },
            changed = scheduler_running.changed() => if changed.is_err() { break },
            changed = scheduler_stuck.changed() => if changed.is_err() { break },
            () = shutdown.cancelled() => break,
        }
    }
    publisher
        .publish(Inputs {
            snapshot_loaded: false,
            scheduler_running: false,
            scheduler_stuck: false,
            shutting_down: true,
        })
        .await;
    publisher.close_watches().await;
}

/// Checks the scheduler for a stuck run or stopped ticks (often enough to notice within a
/// fraction of the worst case) and publishes the verdict on `stuck` until `shutdown`.
///
/// It runs on a thread of its own, not on the async runtime: what makes a run outlive its
/// worst case is typically a blocked runtime worker, and a task queued behind it would not
/// notice.
pub fn spawn_scheduler_watchdog(
    scheduler: SchedulerService,
    stuck: watch::Sender<bool>,
    shutdown: CancellationToken,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    // Without jobs nothing can be stuck but the ticks: the upper bound is often enough.
    let every = (scheduler.shortest_worst_case().unwrap_or(Duration::MAX) / 8)
        .clamp(Duration::from_millis(10), Duration::from_secs(5));
    std::thread::Builder::new()
        .name("scheduler-watchdog".to_owned())
        .spawn(move || {
            while !shutdown.is_cancelled() {
                std::thread::sleep(every);
                let reason = scheduler.stuck();
                let is_stuck = reason.is_some();
                if stuck.send_if_modified(|old| std::mem::replace(old, is_stuck) != is_stuck) {
                    if let Some(reason) = reason {
                        tracing::error!(%reason, "scheduler stuck: liveness NOT_SERVING");
                    } else {
                        tracing::info!("scheduler no longer stuck");
                    }
                }
            }
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn of(inputs: Inputs) -> Vec<ServingStatus> {
        statuses(inputs).iter().map(|(_, s)| *s).collect()
    }

    #[test]
    fn overall_serves_only_when_both_do_and_never_while_shutting_down() {
        use ServingStatus::{NotServing as N, Serving as S};
        let i = |snapshot_loaded, scheduler_running, shutting_down| Inputs {
            snapshot_loaded,
            scheduler_running,
            scheduler_stuck: false,
            shutting_down,
        };
        assert_eq!(of(i(false, false, false)), vec![N, N, N]);
        let stuck = Inputs {
            scheduler_stuck: true,
            ..i(true, true, false)
        };
        assert_eq!(of(stuck), vec![S, N, N]);
        assert_eq!(of(i(true, false, false)), vec![S, N, N]);
        assert_eq!(of(i(false, true, false)), vec![N, S, N]);
        assert_eq!(of(i(true, true, false)), vec![S, S, S]);
        assert_eq!(of(i(true, true, true)), vec![N, N, N]);
    }
}
