#!/usr/bin/env bash
# Bounded fuzz run of the segment readers (fuzz/entry.rs through cargo-fuzz and libFuzzer).
#
#   scripts/fuzz.sh            # 60 s
#   scripts/fuzz.sh 3600       # the pre-release run (scripts/verify-long.sh uses 1800 s)
#
# Needs the nightly toolchain and cargo-fuzz (`cargo install cargo-fuzz`). Without them it
# says so and runs the stable replay of the same entry function instead, so it always
# checks something real; TAPELOG_FUZZ_REQUIRED=1 makes a missing tool an error.
# The seed corpus is built from the committed fixtures (decoder/tests/fixtures); findings
# land in fuzz/artifacts/segment_reader/, which the stable replay test also replays.
set -euo pipefail
cd "$(dirname "$0")/.."

secs=${1:-60}
target=segment_reader
corpus=fuzz/corpus/$target
mkdir -p "$corpus"
for f in decoder/tests/fixtures/*/*.tlog; do
  cp "$f" "$corpus/fixture-$(basename "$(dirname "$f")")-$(basename "$f")"
done

fallback() {
  echo "fuzz.sh: SKIPPED libFuzzer: $1" >&2
  if [ "${TAPELOG_FUZZ_REQUIRED:-0}" = 1 ]; then
    exit 1
  fi
  echo "fuzz.sh: running the stable replay of the same entry function instead" >&2
  cargo test -p tapelog --test fuzz_entry_survives_the_seed_corpus_and_mutations
  exit 0
}

rustup toolchain list 2>/dev/null | grep -q '^nightly' || fallback "no nightly toolchain (rustup toolchain install nightly)"
cargo +nightly fuzz --version >/dev/null 2>&1 || fallback "cargo-fuzz is not installed (cargo install cargo-fuzz)"

# -malloc_limit_mb: any single allocation over 64 MiB is a finding (the readers never need
# more than the input holds, and the inputs are small). -rss_limit_mb bounds the total.
exec cargo +nightly fuzz run --fuzz-dir fuzz "$target" "$corpus" -- \
  -max_total_time="$secs" -malloc_limit_mb=64 -rss_limit_mb=1024 -print_final_stats=1
