//! The data answer encoded once per snapshot.
//!
//! Profiling the data RPC (valgrind's callgrind, instructions per call against
//! `Health/Check` on the same server) showed most of its extra cost in encoding the same
//! items again on every call. So what depends only on the snapshot is encoded when a new
//! snapshot is first read ([`EncodedSnapshot`]): ANEEL's answer and the metadata of
//! [`convert::snapshot_metadata`]. A call appends what changes with it (the metadata of
//! [`convert::call_metadata`]: age, staleness, cache key, moment asked) as a second
//! occurrence of the `snapshot` field. Protobuf decoders merge the two occurrences of an
//! embedded message into one `SnapshotMetadata`, so clients decode the message
//! [`convert`] describes, and a new metadata field is set in one of those two functions
//! with no byte offsets to edit here. A stored snapshot answering many past moments is
//! encoded once too.
//!
//! The generated server of `InterrupcoesService` answers with [`EncodedAnswer`] in place of
//! `GetQuantitativoInterrupcoesAtivasResponse` (see `build.rs`); its clients decode the
//! generated message.

use std::sync::Arc;

use prost::Message;
use prost::bytes::{Buf, BufMut};
use prost::encoding::{DecodeContext, WireType};

use super::convert;
use crate::answer::{Answer, HistoryLimits};
use crate::cache::SnapshotView;
use crate::prepared::PerAnswer;
use crate::proto::interrupcoes::v1 as pb;

/// `GetQuantitativoInterrupcoesAtivasResponse.resposta`.
const RESPOSTA_FIELD: u32 = 1;
/// `GetQuantitativoInterrupcoesAtivasResponse.snapshot`.
const SNAPSHOT_FIELD: u32 = 2;

/// Encodes answers from bytes prepared once per answering snapshot (the live one, and the
/// stored ones that answer past moments).
pub(super) struct AnswerEncoder {
    prepared: PerAnswer<EncodedSnapshot>,
}

impl AnswerEncoder {
    /// Keeps the past snapshots' bytes as the history cache of `limits` keeps moments.
    pub(super) fn new(limits: &HistoryLimits) -> Self {
        Self {
            prepared: PerAnswer::new(limits),
        }
    }

    /// `answer` as sent: its snapshot's bytes, prepared by the first answer of that
    /// snapshot, and the fields of this call.
    pub(super) fn encode(&self, answer: &Answer) -> EncodedAnswer {
        EncodedAnswer::new(
            self.prepared.get_or_prepare(answer, EncodedSnapshot::new),
            answer,
        )
    }
}

/// The bytes of an answer that depend only on its snapshot, each a whole field of the
/// response (key and length included).
#[derive(Debug)]
struct EncodedSnapshot {
    /// Field `resposta`: ANEEL's answer with the snapshot's items.
    resposta: Vec<u8>,
    /// The same field once the snapshot is older than the hard limit: ANEEL's error answer
    /// (it depends only on the snapshot's collection time).
    resposta_expired: Vec<u8>,
    /// Field `snapshot` with the fields of [`convert::snapshot_metadata`].
    metadata: Vec<u8>,
}

impl EncodedSnapshot {
    /// Encodes what of `answer` does not change while its snapshot is served, for a fresh
    /// and for an expired snapshot.
    fn new(answer: &Answer) -> Self {
        let resposta = |expired: bool| {
            let answer = Answer {
                view: SnapshotView {
                    expired,
                    ..answer.view.clone()
                },
                ..answer.clone()
            };
            field(RESPOSTA_FIELD, &convert::resposta(&answer))
        };
        Self {
            resposta: resposta(false),
            resposta_expired: resposta(true),
            metadata: field(SNAPSHOT_FIELD, &convert::snapshot_metadata(answer)),
        }
    }
}

/// `message` as field `number` of its parent, key and length included.
fn field(number: u32, message: &impl Message) -> Vec<u8> {
    let mut bytes = Vec::new();
    prost::encoding::message::encode(number, message, &mut bytes);
    bytes
}

/// One answer as sent: its snapshot's prepared bytes, then the `snapshot` field again with
/// the fields that change per call. Encodes as a `GetQuantitativoInterrupcoesAtivasResponse`;
/// it is never decoded (clients decode the generated message).
#[derive(Debug, Clone, Default)]
pub struct EncodedAnswer {
    prepared: Option<Arc<EncodedSnapshot>>,
    /// Older than the hard limit: the error answer.
    expired: bool,
    /// The fields of [`convert::call_metadata`].
    call: pb::SnapshotMetadata,
}

impl EncodedAnswer {
    /// `prepared` (from `answer`'s snapshot) with what of `answer` changes per call.
    fn new(prepared: Arc<EncodedSnapshot>, answer: &Answer) -> Self {
        Self {
            prepared: Some(prepared),
            expired: answer.view.expired,
            call: convert::call_metadata(answer),
        }
    }

    fn resposta<'a>(&self, prepared: &'a EncodedSnapshot) -> &'a [u8] {
        if self.expired {
            &prepared.resposta_expired
        } else {
            &prepared.resposta
        }
    }
}

impl Message for EncodedAnswer {
    fn encode_raw(&self, buf: &mut impl BufMut) {
        let Some(prepared) = &self.prepared else {
            return;
        };
        buf.put_slice(self.resposta(prepared));
        buf.put_slice(&prepared.metadata);
        // Merged by decoders into the prepared `snapshot` field.
        prost::encoding::message::encode(SNAPSHOT_FIELD, &self.call, buf);
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
        self.resposta(prepared).len()
            + prepared.metadata.len()
            + prost::encoding::message::encoded_len(SNAPSHOT_FIELD, &self.call)
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

    /// The whole message as the contract describes it, every field named (a new field of
    /// the contract does not compile here until it is given its value): what an answer's
    /// prepared and per-call bytes must decode to.
    fn message(answer: &Answer) -> pb::GetQuantitativoInterrupcoesAtivasResponse {
        let view = &answer.view;
        let snapshot = &view.snapshot;
        pb::GetQuantitativoInterrupcoesAtivasResponse {
            resposta: Some(pb::QuantitativoInterrupcoesAtivas {
                idc_status_requisicao: answer.idc_status_requisicao(),
                email_indisponibilidade: answer.email_indisponibilidade.clone(),
                mensagem: answer.mensagem(),
                interrupcao_fornecimento: answer.items().iter().map(convert::interrupcao).collect(),
            }),
            snapshot: Some(pb::SnapshotMetadata {
                collected_at: Some(convert::timestamp(snapshot.collected_at)),
                age: Some(convert::duration(view.age)),
                stale: view.stale_reason.is_some(),
                stale_reason: view.stale_reason.clone().unwrap_or_default(),
                source: snapshot.source.clone(),
                item_count: u32::try_from(snapshot.items.len()).unwrap(),
                rejected_rows: u32::try_from(snapshot.rejected.len()).unwrap(),
                missing_pairs: answer.missing_pairs(),
                cache_key: answer.cache_key.clone(),
                instance: snapshot.instance.clone(),
                snapshot_id: answer
                    .recovered
                    .as_ref()
                    .map(|r| r.snapshot_id.to_string())
                    .unwrap_or_default(),
                dth_recuperacao: answer
                    .recovered
                    .as_ref()
                    .map(|r| convert::timestamp(r.asked_at)),
            }),
        }
    }

    /// `answer` encoded from bytes prepared from `earlier` (another call's answer of the same
    /// snapshot) decodes to the whole message of `answer`, and is as long as it says.
    fn assert_prepared_is_per_call(earlier: &Answer, answer: &Answer) {
        let prepared = Arc::new(EncodedSnapshot::new(earlier));
        let encoded = EncodedAnswer::new(prepared, answer);
        let bytes = encoded.encode_to_vec();
        assert_eq!(
            bytes.len(),
            encoded.encoded_len(),
            "the length tonic reserves"
        );
        let decoded = pb::GetQuantitativoInterrupcoesAtivasResponse::decode(&bytes[..]).unwrap();
        assert_eq!(decoded, message(answer));
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
    fn the_prepared_answer_decodes_to_the_whole_message_of_the_call() {
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
    fn a_past_answer_prepared_at_another_moment_decodes_to_the_whole_message_of_the_call() {
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
