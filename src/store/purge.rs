//! The batched purge every store adapter runs: for snapshots, then for claims, list a batch
//! of expired keys, delete them in one transaction, repeat until a batch comes back short.
//! The adapters give only their driver calls; the order, the batch bound, the stop rule and
//! the counting live here.

use super::PurgeReport;

/// What one purge pass (snapshots, or claims) did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Purged {
    /// Rows the deletes reported.
    deleted: u64,
    /// Transactions committed (one per non-empty batch).
    batches: u64,
}

/// Deletes every expired snapshot, then every expired claim, in batches of at most
/// `batch_size` (at least 1) keys each.
///
/// Each `select_*(conn, n)` lists at most `n` expired keys; each `delete_*(conn, keys)`
/// deletes them in one committed transaction and returns how many rows (snapshots, or
/// claims) it deleted. All four get the adapter's connection `conn`, so each can borrow it
/// in turn.
pub(crate) fn purge_expired<C, S, J, E>(
    mut conn: C,
    batch_size: u32,
    select_snapshots: impl FnMut(&mut C, usize) -> Result<Vec<S>, E>,
    delete_snapshots: impl FnMut(&mut C, &[S]) -> Result<u64, E>,
    select_claims: impl FnMut(&mut C, usize) -> Result<Vec<J>, E>,
    delete_claims: impl FnMut(&mut C, &[J]) -> Result<u64, E>,
) -> Result<PurgeReport, E> {
    let snapshots = in_batches(&mut conn, batch_size, select_snapshots, delete_snapshots)?;
    let claims = in_batches(&mut conn, batch_size, select_claims, delete_claims)?;
    Ok(PurgeReport {
        snapshots: snapshots.deleted,
        claims: claims.deleted,
        batches: snapshots.batches + claims.batches,
    })
}

/// One pass: selects and deletes batches of at most `batch_size` (at least 1) keys until a
/// batch comes back empty or short (nothing more is expired), so `k` keys take
/// `ceil(k / n)` transactions.
fn in_batches<C, K, E>(
    conn: &mut C,
    batch_size: u32,
    mut select: impl FnMut(&mut C, usize) -> Result<Vec<K>, E>,
    mut delete: impl FnMut(&mut C, &[K]) -> Result<u64, E>,
) -> Result<Purged, E> {
    let batch = batch_size.max(1) as usize;
    let mut purged = Purged::default();
    loop {
        let keys = select(conn, batch)?;
        if keys.is_empty() {
            break;
        }
        purged.deleted += delete(conn, &keys)?;
        purged.batches += 1;
        if keys.len() < batch {
            break;
        }
    }
    Ok(purged)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Expired keys: `select` lists the first `n` (and counts its calls); `delete` removes
    /// them and records the batch's size, or fails on the batch numbered `fail_on`.
    #[derive(Default)]
    struct Table {
        expired: Vec<u32>,
        selects: usize,
        batches_seen: Vec<usize>,
        fail_on: Option<usize>,
    }

    fn expired(n: u32) -> Table {
        Table {
            expired: (0..n).collect(),
            ..Table::default()
        }
    }

    impl Table {
        fn select(&mut self, n: usize) -> Vec<u32> {
            self.selects += 1;
            self.expired.iter().take(n).copied().collect()
        }

        fn delete(&mut self, keys: &[u32]) -> Result<u64, String> {
            if self.fail_on == Some(self.batches_seen.len()) {
                return Err("ORA-00054: resource busy".to_owned());
            }
            self.expired.retain(|k| !keys.contains(k));
            self.batches_seen.push(keys.len());
            Ok(keys.len() as u64)
        }
    }

    fn pass(table: &mut Table, batch_size: u32) -> Result<Purged, String> {
        in_batches(table, batch_size, |t, n| Ok(t.select(n)), Table::delete)
    }

    #[test]
    fn a_pass_deletes_everything_in_batches_and_a_short_batch_ends_it() {
        let mut table = expired(7);
        let purged = pass(&mut table, 3).unwrap();
        assert_eq!(
            purged,
            Purged {
                deleted: 7,
                batches: 3
            }
        );
        assert!(table.expired.is_empty());
        assert_eq!(table.batches_seen, [3, 3, 1]);
        assert_eq!(table.selects, 3, "no select after the short batch");
    }

    #[test]
    fn an_exact_multiple_ends_with_one_empty_select_and_no_extra_transaction() {
        let mut table = expired(4);
        assert_eq!(pass(&mut table, 2).unwrap().batches, 2);
        assert_eq!(table.batches_seen, [2, 2]);
        assert_eq!(table.selects, 3);
    }

    #[test]
    fn nothing_expired_is_no_transaction() {
        let mut table = Table::default();
        assert_eq!(pass(&mut table, 5).unwrap(), Purged::default());
        assert!(table.batches_seen.is_empty());
    }

    #[test]
    fn a_batch_size_of_zero_deletes_one_key_at_a_time() {
        let mut table = expired(2);
        assert_eq!(pass(&mut table, 0).unwrap().deleted, 2);
        assert_eq!(table.batches_seen, [1, 1]);
    }

    #[test]
    fn a_failing_delete_stops_the_pass_with_its_error() {
        let mut table = Table {
            fail_on: Some(1),
            ..expired(3)
        };
        assert_eq!(
            pass(&mut table, 1),
            Err("ORA-00054: resource busy".to_owned())
        );
        assert_eq!(table.expired, [1, 2], "only the first batch was deleted");
        assert_eq!(table.selects, 2);
    }

    #[test]
    fn snapshots_go_first_then_claims_and_the_report_adds_both_passes() {
        let mut db = (expired(5), expired(3));
        let report = purge_expired(
            &mut db,
            2,
            |db, n| Ok(db.0.select(n)),
            |db, keys| db.0.delete(keys),
            |db, n| {
                assert!(
                    db.0.expired.is_empty(),
                    "claims before the snapshots were gone"
                );
                Ok(db.1.select(n))
            },
            |db, keys| db.1.delete(keys),
        )
        .unwrap();
        assert_eq!(
            report,
            PurgeReport {
                snapshots: 5,
                claims: 3,
                batches: 3 + 2
            }
        );
        assert!(db.1.expired.is_empty());
    }

    #[test]
    fn a_failing_snapshot_pass_leaves_the_claims_alone() {
        let mut db = (
            Table {
                fail_on: Some(0),
                ..expired(1)
            },
            expired(1),
        );
        let result = purge_expired(
            &mut db,
            10,
            |db, n| Ok(db.0.select(n)),
            |db, keys| db.0.delete(keys),
            |db, n| Ok(db.1.select(n)),
            |db, keys| db.1.delete(keys),
        );
        assert!(result.is_err());
        assert_eq!(db.1.selects, 0);
    }
}
