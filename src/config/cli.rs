//! The command line: the settings and the subcommands.

use clap::{Parser, Subcommand};

use super::settings::{DEFAULT_DEMO_SCALE, DEFAULT_DEMO_SEED, Settings};

/// `radar-interrupcoes`: the command line.
#[derive(Debug, Parser)]
#[command(name = "radar-interrupcoes", version, about, long_about = None)]
pub struct Cli {
    /// The settings (each also a `RADAR_*` environment variable).
    #[command(flatten)]
    pub settings: Settings,
    /// What to do; without a subcommand the service runs.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Subcommands besides running the service.
#[derive(Debug, Clone, Copy, Subcommand)]
pub enum Command {
    /// Runs the gRPC service (the default).
    Serve,
    /// (Re)generates the embedded SQLite demo database at RADAR_SQLITE_PATH.
    GenerateDemo {
        /// Size relative to Roraima (1.0 = about 218 thousand premises; 5.0 is more than
        /// 1 million, an Amazonas-sized network).
        #[arg(long, default_value_t = DEFAULT_DEMO_SCALE)]
        scale: f64,
        /// Seed of the deterministic generator.
        #[arg(long, default_value_t = DEFAULT_DEMO_SEED)]
        seed: u64,
    },
    /// Read-only pre-deployment check of the Oracle source: connects, checks every table or
    /// synonym the query uses, runs the query once, prints row count and timings. Exits
    /// non-zero with the reason on failure. Uses the RADAR_ORACLE_* settings.
    CheckOracle,
}
