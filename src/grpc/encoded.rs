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
use crate::cache::{CACHE_KEY, Snapshot, SnapshotView};
use crate::proto::interrupcoes::v1 as pb;

/// ANEEL's `idcStatusRequisicao` for success.
pub(super) const STATUS_SUCESSO: i32 = 1;

/// `GetQuantitativoInterrupcoesAtivasResponse.snapshot`.
const SNAPSHOT_FIELD: u32 = 2;

/// The bytes of an answer that depend only on its snapshot.
#[derive(Debug, PartialEq)]
pub struct EncodedSnapshot {
    /// Field `resposta`, key and length included: ANEEL's answer.
    resposta: Vec<u8>,
    /// `SnapshotMetadata` fields before the per-call ones: `collected_at`.
    metadata_head: Vec<u8>,
    /// `SnapshotMetadata` fields after the per-call ones: `source` to `cache_key`.
    metadata_tail: Vec<u8>,
}

impl EncodedSnapshot {
    /// Encodes what of `snapshot`'s answer does not change while it is served.
    pub fn new(snapshot: &Snapshot, email_indisponibilidade: &str) -> Self {
        let answer = message(snapshot, email_indisponibilidade);
        let metadata = answer.snapshot.unwrap_or_default();
        let head = pb::SnapshotMetadata {
            collected_at: metadata.collected_at,
            ..pb::SnapshotMetadata::default()
        };
        let tail = pb::SnapshotMetadata {
            collected_at: None,
            ..metadata
        };
        let mut resposta = Vec::new();
        if let Some(r) = &answer.resposta {
            prost::encoding::message::encode(1, r, &mut resposta);
        }
        Self {
            resposta,
            metadata_head: head.encode_to_vec(),
            metadata_tail: tail.encode_to_vec(),
        }
    }
}

/// The message for `snapshot` without the per-call fields (`age`, `stale`, `stale_reason`).
fn message(
    snapshot: &Snapshot,
    email_indisponibilidade: &str,
) -> pb::GetQuantitativoInterrupcoesAtivasResponse {
    pb::GetQuantitativoInterrupcoesAtivasResponse {
        resposta: Some(pb::QuantitativoInterrupcoesAtivas {
            idc_status_requisicao: STATUS_SUCESSO,
            email_indisponibilidade: email_indisponibilidade.to_owned(),
            mensagem: String::new(),
            interrupcao_fornecimento: snapshot.items.iter().map(convert::interrupcao).collect(),
        }),
        snapshot: Some(pb::SnapshotMetadata {
            collected_at: Some(convert::timestamp(snapshot.collected_at)),
            age: None,
            stale: false,
            stale_reason: String::new(),
            source: snapshot.source.to_owned(),
            item_count: snapshot.items.len() as u32,
            rejected_rows: u32::try_from(snapshot.rejected).unwrap_or(u32::MAX),
            cache_key: CACHE_KEY.to_owned(),
        }),
    }
}

/// One answer as sent: the snapshot's prepared bytes, and its age and staleness now.
/// Encodes as a `GetQuantitativoInterrupcoesAtivasResponse`; it is never decoded (clients
/// decode the generated message).
#[derive(Debug, Clone, Default)]
pub struct EncodedAnswer {
    prepared: Option<Arc<EncodedSnapshot>>,
    /// Only the per-call fields are set.
    now: pb::SnapshotMetadata,
}

impl EncodedAnswer {
    /// `prepared` (from `view.snapshot`) with `view`'s age and staleness.
    pub fn new(prepared: Arc<EncodedSnapshot>, view: &SnapshotView) -> Self {
        Self {
            prepared: Some(prepared),
            now: pb::SnapshotMetadata {
                age: Some(convert::duration(view.age)),
                stale: view.stale_reason.is_some(),
                stale_reason: view.stale_reason.clone().unwrap_or_default(),
                ..pb::SnapshotMetadata::default()
            },
        }
    }

    fn metadata_len(prepared: &EncodedSnapshot, now: &pb::SnapshotMetadata) -> usize {
        prepared.metadata_head.len() + now.encoded_len() + prepared.metadata_tail.len()
    }
}

impl Message for EncodedAnswer {
    fn encode_raw(&self, buf: &mut impl BufMut) {
        let Some(prepared) = &self.prepared else {
            return;
        };
        buf.put_slice(&prepared.resposta);
        encode_key(SNAPSHOT_FIELD, WireType::LengthDelimited, buf);
        encode_varint(Self::metadata_len(prepared, &self.now) as u64, buf);
        // Fields in their numbers' order: 1, then the per-call 2 to 4, then 5 to 8.
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
        let Some(prepared) = &self.prepared else {
            return 0;
        };
        let metadata = Self::metadata_len(prepared, &self.now);
        prepared.resposta.len()
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
    use crate::domain::InterrupcaoAtiva;

    fn snapshot(items: i32, rejected: u64) -> Snapshot {
        Snapshot {
            collected_at: Utc.with_ymd_and_hms(2026, 11, 29, 12, 0, 0).unwrap()
                + chrono::Duration::nanoseconds(123_456_789),
            source: "sqlite",
            items: (0..items)
                .map(|i| InterrupcaoAtiva {
                    ide_conjunto: 100 + i,
                    ide_municipio: 1_400_100 + i,
                    qtd_ucs_atendidas: 200_000 + i,
                    qtd_ocorrencia_programada: i,
                    qtd_ocorrencia_nao_programada: 3 * i,
                })
                .collect(),
            rejected,
        }
    }

    /// The answer as the service built it on every call before it was prepared.
    fn per_call(view: &SnapshotView, email: &str) -> pb::GetQuantitativoInterrupcoesAtivasResponse {
        let mut answer = message(&view.snapshot, email);
        let metadata = answer.snapshot.as_mut().unwrap();
        metadata.age = Some(convert::duration(view.age));
        metadata.stale = view.stale_reason.is_some();
        metadata.stale_reason = view.stale_reason.clone().unwrap_or_default();
        answer
    }

    #[test]
    fn the_prepared_answer_decodes_to_the_per_call_answer() {
        let cases = [
            (snapshot(24, 2), Duration::from_millis(1_500), None),
            (snapshot(0, 0), Duration::ZERO, None),
            (
                snapshot(600, u64::from(u32::MAX) + 1),
                Duration::from_secs(7_200),
                Some("older than the 3600 s limit (7200 s)".to_owned()),
            ),
        ];
        for (snapshot, age, stale_reason) in cases {
            let view = SnapshotView {
                snapshot: Arc::new(snapshot),
                age,
                stale_reason,
            };
            let prepared = Arc::new(EncodedSnapshot::new(&view.snapshot, "ouvidoria@example.br"));
            let bytes = EncodedAnswer::new(prepared, &view).encode_to_vec();
            let decoded =
                pb::GetQuantitativoInterrupcoesAtivasResponse::decode(&bytes[..]).unwrap();
            let expected = per_call(&view, "ouvidoria@example.br");
            assert_eq!(decoded, expected);
            // Same fields in the same order: the very bytes prost writes for it.
            assert_eq!(bytes, expected.encode_to_vec());
        }
    }
}
