//! Every setting of the service: a command-line flag and a `RADAR_*` environment variable,
//! validated before any port is bound.

mod error;

pub use error::ConfigError;
