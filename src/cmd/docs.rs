//! `ringmaster completions SHELL` and `ringmaster man`: generated from the
//! clap definition in `cli.rs`, so they never drift from the real flags.

use std::path::Path;

use clap::CommandFactory;

use super::{Globals, Outcome, write_atomically};
use crate::cli::Cli;
use crate::exit::{Exit, Failure};

/// The completion script for `shell`, on stdout.
pub(crate) fn completions(shell: clap_complete::Shell) -> Outcome {
    let mut command = Cli::command();
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut command, "ringmaster", &mut script);
    Outcome {
        stdout: String::from_utf8_lossy(&script).into_owned(),
        exit: Exit::Clean,
    }
}

/// The top-level man page on stdout, or with `--dir` one page per command
/// (`ringmaster.1`, `ringmaster-check.1`, `ringmaster-rollout-run.1`, …).
pub(crate) fn man(globals: &Globals, dir: Option<&Path>) -> anyhow::Result<Outcome> {
    let mut command = Cli::command();
    command.build();
    let Some(dir) = dir else {
        return Ok(Outcome {
            stdout: render_page(&command, "ringmaster")?,
            exit: Exit::Clean,
        });
    };
    let dir = globals.cwd.join(dir);
    if !dir.is_dir() {
        return Err(Failure::usage(format!(
            "--dir {}: not a directory (create it first: mkdir -p {})",
            dir.display(),
            dir.display()
        )));
    }
    let mut written = Vec::new();
    write_pages(&command, "ringmaster", &dir, &mut written)?;
    Ok(Outcome {
        stdout: format!("wrote {} man pages to {}\n", written.len(), dir.display()),
        exit: Exit::Clean,
    })
}

fn render_page(command: &clap::Command, title: &str) -> anyhow::Result<String> {
    let mut page = Vec::new();
    clap_mangen::Man::new(command.clone())
        .title(title.to_uppercase())
        .render(&mut page)
        .map_err(|e| Failure::operational(format!("cannot render the man page: {e}")))?;
    Ok(String::from_utf8_lossy(&page).into_owned())
}

fn write_pages(
    command: &clap::Command,
    name: &str,
    dir: &Path,
    written: &mut Vec<String>,
) -> anyhow::Result<()> {
    // The page's title is the full command (`ringmaster-rollout-run`), as
    // git and cargo name theirs.
    let page = render_page(command, name)?;
    let file = format!("{name}.1");
    write_atomically(&dir.join(&file), page.as_bytes())?;
    written.push(file);
    for sub in command.get_subcommands() {
        if sub.get_name() == "help" {
            continue;
        }
        write_pages(sub, &format!("{name}-{}", sub.get_name()), dir, written)?;
    }
    Ok(())
}
