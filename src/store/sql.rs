//! The store's SQL, shared by every adapter: plain SQL with `:name` binds that SQLite and
//! Oracle both accept. No `LIMIT`/`FETCH FIRST` and no upsert: "latest" is a `MAX`
//! subquery, batches are bounded by reading at most that many ids, and duplicates are
//! detected by the unique keys.

/// Inserts a snapshot header. Binds: every column of [`HEADER_COLUMNS`].
pub const INSERT_SNAPSHOT: &str = "INSERT INTO radar_snapshot (snapshot_id, collected_at_ms, \
     tick_at_ms, run_trigger, source_name, instance_id, item_count, rejected_count) \
     VALUES (:snapshot_id, :collected_at_ms, :tick_at_ms, :run_trigger, :source_name, \
     :instance_id, :item_count, :rejected_count)";

/// Inserts one item of a snapshot.
pub const INSERT_ITEM: &str = "INSERT INTO radar_snapshot_item (snapshot_id, item_position, \
     ide_conjunto, ide_municipio, qtd_ucs_atendidas, qtd_programada, qtd_nao_programada) \
     VALUES (:snapshot_id, :item_position, :ide_conjunto, :ide_municipio, \
     :qtd_ucs_atendidas, :qtd_programada, :qtd_nao_programada)";

/// Inserts one source row a snapshot left out.
pub const INSERT_REJECTION: &str = "INSERT INTO radar_snapshot_rejection (snapshot_id, \
     item_position, conjunto, municipio, reason) VALUES (:snapshot_id, :item_position, \
     :conjunto, :municipio, :reason)";

/// The rows snapshot `:snapshot_id` left out, in order.
pub const SELECT_REJECTIONS: &str = "SELECT conjunto, municipio, reason FROM \
     radar_snapshot_rejection WHERE snapshot_id = :snapshot_id ORDER BY item_position";

/// Deletes the left-out rows of one snapshot.
pub const DELETE_REJECTIONS: &str =
    "DELETE FROM radar_snapshot_rejection WHERE snapshot_id = :snapshot_id";

/// Headers of the latest snapshots collected at or before `:at_ms`.
pub const SELECT_LATEST_AT_OR_BEFORE: &str = "SELECT snapshot_id, collected_at_ms, tick_at_ms, \
     run_trigger, source_name, instance_id, item_count, rejected_count FROM radar_snapshot \
     WHERE collected_at_ms = (SELECT MAX(collected_at_ms) FROM radar_snapshot \
     WHERE collected_at_ms <= :at_ms) ORDER BY snapshot_id";

/// Header of the snapshot of tick `:tick_at_ms`.
pub const SELECT_FOR_TICK: &str = "SELECT snapshot_id, collected_at_ms, tick_at_ms, \
     run_trigger, source_name, instance_id, item_count, rejected_count FROM radar_snapshot \
     WHERE tick_at_ms = :tick_at_ms";

/// Items of snapshot `:snapshot_id`, in order.
pub const SELECT_ITEMS: &str = "SELECT ide_conjunto, ide_municipio, qtd_ucs_atendidas, \
     qtd_programada, qtd_nao_programada FROM radar_snapshot_item \
     WHERE snapshot_id = :snapshot_id ORDER BY item_position";

/// Collection time of the oldest snapshot (NULL when there is none).
pub const SELECT_OLDEST: &str = "SELECT MIN(collected_at_ms) FROM radar_snapshot";

/// Inserts a claim; the primary key (job, tick) makes the first one win.
pub const INSERT_CLAIM: &str = "INSERT INTO radar_job_claim (job_name, fire_at_ms, instance_id, \
     claimed_at_ms) VALUES (:job_name, :fire_at_ms, :instance_id, :claimed_at_ms)";

/// Who owns a claim.
pub const SELECT_CLAIM_OWNER: &str = "SELECT instance_id FROM radar_job_claim \
     WHERE job_name = :job_name AND fire_at_ms = :fire_at_ms";

/// Ids of snapshots superseded at or before `:cutoff_ms`, oldest first (the adapter reads
/// at most one batch of them).
pub const SELECT_EXPIRED_SNAPSHOTS: &str = "SELECT snapshot_id FROM radar_snapshot \
     WHERE collected_at_ms < (SELECT MAX(collected_at_ms) FROM radar_snapshot \
     WHERE collected_at_ms <= :cutoff_ms) ORDER BY collected_at_ms, snapshot_id";

/// Deletes the items of one snapshot.
pub const DELETE_ITEMS: &str = "DELETE FROM radar_snapshot_item WHERE snapshot_id = :snapshot_id";

/// Deletes one snapshot header.
pub const DELETE_SNAPSHOT: &str = "DELETE FROM radar_snapshot WHERE snapshot_id = :snapshot_id";

/// Claims of ticks before `:cutoff_ms`, oldest first (read one batch at a time).
pub const SELECT_EXPIRED_CLAIMS: &str = "SELECT job_name, fire_at_ms FROM radar_job_claim \
     WHERE fire_at_ms < :cutoff_ms ORDER BY fire_at_ms, job_name";

/// Deletes one claim.
pub const DELETE_CLAIM: &str =
    "DELETE FROM radar_job_claim WHERE job_name = :job_name AND fire_at_ms = :fire_at_ms";
