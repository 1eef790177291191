use std::collections::BTreeMap;
use std::io;

use super::{OutsideRepo, Source, confine};

/// Files held in memory: for tests and for callers that build a repo on the fly.
#[derive(Debug, Clone, Default)]
pub struct MemorySource {
    files: BTreeMap<String, Vec<u8>>,
}

impl MemorySource {
    pub fn new(files: &[(&str, &str)]) -> Self {
        MemorySource {
            files: files
                .iter()
                .map(|(p, t)| (p.to_string(), t.as_bytes().to_vec()))
                .collect(),
        }
    }

    pub fn insert(&mut self, path: &str, bytes: impl Into<Vec<u8>>) {
        self.files.insert(path.to_owned(), bytes.into());
    }
}

impl Source for MemorySource {
    fn read(&self, path: &str) -> io::Result<Option<Vec<u8>>> {
        let path = confine(path).map_err(|e| OutsideRepo::error(&e.path))?;
        Ok(self.files.get(&path).cloned())
    }

    fn list(&self) -> anyhow::Result<Vec<String>> {
        Ok(self.files.keys().cloned().collect())
    }

    fn label(&self) -> String {
        "memory".into()
    }
}
