//! Plain domain types and rules of the ANEEL answer: no gRPC, no SQL.

pub mod dth_recuperacao;
pub mod interrupcao;
pub mod validation;

pub use interrupcao::{InterrupcaoAtiva, QueryBinds, RawInterrupcaoRow};
pub use validation::{RowRejection, ValidatedRows, validate_rows};
