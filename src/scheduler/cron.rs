//! Cron schedules are a domain value (the settings parse them); the scheduler evaluates
//! them in its time zone.

pub use crate::domain::cron::{CronError, CronSchedule};
