//! Journals written by the release before the events were typed must still
//! verify, replay to the status that release showed, and re-serialise to the
//! very bytes that were hashed (tests/data/journal-compat/, made by its
//! `make.sh` with that release's binary).

use std::path::Path;

use crate::rollout::journal::{Entry, Journal, JournalStore as _, hash_body};
use crate::rollout::state::{Event, RingPhase};

const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/journal-compat");

/// The fixture journal, copied where [`Journal::at`] looks for it.
fn fixture() -> (tempfile::TempDir, Journal) {
    let dir = tempfile::tempdir().expect("temp dir");
    let into = dir.path().join("ringmaster");
    std::fs::create_dir_all(&into).expect("journal dir");
    for file in ["journal.jsonl", "journal.head"] {
        std::fs::copy(Path::new(FIXTURE).join(file), into.join(file)).expect("fixture file");
    }
    let journal = Journal::at(dir.path());
    (dir, journal)
}

fn lines() -> Vec<String> {
    std::fs::read_to_string(Path::new(FIXTURE).join("journal.jsonl"))
        .expect("fixture journal")
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn a_journal_of_the_previous_release_verifies() {
    let (_dir, journal) = fixture();
    assert_eq!(journal.verify().expect("readable"), vec![]);
    assert_eq!(journal.entries().expect("entries").len(), lines().len());
}

#[test]
fn every_entry_of_the_previous_release_re_serialises_to_its_bytes() {
    let (_dir, journal) = fixture();
    let entries = journal.entries().expect("entries");
    for (line, entry) in lines().iter().zip(&entries) {
        // Through the typed event and back: the exact JSON that was hashed.
        let mut typed: Entry = entry.clone();
        let event: Event = serde_json::from_value(entry.body.event.clone())
            .unwrap_or_else(|e| panic!("entry {}: {e}", entry.body.seq));
        typed.body.event = serde_json::to_value(&event).expect("serialises");
        assert_eq!(&serde_json::to_string(&typed).expect("serialises"), line);
        assert_eq!(
            hash_body(&typed.body),
            entry.hash,
            "entry {}",
            entry.body.seq
        );
    }
}

#[test]
fn a_journal_of_the_previous_release_replays_to_the_status_it_showed() {
    let (_dir, journal) = fixture();
    let entries = journal.entries().expect("entries");
    for n in [1, 2] {
        let shown: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(Path::new(FIXTURE).join(format!("status-{n}.json")))
                .expect("status fixture"),
        )
        .expect("status JSON");
        let id = shown["id"].as_str().expect("id");
        let state = super::replay(&entries, id).expect("replays");
        let mut replayed = serde_json::to_value(&state).expect("serialises");
        // What `status` adds to the replay: what each ring's target holds
        // (asked of the target, not in the journal), and a rolled-back ring's
        // revision as the one it was restored to.
        for (i, ring) in state.rings.iter().enumerate() {
            replayed["rings"][i]["current"] = shown["rings"][i]["current"].clone();
            if ring.state == RingPhase::RolledBack {
                replayed["rings"][i]["revision"] = serde_json::json!(ring.previous);
            }
        }
        assert_eq!(replayed, shown, "{id}");
    }
    assert_eq!(super::frozen(&entries), None);
    assert_eq!(
        super::frozen(&entries[..2]).as_deref(),
        Some("quarterly close")
    );
}
