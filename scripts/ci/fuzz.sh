#!/usr/bin/env bash
# Fuzz smoke run: builds every target in fuzz/ and runs each for a fixed time on its
# committed seed corpus; fails on any crash. FUZZ_SECONDS overrides the 30 s per target.
#
# cargo-fuzz passes nightly-only rustc flags (-Z sanitizer, coverage options); only the
# stable toolchain is installed, so RUSTC_BOOTSTRAP=1 lets stable rustc accept them.
# Targets are built without a sanitizer (-s none): authgate forbids unsafe code, so
# AddressSanitizer would only slow the run down; debug assertions and overflow checks
# stay on (-a and the fuzz profile), so panics and overflows are what is caught.
set -euo pipefail
cd "$(dirname "$0")/../../fuzz"
export RUSTC_BOOTSTRAP=1
seconds="${FUZZ_SECONDS:-30}"

if ! cargo fuzz --version >/dev/null 2>&1; then
  cargo install --locked cargo-fuzz --version 0.13.2
fi

started=$SECONDS
cargo fuzz build -s none -a
echo "fuzz: built in $((SECONDS - started)) s"

for target in $(cargo fuzz list); do
  # New inputs go to a scratch directory: the committed corpus stays the small seed set.
  grown="$(mktemp -d)"
  echo "fuzz: $target for ${seconds} s"
  if ! cargo fuzz run -s none -a "$target" "$grown" "corpus/$target" -- \
      -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
      2>"$grown.log"; then
    tail -n 60 "$grown.log"
    echo "fuzz: $target FAILED; the input is in fuzz/artifacts/$target/" >&2
    exit 1
  fi
  grep -E '^(Done|stat::number_of_executed_units|stat::average_exec_per_sec)|cov:' "$grown.log" | tail -n 3
  rm -rf "$grown" "$grown.log"
done
echo "fuzz: all targets ran ${seconds} s without a crash ($((SECONDS - started)) s in all)"
