//! Conversions between domain values and their proto messages.

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::domain::InterrupcaoAtiva;
use crate::jobs::REJECTED_FACT;
use crate::proto::interrupcoes::v1 as pb;
use crate::proto::scheduler::v1 as sched_pb;
use crate::scheduler::{JobStatus, RunOutcome, RunRecord};

pub(super) fn timestamp(t: DateTime<Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: t.timestamp(),
        nanos: t.timestamp_subsec_nanos() as i32,
    }
}

pub(super) fn duration(d: Duration) -> prost_types::Duration {
    prost_types::Duration {
        seconds: i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        nanos: d.subsec_nanos() as i32,
    }
}

pub(super) fn interrupcao(item: &InterrupcaoAtiva) -> pb::InterrupcaoFornecimento {
    pb::InterrupcaoFornecimento {
        ide_conjunto_unidade_consumidora: item.ide_conjunto,
        ide_municipio: item.ide_municipio,
        qtd_ucs_atendidas: item.qtd_ucs_atendidas,
        qtd_ocorrencia_programada: item.qtd_ocorrencia_programada,
        qtd_ocorrencia_nao_programada: item.qtd_ocorrencia_nao_programada,
    }
}

pub(super) fn run(record: &RunRecord) -> sched_pb::JobRun {
    let outcome = match record.outcome {
        RunOutcome::Succeeded => sched_pb::RunOutcome::Succeeded,
        RunOutcome::Partial => sched_pb::RunOutcome::Partial,
        RunOutcome::Failed => sched_pb::RunOutcome::Failed,
        RunOutcome::TimedOut => sched_pb::RunOutcome::TimedOut,
        RunOutcome::Panicked => sched_pb::RunOutcome::Panicked,
    };
    sched_pb::JobRun {
        run_id: record.run_id,
        trigger: record.trigger.as_str().to_owned(),
        started_at: Some(timestamp(record.started_at)),
        finished_at: Some(timestamp(record.finished_at)),
        duration: Some(duration(record.duration)),
        outcome: outcome.into(),
        error: record.error.clone().unwrap_or_default(),
        items: record.report.count,
        attempts: record.attempts,
        rejected: record
            .report
            .fact(REJECTED_FACT)
            .and_then(|v| v.parse().ok())
            .unwrap_or_default(),
        facts: record
            .report
            .facts
            .iter()
            .map(|(name, value)| ((*name).to_owned(), value.clone()))
            .collect(),
    }
}

pub(super) fn job_status(status: &JobStatus) -> sched_pb::JobStatus {
    sched_pb::JobStatus {
        name: status.name.clone(),
        cron: status.cron.clone(),
        time_zone: status.time_zone.clone(),
        next_run: status.next_run.map(timestamp),
        running: status.running,
        last_run: status.stats.last_run.as_ref().map(run),
        consecutive_failures: status.stats.consecutive_failures,
        total_runs: status.stats.total_runs,
        total_failures: status.stats.total_failures,
        skipped_ticks: status.stats.skipped_ticks,
        last_success_at: status.stats.last_success_at.map(timestamp),
    }
}
