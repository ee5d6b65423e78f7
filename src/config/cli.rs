//! The command line: one subcommand per task, each with only its own settings.
//!
//! `serve` (the default) takes every setting; `generate-demo` only the SQLite path and
//! logging; `check-oracle` only the Oracle settings, the query binds and logging;
//! `completions` none. A setting keeps its `RADAR_*` variable wherever it appears.

use std::ffi::OsString;

use clap::builder::{PossibleValue, PossibleValuesParser};
use clap::{Args, CommandFactory, Parser, Subcommand};

use super::oracle::OracleArgs;
use super::settings::{
    DEFAULT_DEMO_SCALE, DEFAULT_DEMO_SEED, LogSettings, QueryBindArgs, Settings, SqlitePathArg,
};
use super::{names, parse};

/// `radar-interrupcoes`: the command line.
#[derive(Debug, Parser)]
#[command(
    name = "radar-interrupcoes",
    about = "gRPC service for ANEEL's count of consumer units without power (interruptions \
             in progress), answered from a cache a cron job keeps warm",
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

/// The values RADAR_SOURCE and RADAR_STORE accept, each with a few words of help: the
/// backends the wiring offers, the first of each the default.
#[derive(Debug, Clone, Default)]
pub struct Offered {
    /// The data sources' names and help.
    pub sources: Vec<(&'static str, &'static str)>,
    /// The snapshot stores' names and help.
    pub stores: Vec<(&'static str, &'static str)>,
}

impl Cli {
    /// The command line: each setting with its variable and, as its value's placeholder, the
    /// variable's name without `RADAR_` (from [`names`], by its flag); the backends
    /// `offered` as the values of RADAR_SOURCE and RADAR_STORE (listed by `--help` and
    /// completed by the shells).
    pub fn command_for(offered: &Offered) -> clap::Command {
        let one_of = |choices: &[(&'static str, &'static str)]| {
            let values = choices.iter().map(|&(name, _)| PossibleValue::new(name));
            let parser = PossibleValuesParser::new(values);
            let listed: Vec<String> = choices
                .iter()
                .map(|(name, help)| format!("`{name}` ({help})"))
                .collect();
            let default = choices.first().map(|&(name, _)| name);
            move |arg: clap::Arg| {
                let doc = arg.get_help().map(ToString::to_string).unwrap_or_default();
                arg.value_parser(parser)
                    .default_value(default)
                    .required(false)
                    .hide_possible_values(true)
                    .help(format!("{doc}: {}", listed.join(" or ")))
            }
        };
        let with_variable = |arg: clap::Arg| {
            let named = names::ALL.iter().find(|s| arg.get_long() == Some(s.flag));
            match named {
                Some(setting) => arg
                    .env(setting.var)
                    .value_name(&setting.var["RADAR_".len()..]),
                None => arg,
            }
        };
        let command = Self::command().mut_subcommands(|sub| sub.mut_args(with_variable));
        command.mut_subcommand("serve", |serve| {
            serve
                .mut_arg(names::SOURCE.flag, one_of(&offered.sources))
                .mut_arg(names::STORE.flag, one_of(&offered.stores))
        })
    }
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
