//! A config repo at one point in time (working tree, index or a revision):
//! its manifest and the effective config of any class, computed on demand.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;

use anyhow::anyhow;

use crate::config::effective::{
    EffectiveConfig, Layers, TraceDepth, Unrenderable, files_for, load_layers,
};
use crate::config::manifest::{HostClass, Manifest};
use crate::exit::Failure;
use crate::flags::{Flag, apply_flags, load_flags};
use crate::model::suggest::closest;
use crate::source::{GitRevision, Source, WorkTree};

pub struct Snapshot {
    pub source: Arc<dyn Source>,
    pub manifest: Manifest,
    /// "working tree", or the revision as typed.
    pub label: String,
    /// The commit, for revisions.
    pub commit: Option<String>,
    /// The repo's feature flags (empty without a `flags:` directory).
    pub flags: Vec<Flag>,
    /// How much of the merge trace `merge` keeps: `explain` and `render
    /// --provenance` show every contributor of a merged mapping, `diff`
    /// does not need them.
    pub trace: TraceDepth,
}

impl Snapshot {
    /// Opens the working tree (`rev = None`) or a revision, read from git objects.
    pub fn open(root: &Path, rev: Option<&str>) -> anyhow::Result<Snapshot> {
        let (source, label, commit): (Arc<dyn Source>, String, Option<String>) = match rev {
            None => (Arc::new(WorkTree::new(root)), "working tree".into(), None),
            Some(rev) => {
                let git =
                    GitRevision::open(root, rev).map_err(|e| Failure::usage(format!("{e:#}")))?;
                let commit = git.commit().to_string();
                (Arc::new(git), rev.to_owned(), Some(commit))
            }
        };
        let loaded = Manifest::load(source.as_ref()).map_err(|e| {
            let where_ = if rev.is_some() {
                format!(" at {label}")
            } else {
                String::new()
            };
            Failure::usage(format!("ringmaster.yaml{where_} cannot be read: {e}"))
        })?;
        if let Some(d) =
            crate::config::links::link_errors(&loaded.manifest, source.as_ref()).first()
        {
            return Err(Failure::usage(format!(
                "ringmaster.yaml{} cannot be read: {}:{}: {}",
                rev.map(|_| format!(" at {label}")).unwrap_or_default(),
                d.file,
                d.pos,
                d.message
            )));
        }
        let (flags, _) = load_flags(&loaded.manifest, source.as_ref())?;
        Ok(Snapshot {
            source,
            manifest: loaded.manifest,
            label,
            commit,
            flags,
            trace: TraceDepth::Full,
        })
    }

    /// A repo with nothing in it: the base of a ring's first delivery, so
    /// what it is about to get shows as added values.
    pub fn empty(label: &str) -> anyhow::Result<Snapshot> {
        let source: Arc<dyn Source> = Arc::new(crate::source::MemorySource::new(&[(
            crate::config::manifest::MANIFEST_FILE,
            "version: 1\n",
        )]));
        let loaded = Manifest::load(source.as_ref()).map_err(|e| anyhow!("{e}"))?;
        Ok(Snapshot {
            source,
            manifest: loaded.manifest,
            label: label.to_owned(),
            commit: None,
            flags: Vec::new(),
            trace: TraceDepth::Full,
        })
    }

    /// Looks a class up, with a "did you mean" for typos (exit 2).
    pub fn class(&self, name: &str) -> anyhow::Result<&HostClass> {
        self.manifest.host_classes.get(name).ok_or_else(|| {
            let hint = closest(name, self.manifest.host_classes.keys().map(String::as_str))
                .map(|c| format!("; did you mean `{c}`?"))
                .unwrap_or_default();
            let known = if self.manifest.host_classes.is_empty() {
                " (ringmaster.yaml defines no host_classes)".to_string()
            } else {
                String::new()
            };
            Failure::usage(format!(
                "unknown host class `{name}` in the {}{hint}{known}",
                self.label
            ))
        })
    }

    /// Parses the layers the given classes use.
    pub fn layers_for<'a>(
        &self,
        classes: impl Iterator<Item = &'a HostClass>,
    ) -> anyhow::Result<Layers> {
        let files: BTreeSet<String> = files_for(&self.manifest, classes);
        load_layers(self.source.as_ref(), &files, &self.manifest.limits)
    }

    /// One class's effective config. A layer that does not parse is an error
    /// that names the file and line.
    pub fn effective(&self, class: &HostClass) -> anyhow::Result<EffectiveConfig> {
        let layers = self.layers_for(std::iter::once(class))?;
        self.merge(class, &layers)
            .map_err(|u| anyhow!(Failure::usage(format!("{u} (in the {})", self.label))))
    }

    pub fn merge(
        &self,
        class: &HostClass,
        layers: &Layers,
    ) -> Result<EffectiveConfig, Unrenderable> {
        let (mut config, _) = crate::config::interpolate::merge_interpolated(
            &self.manifest,
            class,
            layers,
            self.trace,
        )?;
        // Flags come after every expanded layer.
        let flag_layer = config.layers.len();
        apply_flags(&mut config, class, &self.flags, flag_layer);
        Ok(config)
    }
}
