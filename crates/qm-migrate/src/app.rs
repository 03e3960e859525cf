//! The entry point: parse the command line, start logging and the runtime, hand the command to
//! [`crate::commands`], print what it says and turn the outcome into an exit code. It depends on the
//! commands; what the commands share lives below them, in [`crate::context`].

use std::ffi::OsString;
use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;

use crate::cli::Cli;
use crate::commands::dispatch;

/// Runs the command line.
pub fn main(args: impl IntoIterator<Item = OsString>) -> ExitCode {
    let cli = match Cli::try_parse_from(args) {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    init_logging(cli.quiet);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    let json_out = cli.json;
    let result = runtime.block_on(async {
        crate::interrupt::install();
        dispatch(cli).await
    });
    match result {
        Ok(out) => {
            if json_out {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&out.json).unwrap_or_default()
                );
            } else if !out.human.is_empty() {
                println!("{}", out.human.trim_end());
            }
            ExitCode::from(out.code)
        }
        Err(e) => {
            if e.chain().any(|c| {
                c.downcast_ref::<std::io::Error>()
                    .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            }) {
                return ExitCode::SUCCESS;
            }
            // A stop (a signal, an outage) loses nothing: the command said how far it got, and a
            // plain re-run resumes. Done but not finished: 1, never 2.
            if let Some(stopped) = crate::interrupt::stopped_in(&e) {
                eprintln!("{stopped}");
                return ExitCode::from(1);
            }
            if let Some(g) = e
                .chain()
                .find_map(|c| c.downcast_ref::<genesys::GenesysError>())
                .filter(|g| g.is_outage())
            {
                eprintln!("error: {e:#}");
                eprintln!("{}", crate::interrupt::Stopped::genesys_outage(g, "run"));
                return ExitCode::from(1);
            }
            if let Some(c) = e
                .chain()
                .find_map(|c| c.downcast_ref::<calabrio::api::ApiError>())
                .filter(|c| c.is_outage())
            {
                eprintln!("error: {e:#}");
                eprintln!("{}", crate::interrupt::Stopped::calabrio_outage(c));
                return ExitCode::from(1);
            }
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

pub(crate) fn init_logging(quiet: bool) {
    let default = if quiet { "error" } else { "warn" };
    let filter = tracing_subscriber::EnvFilter::try_from_env("QM_MIGRATE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none())
        .try_init();
}
