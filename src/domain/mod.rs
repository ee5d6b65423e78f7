//! Plain domain types and rules of the ANEEL answer, and the value types the settings
//! hand over (a cron schedule, address ranges, a forwarding header): no gRPC, no SQL.

pub mod cron;
pub mod dth_recuperacao;
pub mod forwarded_header;
pub mod interrupcao;
pub mod ip_range;
pub mod snapshot;
pub mod validation;

pub use cron::{CronError, CronSchedule};
pub use forwarded_header::ForwardedHeader;
pub use interrupcao::{
    AG_ID_RORAIMA, DIST_RORAIMA, InterrupcaoAtiva, MAX_EMAIL_LEN, QueryBinds, RawInterrupcaoRow,
    is_contact_email,
};
pub use ip_range::{IpRange, IpRanges};
pub use snapshot::Snapshot;
pub use validation::{EveryRowRejected, RowRejection, ValidatedRows, validate_rows};

/// Largest scale of the demo database (about 11 million premises): beyond it, a typo, not a
/// benchmark. The settings refuse more, and so does the generator.
pub const MAX_DEMO_SCALE: f64 = 50.0;
