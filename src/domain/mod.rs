//! Plain domain types and rules of the ANEEL answer: no gRPC, no SQL.

pub mod dth_recuperacao;
pub mod interrupcao;
pub mod snapshot;
pub mod validation;

pub use interrupcao::{
    AG_ID_RORAIMA, DIST_RORAIMA, InterrupcaoAtiva, QueryBinds, RawInterrupcaoRow,
};
pub use snapshot::Snapshot;
pub use validation::{EveryRowRejected, RowRejection, ValidatedRows, validate_rows};
