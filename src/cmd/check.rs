//! `ringmaster check`.

use std::fmt::Write;
use std::sync::Arc;

use super::{Globals, Outcome, git_prefix, pick_format, repo_relative, repo_root};
use crate::check::change::change_rules;
use crate::check::{CheckError, CheckReport, Selection, cache, check_cached};
use crate::cli::{CheckArgs, Format};
use crate::diag::{Rule, Severity, Summary};
use crate::exit::{Exit, Failure};
use crate::report::{PathBase, github, human, json, sarif};
use crate::source::{GitIndex, GitRevision, Source, WorkTree};

pub(crate) fn run(globals: &Globals, args: &CheckArgs) -> anyhow::Result<Outcome> {
    let format = pick_format(
        globals,
        &[Format::Human, Format::Json, Format::Sarif, Format::Github],
        Format::Human,
    )?;
    if args.list_rules {
        return Ok(Outcome {
            stdout: list_rules(),
            exit: Exit::Clean,
        });
    }
    let root = repo_root(globals)?;
    let (source, selection): (Arc<dyn Source>, Selection) = if let Some(head) = &args.head {
        let git = GitRevision::open(&root, head).map_err(|e| Failure::usage(format!("{e:#}")))?;
        (Arc::new(git), Selection::All)
    } else if args.staged {
        let index = GitIndex::open(&root)?;
        let staged = index.staged().to_vec();
        (Arc::new(index), Selection::Paths(staged))
    } else if args.paths.is_empty() {
        (Arc::new(WorkTree::new(&root)), Selection::All)
    } else {
        let mut paths = Vec::new();
        for p in &args.paths {
            let full = globals.cwd.join(p);
            if !full.exists() {
                return Err(Failure::usage(format!(
                    "{}: no such file (paths are relative to the current directory)",
                    p.display()
                )));
            }
            // A path outside the config repo is not ours to check, like any
            // uncovered path: pre-commit in a monorepo passes every staged file.
            match repo_relative(&root, &globals.cwd, p) {
                // A directory stands for the files under it.
                Some(rel) if full.is_dir() => {
                    let tree = WorkTree::new(&root);
                    if rel.is_empty() {
                        paths.extend(tree.list()?);
                    } else {
                        paths.extend(
                            tree.list_dir(&rel)?.into_iter().filter(|f| {
                                f.strip_prefix(&rel).is_some_and(|r| r.starts_with('/'))
                            }),
                        );
                    }
                }
                Some(rel) => paths.push(rel),
                None => {}
            }
        }
        (Arc::new(WorkTree::new(&root)), Selection::Paths(paths))
    };
    let base = PathBase {
        prefix: if matches!(format, Format::Github | Format::Sarif) {
            git_prefix(&root)
        } else {
            String::new()
        },
    };
    let cache = if args.no_cache || cache::off_by_env() {
        None
    } else {
        // Found the way the journal is: the repo's (common) git directory.
        git2::Repository::discover(&root)
            .ok()
            .and_then(|repo| cache::Cache::open(repo.commondir()))
    };
    let checked = check_cached(&source, &selection, cache.as_ref());
    if globals.verbose
        && let Ok(CheckReport {
            cache: Some((hits, lookups)),
            ..
        }) = &checked
    {
        #[allow(clippy::print_stderr)]
        {
            anstream::eprintln!("cache: {hits} of {lookups} files from the cache");
            if let Some(cache) = &cache {
                anstream::eprintln!(
                    "cache: {} of them not read (the git index vouches they are unchanged)",
                    cache.unread()
                );
                let (class_hits, class_lookups) = cache.class_stats();
                if class_lookups > 0 {
                    anstream::eprintln!(
                        "cache: {class_hits} of {class_lookups} host classes from the cache"
                    );
                }
            }
        }
    }
    match checked {
        Ok(mut report) => {
            if let Some(base_rev) = &args.base {
                add_change_findings(&mut report, &root, base_rev, args.head.as_deref(), &source)?;
            }
            Ok(render(format, &report, &base, globals))
        }
        Err(CheckError::Manifest(err)) => {
            // The repo cannot be read: exit 2, but still say where, in the format asked for.
            let report = CheckReport {
                diagnostics: err.diagnostics.clone(),
                files: 1,
                texts: err
                    .text
                    .clone()
                    .map(|t| [(crate::config::manifest::MANIFEST_FILE.to_owned(), t)].into())
                    .unwrap_or_default(),
                ..CheckReport::default()
            };
            let mut outcome = render(format, &report, &base, globals);
            outcome.exit = Exit::Usage;
            Ok(outcome)
        }
        Err(CheckError::Other(e)) => Err(e),
    }
}

/// Runs the change rules and folds their findings in; masks secrets in every
/// message and snippet before anything is rendered.
fn add_change_findings(
    report: &mut CheckReport,
    root: &std::path::Path,
    base_rev: &str,
    head_rev: Option<&str>,
    source: &Arc<dyn Source>,
) -> anyhow::Result<()> {
    let found = change_rules(root, base_rev, head_rev)?;
    let mut all = std::mem::take(&mut report.diagnostics);
    all.extend(report.severities.apply(found.diagnostics));
    all.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
    all.dedup();
    for d in &all {
        if !report.texts.contains_key(&d.file)
            && let Ok(Some(bytes)) = source.read(&d.file)
            && let Ok(text) = String::from_utf8(bytes)
        {
            report.texts.insert(d.file.clone(), text);
        }
    }
    if !found.redactions.is_empty() {
        for d in &mut all {
            d.message = found.redactions.apply(&d.message);
            d.help = d.help.as_deref().map(|h| found.redactions.apply(h));
        }
        for text in report.texts.values_mut() {
            *text = found.redactions.apply(text);
        }
    }
    report.diagnostics = all;
    Ok(())
}

fn render(format: Format, report: &CheckReport, base: &PathBase, globals: &Globals) -> Outcome {
    // Messages quote values (a schema error on a credential URL): masked
    // here, once, before any format sees them.
    let mut masked = report.diagnostics.clone();
    for d in &mut masked {
        d.message = crate::check::secrets::redact_text(&d.message).into_owned();
        for r in &mut d.related {
            r.message = crate::check::secrets::redact_text(&r.message).into_owned();
        }
    }
    let summary = Summary::count(report.files, report.classes, &masked);
    let mut stdout = match format {
        Format::Json => json::render(&masked, summary),
        Format::Sarif => sarif::render(&masked, base),
        Format::Github => github::render(&masked, summary, base),
        _ => human::render(&masked, &report.texts, summary, globals.quiet),
    };
    if format == Format::Human && globals.verbose {
        for p in &report.skipped {
            let p = crate::report::escape::terminal(p);
            let _ = writeln!(stdout, "skipped {p}: not covered by ringmaster.yaml");
        }
    }
    let exit = if report
        .diagnostics
        .iter()
        .any(|d| d.severity == Severity::Error)
    {
        Exit::Findings
    } else {
        Exit::Clean
    };
    Outcome { stdout, exit }
}

fn list_rules() -> String {
    let mut out = String::new();
    for rule in Rule::ALL {
        let _ = writeln!(
            out,
            "{:<18} {:<8} {}",
            rule.code(),
            rule.default_severity(),
            rule.description()
        );
    }
    out
}
