//! The fuzz target's entry function (`fuzz/entry.rs`) on the stable toolchain, so CI always
//! runs it: it replays the seed corpus (the committed fixtures, a fresh segment, and
//! whatever `scripts/fuzz.sh` left in `fuzz/corpus/` and `fuzz/artifacts/`), then
//! deterministic random mutations of the fixtures and the fresh segment: byte flips,
//! length-like fields overwritten with edge values, cuts, duplicated and deleted ranges.
//!
//! `TAPELOG_FUZZ_MUTATIONS=200000 cargo test --release --test fuzz_entry_survives_the_seed_corpus_and_mutations`
//! for a longer run (the default is 10000 mutations per seed).

mod common;
#[path = "../fuzz/entry.rs"]
mod entry;
#[path = "common/segments.rs"]
mod segments;

use std::path::Path;

/// Inputs from these directories are mutated; those from the fuzzer's own corpus and
/// findings (hundreds of files after a run) are only replayed.
const MUTATED_DIRS: [&str; 1] = ["decoder/tests/fixtures/v1"];
const REPLAYED_DIRS: [&str; 2] = ["fuzz/corpus/segment_reader", "fuzz/artifacts/segment_reader"];

fn files_in(dirs: &[&str]) -> Vec<(String, Vec<u8>)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut out = Vec::new();
    for dir in dirs {
        let Ok(rd) = std::fs::read_dir(root.join(dir)) else { continue };
        let mut paths: Vec<_> = rd.filter_map(|e| e.ok()).map(|e| e.path()).filter(|p| p.is_file()).collect();
        paths.sort();
        for p in paths {
            out.push((p.display().to_string(), std::fs::read(&p).unwrap()));
        }
    }
    out
}

fn seeds() -> Vec<(String, Vec<u8>)> {
    let mut out = vec![("golden segment".to_string(), segments::golden().to_vec())];
    out.extend(files_in(&MUTATED_DIRS));
    assert!(out.len() >= 2, "the committed fixtures are missing");
    out
}

/// xorshift64: deterministic, so a failure names a reproducible (seed, mutation) pair.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

const EDGES: [u64; 8] = [0, 1, 0x7f, 0xffff, 1 << 30, (1 << 30) + 1, u32::MAX as u64, u64::MAX];

fn mutate(rng: &mut Rng, seed: &[u8]) -> Vec<u8> {
    let mut v = seed.to_vec();
    for _ in 0..1 + rng.below(4) {
        if v.is_empty() {
            v.push(rng.next() as u8);
            continue;
        }
        match rng.below(6) {
            0 => {
                let i = rng.below(v.len());
                v[i] ^= 1 << rng.below(8);
            }
            1 => {
                let i = rng.below(v.len());
                v[i] = rng.next() as u8;
            }
            2 => {
                // A length-like field: 2, 4 or 8 bytes set to an edge value.
                let w = [2, 4, 8][rng.below(3)];
                let i = rng.below(v.len());
                let b = EDGES[rng.below(EDGES.len())].to_le_bytes();
                for (k, byte) in b.iter().take(w).enumerate() {
                    if let Some(x) = v.get_mut(i + k) {
                        *x = *byte;
                    }
                }
            }
            3 => v.truncate(rng.below(v.len() + 1)),
            4 => {
                let a = rng.below(v.len());
                let n = rng.below((v.len() - a).min(256) + 1);
                let piece = v[a..a + n].to_vec();
                let at = rng.below(v.len() + 1);
                v.splice(at..at, piece);
            }
            _ => {
                let a = rng.below(v.len());
                let n = rng.below((v.len() - a).min(256) + 1);
                v.drain(a..a + n);
            }
        }
    }
    v
}

#[test]
fn the_fuzz_entry_survives_the_seeds_and_their_mutations() {
    let per_seed: usize = std::env::var("TAPELOG_FUZZ_MUTATIONS").ok().and_then(|s| s.parse().ok()).unwrap_or(10_000);
    for (name, input) in files_in(&REPLAYED_DIRS) {
        let r = std::panic::catch_unwind(|| entry::read_segment(&input));
        assert!(r.is_ok(), "{name} panicked");
    }
    for (si, (name, seed)) in seeds().iter().enumerate() {
        entry::read_segment(seed);
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ (si as u64 + 1));
        for m in 0..per_seed {
            let v = mutate(&mut rng, seed);
            let r = std::panic::catch_unwind(|| entry::read_segment(&v));
            if r.is_err() {
                let out = std::env::temp_dir().join(format!("tapelog-fuzz-crash-{si}-{m}.tlog"));
                std::fs::write(&out, &v).unwrap();
                panic!("mutation {m} of {name} panicked; input saved to {}", out.display());
            }
        }
    }
}
