//! The tables the demo generator draws from: Roraima's municipalities and their share of
//! the premises, the conjuntos that serve them, and the event type codes. Data only; the
//! generator is in `demo.rs`.

use crate::domain::{AG_ID_RORAIMA, DIST_RORAIMA};

/// Agency and distributor of the demo network, and of the "other distributor" noise.
pub(super) const AGENCY: i64 = AG_ID_RORAIMA;
pub(super) const DIST: &str = DIST_RORAIMA;
pub(super) const OTHER_AGENCY: i64 = 7019;
pub(super) const OTHER_DIST: &str = "7019";

/// Roraima's municipalities: IBGE code, name, share of the premises (sums to 1).
pub(super) const MUNICIPIOS: [(i64, &str, f64); 15] = [
    (1_400_027, "Amajari", 0.020),
    (1_400_050, "Alto Alegre", 0.030),
    (1_400_100, "Boa Vista", 0.650),
    (1_400_159, "Bonfim", 0.025),
    (1_400_175, "Cantá", 0.030),
    (1_400_209, "Caracaraí", 0.035),
    (1_400_233, "Caroebe", 0.020),
    (1_400_282, "Iracema", 0.020),
    (1_400_308, "Mucajaí", 0.030),
    (1_400_407, "Normandia", 0.015),
    (1_400_456, "Pacaraima", 0.025),
    (1_400_472, "Rorainópolis", 0.050),
    (1_400_506, "São João da Baliza", 0.015),
    (1_400_605, "São Luiz", 0.015),
    (1_400_704, "Uiramutã", 0.020),
];

/// Synthetic conjuntos: (conjunto, IBGE, share of that municipality's premises). Boa Vista
/// has ten, of unequal sizes; 110, 115, 117 and 123 span two municipalities (rule 3: counts
/// in both).
pub(super) const CELLS: [(i64, i64, f64); 28] = [
    (101, 1_400_100, 0.16),
    (102, 1_400_100, 0.13),
    (103, 1_400_100, 0.12),
    (104, 1_400_100, 0.11),
    (105, 1_400_100, 0.10),
    (106, 1_400_100, 0.09),
    (107, 1_400_100, 0.08),
    (108, 1_400_100, 0.08),
    (109, 1_400_100, 0.07),
    (110, 1_400_100, 0.06),
    (110, 1_400_175, 0.4),
    (111, 1_400_175, 0.6),
    (112, 1_400_050, 1.0),
    (113, 1_400_027, 1.0),
    (114, 1_400_159, 0.7),
    (115, 1_400_159, 0.3),
    (115, 1_400_407, 1.0),
    (116, 1_400_209, 0.8),
    (117, 1_400_209, 0.2),
    (117, 1_400_282, 1.0),
    (118, 1_400_308, 1.0),
    (119, 1_400_456, 1.0),
    (120, 1_400_704, 1.0),
    (121, 1_400_472, 0.6),
    (122, 1_400_472, 0.4),
    (123, 1_400_506, 1.0),
    (123, 1_400_605, 1.0),
    (124, 1_400_233, 1.0),
];

/// Number of distinct conjuntos in [`CELLS`] (sorted by conjunto).
pub(super) fn conjuntos() -> usize {
    1 + CELLS.windows(2).filter(|w| w[0].0 != w[1].0).count()
}

/// Event type codes of the open events.
pub(super) const TYCODS_NAO_PROGRAMADOS: [&str; 4] = [
    "FALTA_FASE",
    "TRAFO_QUEIMADO",
    "ARVORE_REDE",
    "DESCARGA_ATM",
];
pub(super) const TYCOD_PROGRAMADO: &str = "MANUT_PROG";
