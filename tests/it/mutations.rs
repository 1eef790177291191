//! Hostile input, in bulk: thousands of random mutations of real config files
//! (byte flips, insertions of YAML punctuation, truncations, splices) must
//! each yield findings or a tree, never a panic or an unbounded allocation.
//! Seeded, so a failure names an input that can be replayed.

use ringmaster::config::document::{Limits, parse};

use crate::support::Rng;

const PUNCTUATION: &[&[u8]] = &[
    b":",
    b"- ",
    b"[",
    b"]",
    b"{",
    b"}",
    b"&a ",
    b"*a",
    b"!unset",
    b"!!str ",
    b"'",
    b"\"",
    b"|",
    b">",
    b"\n  ",
    b"\t",
    b"#",
    b"---\n",
    b"...\n",
    b"? ",
    b"<<: *a\n",
    b"\\",
    b"\xff",
    b"\0",
    b"%YAML 1.2\n",
];

fn mutate(rng: &mut Rng, seed: &[u8]) -> Vec<u8> {
    let mut bytes = seed.to_vec();
    for _ in 0..rng.index(6) + 1 {
        let at = rng.index(bytes.len() + 1);
        match rng.index(5) {
            0 if !bytes.is_empty() => {
                let i = at.min(bytes.len() - 1);
                bytes[i] ^= 1 << rng.index(8);
            }
            1 => {
                let p = PUNCTUATION[rng.index(PUNCTUATION.len())];
                bytes.splice(at..at, p.iter().copied());
            }
            2 => bytes.truncate(at),
            3 if !bytes.is_empty() => {
                // Duplicate a random slice somewhere else: repeated keys, nesting.
                let start = rng.index(bytes.len());
                let end = (start + rng.index(64)).min(bytes.len());
                let slice = bytes[start..end].to_vec();
                let at = at.min(bytes.len());
                bytes.splice(at..at, slice);
            }
            _ => {
                let end = (at + rng.index(16)).min(bytes.len());
                bytes.drain(at..end);
            }
        }
    }
    bytes
}

#[test]
fn random_mutations_of_real_files_never_panic() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let seeds: Vec<Vec<u8>> = [
        "examples/shop/ringmaster.yaml",
        "examples/shop/config/defaults.yaml",
        "examples/shop/config/class/api-acme.yaml",
        "examples/shop/flags/new-checkout.yaml",
        "examples/shop/schemas/layer.schema.json",
        "rings/dogfood.yaml",
    ]
    .iter()
    .map(|p| std::fs::read(root.join(p)).expect("seed file"))
    .collect();
    let limits = Limits::default();
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    let mut with_findings = 0;
    for i in 0..3000 {
        let seed = &seeds[i % seeds.len()];
        let input = mutate(&mut rng, seed);
        let result = std::panic::catch_unwind(|| parse("fuzz.yaml", &input, &limits));
        let parsed = result.unwrap_or_else(|_| {
            panic!(
                "iteration {i}: the parser panicked on:\n{}",
                String::from_utf8_lossy(&input)
            )
        });
        for d in &parsed.diagnostics {
            assert!(
                d.pos.line >= 1 && d.pos.col >= 1,
                "iteration {i}: position {:?}",
                d.pos
            );
        }
        // Every tree converts to JSON (what schema validation consumes).
        for doc in &parsed.docs {
            let _ = doc.to_json();
        }
        with_findings += usize::from(!parsed.diagnostics.is_empty());
    }
    // The mutations are hostile enough to matter: most inputs draw findings.
    assert!(
        with_findings > 1000,
        "only {with_findings} of 3000 inputs had findings"
    );
}
