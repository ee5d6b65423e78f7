//! Stored rows back into a [`StoredSnapshot`], the same for every adapter: each value is
//! checked, since a table can be edited by hand.

use super::{StoreError, StoredSnapshot, from_millis};
use crate::domain::{InterrupcaoAtiva, RowRejection, Snapshot};

/// Raw header columns, before conversion.
pub type HeaderRow = (String, i64, Option<i64>, String, String, String, i64, i64);

/// Builds a [`StoredSnapshot`] from its header and item columns, checking every value.
pub fn assemble(
    (id, collected_at_ms, tick_at_ms, trigger, source, instance, item_count, rejected_count): HeaderRow,
    items: &[[i64; 5]],
    rejected: Vec<RowRejection>,
) -> Result<StoredSnapshot, StoreError> {
    let int = |v: i64| {
        i32::try_from(v).map_err(|_| {
            StoreError::corrupt(format!("snapshot {id}: item value {v} is out of range"))
        })
    };
    let items = items
        .iter()
        .map(|[c, m, u, p, n]| {
            Ok(InterrupcaoAtiva {
                ide_conjunto: int(*c)?,
                ide_municipio: int(*m)?,
                qtd_ucs_atendidas: int(*u)?,
                qtd_ocorrencia_programada: int(*p)?,
                qtd_ocorrencia_nao_programada: int(*n)?,
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    if usize::try_from(item_count).ok() != Some(items.len()) {
        return Err(StoreError::corrupt(format!(
            "snapshot {id} says {item_count} items but has {}",
            items.len()
        )));
    }
    if usize::try_from(rejected_count).ok() != Some(rejected.len()) {
        return Err(StoreError::corrupt(format!(
            "snapshot {id} says {rejected_count} rejected rows but has {}",
            rejected.len()
        )));
    }
    Ok(StoredSnapshot {
        tick_at: tick_at_ms.map(from_millis).transpose()?,
        trigger,
        snapshot: Snapshot {
            collected_at: from_millis(collected_at_ms)?,
            source,
            instance,
            items,
            rejected,
        },
        id,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(item_count: i64) -> HeaderRow {
        (
            "s-1".into(),
            1_795_000_000_250,
            None,
            "manual".into(),
            "sqlite".into(),
            "a".into(),
            item_count,
            2,
        )
    }

    fn rejections(n: usize) -> Vec<RowRejection> {
        (0..n)
            .map(|i| RowRejection {
                conjunto: Some(i as i64),
                municipio: None,
                reason: "null ideMunicipio".into(),
            })
            .collect()
    }

    #[test]
    fn valid_rows_make_the_snapshot() {
        let s = assemble(header(1), &[[9, 1_400_100, 10, 1, 2]], rejections(2)).unwrap();
        assert_eq!(
            s.snapshot.collected_at.timestamp_millis(),
            1_795_000_000_250
        );
        assert_eq!(s.snapshot.items[0].qtd_ocorrencia_nao_programada, 2);
        assert_eq!((s.snapshot.rejected.len(), s.tick_at), (2, None));
    }

    #[test]
    fn values_out_of_range_or_a_wrong_count_are_refused_naming_the_snapshot() {
        let e = assemble(
            header(1),
            &[[9, 1_400_100, i64::from(i32::MAX) + 1, 1, 2]],
            rejections(2),
        )
        .unwrap_err();
        assert!(
            e.message.contains("s-1") && e.message.contains("2147483648"),
            "{e}"
        );
        let e = assemble(header(2), &[[9, 1_400_100, 10, 1, 2]], rejections(2)).unwrap_err();
        assert!(e.message.contains("says 2 items but has 1"), "{e}");
    }
}
