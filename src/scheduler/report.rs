//! What a successful attempt of a job reports: generic, so that a new job needs no new field
//! in the scheduler, its status or `ListJobs`.

use super::failure::JobError;

/// What a successful attempt produced: a count (for the cache warm-up, items cached; for a
/// purge, rows deleted), the inputs it left out (for the warm-up, rejected rows), and named
/// facts a job adds for operators. A new job reports through these, so the scheduler, its
/// status and `ListJobs` need no new field. Facts are text for people: a count that code
/// reads (metrics, `ListJobs`' `rejected`) is a typed field.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JobReport {
    /// The main quantity the attempt produced.
    pub count: u64,
    /// Inputs left out because they failed validation; `None` for jobs that validate no
    /// input (they get no `rejected` series or fact).
    pub rejected: Option<u64>,
    /// Further facts, as (name, value), in the order the job gives them.
    pub facts: Vec<(&'static str, String)>,
    /// The attempt succeeded, but part of its input was left out (for the warm-up: rows
    /// that failed validation): the run's outcome is then `partial`, not `succeeded`.
    pub partial: bool,
    /// The attempt's result is in use, but a step after it failed (for the warm-up: the
    /// snapshot is served but was not stored): the run's outcome is then `degraded`.
    pub degraded: Option<FailedStep>,
}

/// A step of a successful attempt that failed: the result is in use, but the run did not
/// leave behind everything it should have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailedStep {
    /// The step, as a stable name that clients and dashboards match on (the warm-up's
    /// `store_write`).
    pub step: &'static str,
    /// Why it failed: its kind, its native codes and the detail for operators.
    pub error: JobError,
}

/// The name under which [`JobReport::rejected`] is shown among the facts.
const REJECTED_FACT: &str = "rejected";

impl JobReport {
    /// A report of `count`, with no facts yet.
    pub fn new(count: u64) -> Self {
        Self {
            count,
            rejected: None,
            facts: Vec::new(),
            partial: false,
            degraded: None,
        }
    }

    /// Records that `step` failed with `error` after the result was put in use (see
    /// [`JobReport::degraded`]).
    #[must_use]
    pub fn degraded_by(mut self, step: &'static str, error: JobError) -> Self {
        self.degraded = Some(FailedStep { step, error });
        self
    }

    /// Marks the report partial when `partial` (see [`JobReport::partial`]).
    #[must_use]
    pub fn partial_if(mut self, partial: bool) -> Self {
        self.partial = partial;
        self
    }

    /// Records `rejected` inputs left out (see [`JobReport::rejected`]).
    #[must_use]
    pub fn with_rejected(mut self, rejected: u64) -> Self {
        self.rejected = Some(rejected);
        self
    }

    /// Adds the fact `name = value`.
    #[must_use]
    pub fn with_fact(mut self, name: &'static str, value: &dyn std::fmt::Display) -> Self {
        self.facts.push((name, value.to_string()));
        self
    }

    /// The value of the fact `name`, if the job reported it.
    pub fn fact(&self, name: &str) -> Option<&str> {
        self.facts
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every fact as shown to operators (logs, `ListJobs`): the rejected count first, when
    /// the job has one, then the job's own facts.
    pub fn shown_facts(&self) -> impl Iterator<Item = (&'static str, String)> + '_ {
        self.rejected
            .map(|n| (REJECTED_FACT, n.to_string()))
            .into_iter()
            .chain(
                self.facts
                    .iter()
                    .map(|(name, value)| (*name, value.clone())),
            )
    }
}
