//! The data answer encoded once per snapshot.
//!
//! Profiling the data RPC (valgrind's callgrind, instructions per call against
//! `Health/Check` on the same server) showed most of its extra cost in encoding the same
//! items again on every call. So everything that depends only on the snapshot is encoded
//! when a new snapshot is first read ([`EncodedSnapshot`]), and a call writes those bytes
//! around the few fields that change with time: the age and the staleness
//! ([`EncodedAnswer`]). The bytes are a valid `GetQuantitativoInterrupcoesAtivasResponse`,
//! field for field the message the service built per call before.

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
    /// `SnapshotMetadata` fields before the per-call ones: `collected_at`.
    metadata_head: Vec<u8>,
    /// `SnapshotMetadata` fields after the per-call ones (`source` onwards).
    metadata_tail: Vec<u8>,
}

impl EncodedSnapshot {
    /// Encodes what of `answer` does not change while its snapshot is served: the fields
    /// that depend only on the snapshot, for a fresh and for an expired snapshot.
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
        let tail = pb::SnapshotMetadata {
            collected_at: None,
            age: None,
            stale: false,
            stale_reason: String::new(),
            ..metadata
        };
        Self {
            resposta: resposta_field(fresh.resposta.as_ref()),
            resposta_expired: resposta_field(expired.resposta.as_ref()),
            metadata_head: head.encode_to_vec(),
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

/// One answer as sent: the snapshot's prepared bytes, and its age and staleness now.
/// Encodes as a `GetQuantitativoInterrupcoesAtivasResponse`; it is never decoded (clients
/// decode the generated message).
#[derive(Debug, Clone, Default)]
pub struct EncodedAnswer {
    prepared: Option<Arc<EncodedSnapshot>>,
    /// An answer that was not prepared (a past moment's), encoded as it is.
    whole: Option<pb::GetQuantitativoInterrupcoesAtivasResponse>,
    /// Older than the hard limit: the error answer.
    expired: bool,
    /// Only the per-call fields are set.
    now: pb::SnapshotMetadata,
}

impl EncodedAnswer {
    /// `prepared` (from `view.snapshot`) with `view`'s age and staleness.
    pub fn new(prepared: Arc<EncodedSnapshot>, view: &SnapshotView) -> Self {
        Self {
            prepared: Some(prepared),
            whole: None,
            expired: view.expired,
            now: pb::SnapshotMetadata {
                age: Some(convert::duration(view.age)),
                stale: view.stale_reason.is_some(),
                stale_reason: view.stale_reason.clone().unwrap_or_default(),
                ..pb::SnapshotMetadata::default()
            },
        }
    }

    /// `message` encoded per call (answers that are not prepared).
    pub fn whole(message: pb::GetQuantitativoInterrupcoesAtivasResponse) -> Self {
        Self {
            whole: Some(message),
            ..Self::default()
        }
    }

    fn resposta<'a>(&self, prepared: &'a EncodedSnapshot) -> &'a [u8] {
        if self.expired {
            &prepared.resposta_expired
        } else {
            &prepared.resposta
        }
    }

    fn metadata_len(prepared: &EncodedSnapshot, now: &pb::SnapshotMetadata) -> usize {
        prepared.metadata_head.len() + now.encoded_len() + prepared.metadata_tail.len()
    }
}

impl Message for EncodedAnswer {
    fn encode_raw(&self, buf: &mut impl BufMut) {
        if let Some(whole) = &self.whole {
            whole.encode_raw(buf);
        }
        let Some(prepared) = &self.prepared else {
            return;
        };
        buf.put_slice(self.resposta(prepared));
        encode_key(SNAPSHOT_FIELD, WireType::LengthDelimited, buf);
        encode_varint(Self::metadata_len(prepared, &self.now) as u64, buf);
        // Fields in their numbers' order: 1, then the per-call 2 to 4, then 5 to 9.
        buf.put_slice(&prepared.metadata_head);
        self.now.encode_raw(buf);
        buf.put_slice(&prepared.metadata_tail);
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
        let whole = self.whole.as_ref().map_or(0, Message::encoded_len);
        let Some(prepared) = &self.prepared else {
            return whole;
        };
        let metadata = Self::metadata_len(prepared, &self.now);
        whole
            + self.resposta(prepared).len()
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
            let prepared = Arc::new(EncodedSnapshot::new(&earlier));
            let bytes = EncodedAnswer::new(prepared, &answer.view).encode_to_vec();
            let expected = convert::answer(&answer);
            let decoded =
                pb::GetQuantitativoInterrupcoesAtivasResponse::decode(&bytes[..]).unwrap();
            assert_eq!(decoded, expected);
            // Same fields in the same order: the very bytes prost writes for it.
            assert_eq!(bytes, expected.encode_to_vec());
            assert_eq!(
                decoded
                    .resposta
                    .unwrap()
                    .interrupcao_fornecimento
                    .is_empty(),
                expired || answer.view.snapshot.items.is_empty()
            );
        }
    }
}
