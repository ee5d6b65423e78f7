//! Conversions between domain values and their proto messages.

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::answer::Answer;
use crate::domain::InterrupcaoAtiva;
use crate::proto::interrupcoes::v1 as pb;
use crate::proto::scheduler::v1 as sched_pb;
use crate::scheduler::{FailedStep, FailureKind, JobStatus, RunOutcome, RunRecord};

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
        RunOutcome::Degraded => sched_pb::RunOutcome::Degraded,
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
        error: record
            .error
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default(),
        items: record.report.count,
        attempts: record.attempts,
        scheduled_at: record.scheduled_at.map(timestamp),
        degraded: record.report.degraded.as_ref().map(failed_step),
        rejected: record.report.rejected.unwrap_or_default(),
        facts: record
            .report
            .shown_facts()
            .map(|(name, value)| (name.to_owned(), value))
            .collect(),
    }
}

fn failed_step(failed: &FailedStep) -> sched_pb::FailedStep {
    let kind = match failed.error.kind {
        FailureKind::Transient => sched_pb::FailureKind::Transient,
        FailureKind::Permanent => sched_pb::FailureKind::Permanent,
        FailureKind::InvalidInput => sched_pb::FailureKind::InvalidInput,
    };
    sched_pb::FailedStep {
        step: failed.step.to_owned(),
        kind: kind.into(),
        codes: failed.error.codes.clone(),
        error: failed.error.message.clone(),
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

/// ANEEL's answer: the snapshot's items, or the error answer once it is older than the
/// hard limit. It depends only on the snapshot and on whether it has expired.
pub(super) fn resposta(answer: &Answer) -> pb::QuantitativoInterrupcoesAtivas {
    pb::QuantitativoInterrupcoesAtivas {
        idc_status_requisicao: answer.idc_status_requisicao(),
        email_indisponibilidade: answer.email_indisponibilidade.clone(),
        mensagem: answer.mensagem(),
        interrupcao_fornecimento: answer.items().iter().map(interrupcao).collect(),
    }
}

/// The fields of the answer's metadata that depend only on its snapshot (for a past answer,
/// the stored snapshot it was read from): the same at every age and every moment asked.
/// The others are [`call_metadata`]'s; each field is set by exactly one of the two.
pub(super) fn snapshot_metadata(answer: &Answer) -> pb::SnapshotMetadata {
    let snapshot = &answer.view.snapshot;
    pb::SnapshotMetadata {
        collected_at: Some(timestamp(snapshot.collected_at)),
        source: snapshot.source.clone(),
        item_count: u32::try_from(snapshot.items.len()).unwrap_or(u32::MAX),
        rejected_rows: u32::try_from(snapshot.rejected.len()).unwrap_or(u32::MAX),
        missing_pairs: answer.missing_pairs(),
        instance: snapshot.instance.clone(),
        snapshot_id: answer
            .recovered
            .as_ref()
            .map(|r| r.snapshot_id.to_string())
            .unwrap_or_default(),
        ..pb::SnapshotMetadata::default()
    }
}

/// The fields of the answer's metadata that change from call to call: age and staleness,
/// the cache key and the moment asked. No repeated field may be set here: this part is
/// sent as a second occurrence of the `snapshot` field, which decoders merge into the
/// first ([`snapshot_metadata`]'s), and repeated fields would be concatenated.
pub(super) fn call_metadata(answer: &Answer) -> pb::SnapshotMetadata {
    let view = &answer.view;
    pb::SnapshotMetadata {
        age: Some(duration(view.age)),
        stale: view.stale_reason.is_some(),
        stale_reason: view.stale_reason.clone().unwrap_or_default(),
        cache_key: answer.cache_key.clone(),
        dth_recuperacao: answer.recovered.as_ref().map(|r| timestamp(r.asked_at)),
        ..pb::SnapshotMetadata::default()
    }
}
