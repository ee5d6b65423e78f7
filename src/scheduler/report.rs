//! What a successful attempt of a job reports: generic, so that a new job needs no new field
//! in the scheduler, its status or `ListJobs`.

/// What a successful attempt produced: a count (for the cache warm-up, items cached; for a
/// purge, rows deleted) and named facts a job adds (for the warm-up, `rejected`). A new job
/// reports through these two, so the scheduler, its status and `ListJobs` need no new field.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JobReport {
    /// The main quantity the attempt produced.
    pub count: u64,
    /// Further facts, as (name, value), in the order the job gives them.
    pub facts: Vec<(&'static str, String)>,
    /// The attempt succeeded, but part of its input was left out (for the warm-up: rows
    /// that failed validation): the run's outcome is then `partial`, not `succeeded`.
    pub partial: bool,
}

impl JobReport {
    /// A report of `count`, with no facts yet.
    pub fn new(count: u64) -> Self {
        Self {
            count,
            facts: Vec::new(),
            partial: false,
        }
    }

    /// Marks the report partial when `partial` (see [`JobReport::partial`]).
    #[must_use]
    pub fn partial_if(mut self, partial: bool) -> Self {
        self.partial = partial;
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
}
