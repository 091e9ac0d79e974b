//! `crmsync`: the headless command line of crmsync. Everything the desktop
//! window can do, this can do too; see docs/cli.md.

mod cli;
mod commands;
mod hints;
mod output;
mod secrets;

use std::process::ExitCode;

use clap::Parser;

use crate::cli::Cli;

/// A failure, split by who must act: the admin's input (exit 2) or the runtime (exit 1).
#[derive(Debug)]
pub enum CliError {
    /// Invalid input: one line naming the field; nothing was changed.
    Invalid(String),
    /// Anything else.
    Runtime(String),
    /// A failure whose details were already printed (exit 1, short summary on stderr).
    Reported(String),
    /// Another engine holds the store (`STORE_IN_USE`, exit 3): nothing was done.
    InUse(String),
}

impl From<crmsync_engine::EngineError> for CliError {
    fn from(e: crmsync_engine::EngineError) -> Self {
        if e.is_invalid_input() { CliError::Invalid(e.to_string()) } else { CliError::Runtime(e.to_string()) }
    }
}

impl From<crmsync_core::CoreError> for CliError {
    fn from(e: crmsync_core::CoreError) -> Self {
        crmsync_engine::EngineError::from(e).into()
    }
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            use clap::error::ErrorKind;
            if matches!(
                e.kind(),
                ErrorKind::DisplayHelp
                    | ErrorKind::DisplayVersion
                    | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
            ) {
                let _ = e.print();
                return ExitCode::SUCCESS;
            }
            eprintln!("crmsync: {}", one_line(&e.render().to_string()));
            return ExitCode::from(2);
        }
    };
    let log = match &cli.command {
        cli::Command::Run { log_format, .. } => match log_format.trim().to_ascii_lowercase().as_str() {
            "human" => Log::Service { json: false },
            "json" => Log::Service { json: true },
            other => {
                eprintln!("crmsync: --log-format: '{other}' is not one of human, json");
                return ExitCode::from(2);
            }
        },
        _ => Log::Command,
    };
    init_tracing(cli.verbose, log);
    let result = commands::run(cli);
    report_peak_rss();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(CliError::Invalid(msg)) => {
            eprintln!("crmsync: {}", one_line(&msg));
            ExitCode::from(2)
        }
        Err(CliError::Runtime(msg) | CliError::Reported(msg)) => {
            eprintln!("crmsync: {}", one_line(&msg));
            ExitCode::from(1)
        }
        Err(CliError::InUse(msg)) => {
            eprintln!("crmsync: {}", one_line(&msg));
            ExitCode::from(3)
        }
    }
}

/// Folds clap's multi-line usage errors into the one line the CLI promises.
fn one_line(s: &str) -> String {
    s.lines()
        .map(str::trim)
        .take_while(|l| !l.starts_with("Usage:") && !l.starts_with("For more information"))
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
        .trim_start_matches("error: ")
        .to_string()
}

/// Where log lines go and how they look.
#[derive(Debug, Clone, Copy)]
enum Log {
    /// An admin command: warnings only unless -v.
    Command,
    /// The `run` service: info by default, human-readable or JSON lines.
    Service {
        /// One JSON object per line.
        json: bool,
    },
}

fn init_tracing(verbose: u8, log: Log) {
    let default = match (verbose, log) {
        (0, Log::Command) => "warn",
        (0, Log::Service { .. }) | (1, _) => "info",
        _ => "debug",
    };
    // One subscriber for the CLI and the desktop app: it filters and redacts
    // so no secret reaches the log at any level.
    crmsync_engine::logging::init(default, matches!(log, Log::Service { json: true }));
}

/// With `CRMSYNC_REPORT_RSS=1`, prints the process's peak resident memory on
/// stderr at exit (used by the benchmarks).
fn report_peak_rss() {
    if std::env::var_os("CRMSYNC_REPORT_RSS").is_none() {
        return;
    }
    if let Ok(status) = std::fs::read_to_string("/proc/self/status")
        && let Some(line) = status.lines().find(|l| l.starts_with("VmHWM:"))
    {
        eprintln!("crmsync peak RSS {}", line.trim_start_matches("VmHWM:").trim());
    }
}
