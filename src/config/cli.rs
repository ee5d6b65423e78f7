//! The command line: one subcommand per task, each with only its own settings.
//!
//! `serve` (the default) takes every setting; `generate-demo` only the SQLite path and
//! logging; `check-oracle` only the Oracle settings, the query binds and logging;
//! `completions` none. A setting keeps its `RADAR_*` variable wherever it appears.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use super::oracle::OracleArgs;
use super::parse;
use super::settings::{
    DEFAULT_DEMO_SCALE, DEFAULT_DEMO_SEED, LogSettings, QueryBindArgs, Settings, SqlitePathArg,
};

/// The one-line description of the service, at the top of `--help`.
pub const ABOUT: &str = "gRPC service for ANEEL's count of consumer units without power \
                         (interruptions in progress), answered from a cache a cron job keeps \
                         warm";

/// `radar-interrupcoes`: the command line.
#[derive(Debug, Parser)]
#[command(
    name = "radar-interrupcoes",
    about = ABOUT,
    long_about = None,
    override_usage = "radar-interrupcoes [serve] [OPTIONS]\n       radar-interrupcoes <COMMAND> [OPTIONS]",
    after_help = "Without a subcommand it runs `serve`: `radar-interrupcoes serve --help` \
                  lists the service's settings, each also a RADAR_* environment variable."
)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands, each with its own settings.
#[derive(Debug, Clone, Subcommand)]
pub enum Command {
    /// Runs the gRPC service (the default).
    Serve(Box<Settings>),
    /// (Re)generates the embedded SQLite demo database at RADAR_SQLITE_PATH and prints the
    /// path it wrote.
    GenerateDemo(GenerateDemoArgs),
    /// Read-only pre-deployment check of the Oracle source: connects, checks every table or
    /// synonym the query uses, runs the query once, prints row count and timings. Exits
    /// non-zero with the reason on failure. Uses the RADAR_ORACLE_* settings.
    CheckOracle(CheckOracleArgs),
    /// Prints the shell completion script of SHELL to standard output, e.g.
    /// `radar-interrupcoes completions bash > /etc/bash_completion.d/radar-interrupcoes`.
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

/// The settings of `generate-demo`.
#[derive(Debug, Clone, Args)]
pub struct GenerateDemoArgs {
    /// Where to write.
    #[command(flatten)]
    pub sqlite: SqlitePathArg,
    /// Size relative to Roraima (1.0 = about 218 thousand premises; 5.0 is more than
    /// 1 million, an Amazonas-sized network), greater than 0 and at most 50.
    #[arg(long, default_value_t = DEFAULT_DEMO_SCALE, value_parser = parse::demo_scale)]
    pub scale: f64,
    /// Seed of the deterministic generator.
    #[arg(long, default_value_t = DEFAULT_DEMO_SEED)]
    pub seed: u64,
    /// Logging.
    #[command(flatten)]
    pub log: LogSettings,
}

impl GenerateDemoArgs {
    /// The database path.
    pub fn path(&self) -> &PathBuf {
        &self.sqlite.sqlite_path
    }
}

/// The settings of `check-oracle`.
#[derive(Debug, Clone, Args)]
pub struct CheckOracleArgs {
    /// The binds of the query it runs.
    #[command(flatten)]
    pub binds: QueryBindArgs,
    /// The Oracle connection.
    #[command(flatten)]
    pub oracle: OracleArgs,
    /// Logging.
    #[command(flatten)]
    pub log: LogSettings,
}

/// The names clap handles at the top level: anything else that starts with `-` is a
/// setting of `serve`.
const TOP_LEVEL_FLAGS: &[&str] = &["-h", "--help", "-V", "--version"];

/// The arguments with `serve` inserted when no subcommand is named: no argument at all, or
/// a first argument that is a setting (`--listen-addr ...`).
pub(super) fn with_default_subcommand<I, T>(args: I) -> Vec<OsString>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString>,
{
    let mut args: Vec<OsString> = args.into_iter().map(Into::into).collect();
    // clap's `help` subcommand takes no flags of its own, so `help --help` would be an
    // unknown argument: it asks for the help, which is what `--help` prints.
    if args.get(1).is_some_and(|a| a == "help")
        && args.len() > 2
        && args[2..].iter().all(|a| a == "--help" || a == "-h")
    {
        args.truncate(1);
        args.push("--help".into());
        return args;
    }
    let runs_serve = match args.get(1).and_then(|a| a.to_str()) {
        None => args.len() <= 1,
        Some(first) => first.starts_with('-') && !TOP_LEVEL_FLAGS.contains(&first),
    };
    if runs_serve {
        args.insert(args.len().min(1), "serve".into());
    }
    args
}
