//! The batched purge loop every store adapter runs: list a batch of expired keys, delete
//! them in one transaction, repeat until a batch comes back short. The adapters give only
//! their driver calls; the batch bound, the stop rule and the counting live here.

use super::PurgeReport;

/// What one purge pass (snapshots, or claims) did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Purged {
    /// Rows the deletes reported.
    pub deleted: u64,
    /// Transactions committed (one per non-empty batch).
    pub batches: u64,
}

impl PurgeReport {
    /// The report of a purge made of a snapshots pass and a claims pass.
    pub(crate) fn from_passes(snapshots: Purged, claims: Purged) -> Self {
        Self {
            snapshots: snapshots.deleted,
            claims: claims.deleted,
            batches: snapshots.batches + claims.batches,
        }
    }
}

/// Deletes expired rows in batches of at most `batch_size` (at least 1) keys.
///
/// `select(conn, n)` lists at most `n` expired keys; `delete(conn, keys)` deletes them in
/// one committed transaction and returns how many rows it deleted. Both get the adapter's
/// connection `conn`, so each can borrow it in turn. The loop stops on an empty batch or on
/// a short one (nothing more is expired), so a purge of `k` keys takes `ceil(k / n)`
/// transactions.
pub(crate) fn purge_in_batches<C, K, E>(
    mut conn: C,
    batch_size: u32,
    mut select: impl FnMut(&mut C, usize) -> Result<Vec<K>, E>,
    mut delete: impl FnMut(&mut C, &[K]) -> Result<u64, E>,
) -> Result<Purged, E> {
    let batch = batch_size.max(1) as usize;
    let mut purged = Purged::default();
    loop {
        let keys = select(&mut conn, batch)?;
        if keys.is_empty() {
            break;
        }
        purged.deleted += delete(&mut conn, &keys)?;
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

    /// A table of expired keys: `select` lists the first `n` (and counts its calls),
    /// `delete` removes them and records the batch sizes it saw.
    #[derive(Default)]
    struct Table {
        expired: Vec<u32>,
        selects: usize,
        batches_seen: Vec<usize>,
    }

    fn purge(table: &mut Table, batch_size: u32) -> Result<Purged, String> {
        purge_in_batches(
            table,
            batch_size,
            |t, n| {
                t.selects += 1;
                Ok(t.expired.iter().take(n).copied().collect())
            },
            |t, keys| {
                t.expired.retain(|k| !keys.contains(k));
                t.batches_seen.push(keys.len());
                Ok(keys.len() as u64)
            },
        )
    }

    #[test]
    fn deletes_everything_in_batches_of_the_given_size() {
        let mut table = Table {
            expired: (0..7).collect(),
            ..Table::default()
        };
        let purged = purge(&mut table, 3).unwrap();
        assert_eq!(
            purged,
            Purged {
                deleted: 7,
                batches: 3
            }
        );
        assert!(table.expired.is_empty());
        assert_eq!(table.batches_seen, [3, 3, 1]);
        assert_eq!(
            table.selects, 3,
            "a short batch ends the loop without another select"
        );
    }

    #[test]
    fn an_exact_multiple_ends_with_one_empty_select_and_no_extra_transaction() {
        let mut table = Table {
            expired: (0..4).collect(),
            ..Table::default()
        };
        let purged = purge(&mut table, 2).unwrap();
        assert_eq!(purged.batches, 2);
        assert_eq!(table.batches_seen, [2, 2]);
        assert_eq!(table.selects, 3);
    }

    #[test]
    fn nothing_expired_is_no_transaction() {
        let mut table = Table::default();
        assert_eq!(purge(&mut table, 5).unwrap(), Purged::default());
        assert!(table.batches_seen.is_empty());
    }

    #[test]
    fn a_batch_size_of_zero_deletes_one_key_at_a_time() {
        let mut table = Table {
            expired: (0..2).collect(),
            ..Table::default()
        };
        let purged = purge(&mut table, 0).unwrap();
        assert_eq!(purged.deleted, 2);
        assert_eq!(table.batches_seen, [1, 1]);
    }

    #[test]
    fn a_failing_delete_stops_the_loop_with_its_error() {
        let mut table = Table {
            expired: (0..3).collect(),
            ..Table::default()
        };
        let result = purge_in_batches(
            &mut table,
            1,
            |t, n| Ok(t.expired.iter().take(n).copied().collect::<Vec<_>>()),
            |t, keys| {
                if t.batches_seen.len() == 1 {
                    return Err("ORA-00054".to_owned());
                }
                t.expired.retain(|k| !keys.contains(k));
                t.batches_seen.push(keys.len());
                Ok(1)
            },
        );
        assert_eq!(result, Err("ORA-00054".to_owned()));
        assert_eq!(table.expired, [1, 2], "the second batch was not deleted");
    }
}
