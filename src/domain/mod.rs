//! Plain domain types and rules of the ANEEL answer, and the value types the settings
//! hand over (address ranges, a forwarding header): no gRPC, no SQL.

pub mod dth_recuperacao;
pub mod forwarded_header;
pub mod interrupcao;
pub mod ip_range;
pub mod snapshot;
pub mod validation;

pub use forwarded_header::ForwardedHeader;
pub use interrupcao::{
    AG_ID_RORAIMA, DIST_RORAIMA, InterrupcaoAtiva, QueryBinds, RawInterrupcaoRow,
};
pub use ip_range::{IpRange, IpRanges};
pub use snapshot::Snapshot;
pub use validation::{EveryRowRejected, RowRejection, ValidatedRows, validate_rows};
