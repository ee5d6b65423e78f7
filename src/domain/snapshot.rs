//! A snapshot: one complete answer of the source, as loaded by the warm-up job, cached for
//! the current answer and stored for past ones.

use chrono::{DateTime, Utc};

use super::{InterrupcaoAtiva, RowRejection};

/// One complete answer of the source, as loaded by the warm-up job.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    /// When the source was queried.
    pub collected_at: DateTime<Utc>,
    /// Which source produced it (`sqlite`, `oracle`).
    pub source: String,
    /// The instance (replica) that queried the source.
    pub instance: String,
    /// The validated items, ordered by conjunto, then município.
    pub items: Vec<InterrupcaoAtiva>,
    /// Source rows left out by validation: their (conjunto, município) pairs are missing
    /// from `items`.
    pub rejected: Vec<RowRejection>,
}
