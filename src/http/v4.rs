//! ANEEL's API V4 answer as JSON: the four fields, their exact names, in their order.

use serde::Serialize;

use crate::answer::{STATUS_ERRO, STATUS_SUCESSO};
use crate::domain::InterrupcaoAtiva;

/// The answer body, success or error.
#[derive(Debug, Serialize)]
pub struct Resposta<'a> {
    #[serde(rename = "idcStatusRequisicao")]
    idc_status_requisicao: i32,
    #[serde(rename = "emailIndisponibilidade")]
    email_indisponibilidade: &'a str,
    #[serde(rename = "mensagem")]
    mensagem: &'a str,
    #[serde(rename = "interrupcaoFornecimento")]
    interrupcao_fornecimento: Vec<Item>,
}

/// One item of `interrupcaoFornecimento`.
#[derive(Debug, Serialize)]
struct Item {
    #[serde(rename = "ideConjuntoUnidadeConsumidora")]
    ide_conjunto_unidade_consumidora: i32,
    #[serde(rename = "ideMunicipio")]
    ide_municipio: i32,
    #[serde(rename = "qtdUCsAtendidas")]
    qtd_ucs_atendidas: i32,
    #[serde(rename = "qtdOcorrenciaProgramada")]
    qtd_ocorrencia_programada: i32,
    #[serde(rename = "qtdOcorrenciaNaoProgramada")]
    qtd_ocorrencia_nao_programada: i32,
}

impl<'a> Resposta<'a> {
    /// A successful answer with `items` (`[]` when nothing is out).
    pub fn sucesso(email: &'a str, items: &[InterrupcaoAtiva]) -> Self {
        Self {
            idc_status_requisicao: STATUS_SUCESSO,
            email_indisponibilidade: email,
            mensagem: "",
            interrupcao_fornecimento: items
                .iter()
                .map(|i| Item {
                    ide_conjunto_unidade_consumidora: i.ide_conjunto,
                    ide_municipio: i.ide_municipio,
                    qtd_ucs_atendidas: i.qtd_ucs_atendidas,
                    qtd_ocorrencia_programada: i.qtd_ocorrencia_programada,
                    qtd_ocorrencia_nao_programada: i.qtd_ocorrencia_nao_programada,
                })
                .collect(),
        }
    }

    /// ANEEL's error envelope: status 2, the reason, no items.
    pub fn erro(email: &'a str, mensagem: &'a str) -> Self {
        Self {
            idc_status_requisicao: STATUS_ERRO,
            email_indisponibilidade: email,
            mensagem,
            interrupcao_fornecimento: Vec::new(),
        }
    }

    /// The JSON bytes.
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("plain structs always serialize")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_json_has_the_exact_v4_names_in_order() {
        let item = InterrupcaoAtiva {
            ide_conjunto: 7,
            ide_municipio: 1_400_100,
            qtd_ucs_atendidas: 1000,
            qtd_ocorrencia_programada: 3,
            qtd_ocorrencia_nao_programada: 40,
        };
        let json = String::from_utf8(Resposta::sucesso("a@b.br", &[item]).to_json()).unwrap();
        assert_eq!(
            json,
            r#"{"idcStatusRequisicao":1,"emailIndisponibilidade":"a@b.br","mensagem":"","interrupcaoFornecimento":[{"ideConjuntoUnidadeConsumidora":7,"ideMunicipio":1400100,"qtdUCsAtendidas":1000,"qtdOcorrenciaProgramada":3,"qtdOcorrenciaNaoProgramada":40}]}"#
        );
        let json = String::from_utf8(Resposta::erro("a@b.br", "não").to_json()).unwrap();
        assert_eq!(
            json,
            r#"{"idcStatusRequisicao":2,"emailIndisponibilidade":"a@b.br","mensagem":"não","interrupcaoFornecimento":[]}"#
        );
    }
}
