//! Parse, run, map to an exit code, print an error once.

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;
use ringmaster::cli::{Cli, ColorWhen};
use ringmaster::exit::{Exit, Failure};

// mimalloc: parsing thousands of small files in parallel is allocation-bound,
// and glibc's malloc contends across threads.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let choice = match cli.color {
        ColorWhen::Always => anstream::ColorChoice::Always,
        ColorWhen::Never => anstream::ColorChoice::Never,
        ColorWhen::Auto => anstream::ColorChoice::Auto,
    };
    choice.write_global();
    let cwd = match std::env::current_dir() {
        Ok(d) => d,
        Err(e) => {
            return fail(
                Exit::Usage,
                &format!("cannot read the current directory: {e}"),
            );
        }
    };
    match ringmaster::run(&cli, cwd) {
        Ok(outcome) => {
            let mut stdout = anstream::stdout().lock();
            if let Err(e) = stdout
                .write_all(outcome.stdout.as_bytes())
                .and_then(|()| stdout.flush())
            {
                // A closed pipe (`| head`) is the reader's choice, not a failure.
                if e.kind() != std::io::ErrorKind::BrokenPipe {
                    return fail(Exit::Operational, &format!("cannot write output: {e}"));
                }
            }
            ExitCode::from(outcome.exit.code() as u8)
        }
        Err(err) => {
            // Anything without its own code (a bad manifest, an unknown
            // revision, an unreadable repo) is exit 2: the repo cannot be read.
            let exit = err
                .downcast_ref::<Failure>()
                .map_or(Exit::Usage, |f| f.exit);
            fail(exit, &format!("{err:#}"))
        }
    }
}

fn fail(exit: Exit, message: &str) -> ExitCode {
    let mut stderr = anstream::stderr().lock();
    let _ = writeln!(
        stderr,
        "error: {}",
        ringmaster::report::escape::terminal_lines(message)
    );
    ExitCode::from(exit.code() as u8)
}
