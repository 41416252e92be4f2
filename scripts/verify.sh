#!/usr/bin/env bash
# The reliability checks beyond `cargo test`, in a form that takes a few minutes:
# the loom models of the flush barrier, a fuzz smoke run, and the damage property tests.
# scripts/verify-long.sh is the long pre-release run.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== loom: the flush barrier (src/sync/flush.rs)"
# Its own target dir: --cfg loom would otherwise invalidate the main build's cache.
RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target/loom cargo test -p tapelog --lib loom
RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target/loom cargo test -p tapelog-segment --lib loom

echo "== fuzz smoke run (30 s; falls back to the stable replay without nightly/cargo-fuzz)"
scripts/fuzz.sh 30

echo "== property tests over the segment readers, and the fuzz entry on stable"
cargo test -p tapelog \
  --test damaged_segments_never_panic_or_overallocate \
  --test damage_costs_only_the_entries_it_hits \
  --test every_prefix_of_a_segment_decodes_exactly_the_entries_that_fit \
  --test fuzz_entry_survives_the_seed_corpus_and_mutations
