//! The data answer encoded once per snapshot.
//!
//! Profiling the data RPC (valgrind's callgrind, instructions per call against
//! `Health/Check` on the same server) showed most of its extra cost in encoding the same
//! items again on every call. So everything that depends only on the snapshot is encoded
//! when a new snapshot is first read ([`EncodedSnapshot`]), and a call writes those bytes
//! around the few fields that change with the call: the age and the staleness, and for a
//! past moment (`dthRecuperacao`) the cache key and the moment ([`EncodedAnswer`]). A
//! stored snapshot answering many past moments is encoded once too. The bytes are a valid
//! `GetQuantitativoInterrupcoesAtivasResponse`, field for field the message
//! [`convert::answer`] builds.

use std::sync::Arc;

use prost::Message;
use prost::bytes::{Buf, BufMut};
use prost::encoding::{DecodeContext, WireType, encode_key, encode_varint, encoded_len_varint};

use super::convert;
use crate::answer::Answer;
use crate::cache::SnapshotView;
use crate::proto::interrupcoes::v1 as pb;

/// `GetQuantitativoInterrupcoesAtivasResponse.snapshot`.
const SNAPSHOT_FIELD: u32 = 2;

/// The bytes of an answer that depend only on its snapshot.
#[derive(Debug, PartialEq)]
pub struct EncodedSnapshot {
    /// Field `resposta`, key and length included: ANEEL's answer with the snapshot's items.
    resposta: Vec<u8>,
    /// The same field once the snapshot is older than the hard limit: ANEEL's error answer
    /// (it depends only on the snapshot's collection time).
    resposta_expired: Vec<u8>,
    /// `SnapshotMetadata` field 1: `collected_at`.
    metadata_head: Vec<u8>,
    /// `SnapshotMetadata` fields 5 to 7: `source` to `rejected_rows`.
    metadata_middle: Vec<u8>,
    /// `SnapshotMetadata` fields 9 to 11: `missing_pairs` to `snapshot_id`.
    metadata_tail: Vec<u8>,
}

impl EncodedSnapshot {
    /// Encodes what of `answer` does not change while its snapshot is served: the fields
    /// that depend only on the snapshot, for a fresh and for an expired snapshot. The
    /// fields that depend on the call (age, staleness, cache key, moment asked) are left
    /// to [`EncodedAnswer`].
    pub fn new(answer: &Answer) -> Self {
        let as_expired = |expired: bool| Answer {
            view: SnapshotView {
                expired,
                ..answer.view.clone()
            },
            ..answer.clone()
        };
        let fresh = convert::answer(&as_expired(false));
        let expired = convert::answer(&as_expired(true));
        let metadata = fresh.snapshot.unwrap_or_default();
        let head = pb::SnapshotMetadata {
            collected_at: metadata.collected_at,
            ..pb::SnapshotMetadata::default()
        };
        let middle = pb::SnapshotMetadata {
            source: metadata.source,
            item_count: metadata.item_count,
            rejected_rows: metadata.rejected_rows,
            ..pb::SnapshotMetadata::default()
        };
        let tail = pb::SnapshotMetadata {
            missing_pairs: metadata.missing_pairs,
            instance: metadata.instance,
            snapshot_id: metadata.snapshot_id,
            ..pb::SnapshotMetadata::default()
        };
        Self {
            resposta: resposta_field(fresh.resposta.as_ref()),
            resposta_expired: resposta_field(expired.resposta.as_ref()),
            metadata_head: head.encode_to_vec(),
            metadata_middle: middle.encode_to_vec(),
            metadata_tail: tail.encode_to_vec(),
        }
    }
}

/// Field 1 of the response, key and length included.
fn resposta_field(resposta: Option<&pb::QuantitativoInterrupcoesAtivas>) -> Vec<u8> {
    let mut bytes = Vec::new();
    if let Some(r) = resposta {
        prost::encoding::message::encode(1, r, &mut bytes);
    }
    bytes
}

/// One answer as sent: the snapshot's prepared bytes, and what changes per call (age,
/// staleness, cache key, moment asked). Encodes as a
/// `GetQuantitativoInterrupcoesAtivasResponse`; it is never decoded (clients decode the
/// generated message).
#[derive(Debug, Clone, Default)]
pub struct EncodedAnswer {
    prepared: Option<Arc<EncodedSnapshot>>,
    /// Older than the hard limit: the error answer.
    expired: bool,
    /// The per-call `SnapshotMetadata` fields, each group with only its fields set, in the
    /// order of the field numbers around the prepared ones: 2 to 4 (age, staleness), 8
    /// (cache key), 12 (moment asked).
    age: pb::SnapshotMetadata,
    cache_key: pb::SnapshotMetadata,
    moment: pb::SnapshotMetadata,
}

impl EncodedAnswer {
    /// `prepared` (from `answer`'s snapshot) with what of `answer` changes per call.
    pub fn new(prepared: Arc<EncodedSnapshot>, answer: Answer) -> Self {
        let view = answer.view;
        Self {
            prepared: Some(prepared),
            expired: view.expired,
            age: pb::SnapshotMetadata {
                age: Some(convert::duration(view.age)),
                stale: view.stale_reason.is_some(),
                stale_reason: view.stale_reason.unwrap_or_default(),
                ..pb::SnapshotMetadata::default()
            },
            cache_key: pb::SnapshotMetadata {
                cache_key: answer.cache_key,
                ..pb::SnapshotMetadata::default()
            },
            moment: pb::SnapshotMetadata {
                dth_recuperacao: answer.recovered.map(|r| convert::timestamp(r.asked_at)),
                ..pb::SnapshotMetadata::default()
            },
        }
    }

    fn resposta<'a>(&self, prepared: &'a EncodedSnapshot) -> &'a [u8] {
        if self.expired {
            &prepared.resposta_expired
        } else {
            &prepared.resposta
        }
    }

    fn metadata_len(&self, prepared: &EncodedSnapshot) -> usize {
        prepared.metadata_head.len()
            + self.age.encoded_len()
            + prepared.metadata_middle.len()
            + self.cache_key.encoded_len()
            + prepared.metadata_tail.len()
            + self.moment.encoded_len()
    }
}

impl Message for EncodedAnswer {
    fn encode_raw(&self, buf: &mut impl BufMut) {
        let Some(prepared) = &self.prepared else {
            return;
        };
        buf.put_slice(self.resposta(prepared));
        encode_key(SNAPSHOT_FIELD, WireType::LengthDelimited, buf);
        encode_varint(self.metadata_len(prepared) as u64, buf);
        // Fields in their numbers' order, as prost writes them.
        buf.put_slice(&prepared.metadata_head);
        self.age.encode_raw(buf);
        buf.put_slice(&prepared.metadata_middle);
        self.cache_key.encode_raw(buf);
        buf.put_slice(&prepared.metadata_tail);
        self.moment.encode_raw(buf);
    }

    fn merge_field(
        &mut self,
        tag: u32,
        wire_type: WireType,
        buf: &mut impl Buf,
        ctx: DecodeContext,
    ) -> Result<(), prost::DecodeError> {
        // Never decoded: clients decode the generated message. Skip, as for unknown fields.
        prost::encoding::skip_field(wire_type, tag, buf, ctx)
    }

    fn encoded_len(&self) -> usize {
        let Some(prepared) = &self.prepared else {
            return 0;
        };
        let metadata = self.metadata_len(prepared);
        self.resposta(prepared).len()
            + prost::encoding::key_len(SNAPSHOT_FIELD)
            + encoded_len_varint(metadata as u64)
            + metadata
    }

    fn clear(&mut self) {
        *self = Self::default();
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use chrono::{TimeZone, Utc};

    use super::*;
    use crate::cache::Snapshot;
    use crate::domain::{InterrupcaoAtiva, RowRejection};

    fn snapshot(items: i32, rejected: usize) -> Snapshot {
        Snapshot {
            collected_at: Utc.with_ymd_and_hms(2026, 11, 29, 12, 0, 0).unwrap()
                + chrono::Duration::nanoseconds(123_456_789),
            source: "sqlite".to_owned(),
            instance: "radar-0".to_owned(),
            items: (0..items)
                .map(|i| InterrupcaoAtiva {
                    ide_conjunto: 100 + i,
                    ide_municipio: 1_400_100 + i,
                    qtd_ucs_atendidas: 200_000 + i,
                    qtd_ocorrencia_programada: i,
                    qtd_ocorrencia_nao_programada: 3 * i,
                })
                .collect(),
            rejected: (0..rejected)
                .map(|i| RowRejection {
                    conjunto: Some(i as i64),
                    municipio: None,
                    reason: "ideMunicipio is null".to_owned(),
                })
                .collect(),
        }
    }

    /// `answer` encoded from bytes prepared from `earlier` (another call's answer of the same
    /// snapshot) is, byte for byte, what prost encodes for `convert::answer(answer)`.
    fn assert_prepared_is_per_call(earlier: &Answer, answer: &Answer) {
        let prepared = Arc::new(EncodedSnapshot::new(earlier));
        let bytes = EncodedAnswer::new(prepared, answer.clone()).encode_to_vec();
        let expected = convert::answer(answer);
        let decoded = pb::GetQuantitativoInterrupcoesAtivasResponse::decode(&bytes[..]).unwrap();
        assert_eq!(decoded, expected);
        // Same fields in the same order: the very bytes prost writes for it.
        assert_eq!(bytes, expected.encode_to_vec());
        assert_eq!(
            decoded
                .resposta
                .unwrap()
                .interrupcao_fornecimento
                .is_empty(),
            answer.view.expired || answer.view.snapshot.items.is_empty()
        );
    }

    #[test]
    fn the_prepared_answer_is_the_per_call_answer_byte_for_byte() {
        let stale = Some("older than the 3600 s limit (7200 s)".to_owned());
        let cases = [
            (snapshot(24, 2), Duration::from_millis(1_500), None, false),
            (snapshot(0, 0), Duration::ZERO, None, false),
            (
                snapshot(600, 30),
                Duration::from_secs(7_200),
                stale.clone(),
                false,
            ),
            (snapshot(24, 0), Duration::from_secs(90_000), stale, true),
        ];
        for (snapshot, age, stale_reason, expired) in cases {
            let answer = Answer {
                view: SnapshotView {
                    snapshot: Arc::new(snapshot),
                    age,
                    stale_reason,
                    expired,
                },
                email_indisponibilidade: "ouvidoria@example.br".to_owned(),
                cache_key: crate::cache::CACHE_KEY.to_owned(),
                recovered: None,
            };
            // Prepared from another call's view of the same snapshot (other age, fresh).
            let earlier = Answer {
                view: SnapshotView {
                    age: Duration::ZERO,
                    stale_reason: None,
                    expired: false,
                    ..answer.view.clone()
                },
                ..answer.clone()
            };
            assert_prepared_is_per_call(&earlier, &answer);
        }
    }

    /// A past answer as `AnswerService::at` builds it: `snapshot` asked `age` after it was
    /// collected.
    fn past(snapshot: &Arc<Snapshot>, age: Duration, stale_reason: Option<String>) -> Answer {
        let asked_at = snapshot.collected_at + chrono::Duration::from_std(age).unwrap();
        Answer {
            view: SnapshotView {
                snapshot: snapshot.clone(),
                age,
                stale_reason,
                expired: false,
            },
            email_indisponibilidade: "ouvidoria@example.br".to_owned(),
            cache_key: format!(
                "{}:{}",
                crate::answer::HISTORY_CACHE_KEY,
                asked_at.to_rfc3339()
            ),
            recovered: Some(crate::answer::Recovered {
                asked_at,
                snapshot_id: "0b7e5c1e-9d3a-4f7e-8a51-2f0c6d1e9a44".into(),
            }),
        }
    }

    #[test]
    fn a_past_answer_prepared_at_another_moment_is_the_per_call_answer_byte_for_byte() {
        let stale = || Some("at that moment the snapshot was older than the 3600 s limit".into());
        for (items, rejected) in [(24, 2), (0, 0), (600, 30)] {
            let snapshot = Arc::new(snapshot(items, rejected));
            // The first moment asked prepares; later moments (fresh, then stale) reuse it.
            let first = past(&snapshot, Duration::from_secs(60), None);
            for answer in [
                past(&snapshot, Duration::from_millis(1_500), None),
                past(&snapshot, Duration::from_secs(7_200), stale()),
                first.clone(),
            ] {
                assert_prepared_is_per_call(&first, &answer);
            }
            // And the other way round: prepared from a stale moment, answering a fresh one.
            let stale_first = past(&snapshot, Duration::from_secs(7_200), stale());
            assert_prepared_is_per_call(&stale_first, &first);
        }
    }
}
