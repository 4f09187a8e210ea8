#!/usr/bin/env bash
# Builds every fuzz target of latch-trust and runs each for N seconds (default 30).
# Needs cargo-fuzz (`cargo install cargo-fuzz`); uses RUSTC_BOOTSTRAP=1 on stable Rust.
# Seeds each corpus from ../../shared/testdata when it is there. Exits non-zero on the
# first crash (the input is left under fuzz/artifacts/<target>/).
set -euo pipefail

secs="${1:-30}"
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here"

if ! command -v cargo-fuzz >/dev/null 2>&1; then
    echo "cargo-fuzz is not installed: run 'cargo install cargo-fuzz'" >&2
    exit 1
fi
export RUSTC_BOOTSTRAP=1

testdata="${LATCH_TESTDATA:-$here/../../shared/testdata}"
seed() { # target, files...
    local dir="corpus/$1"
    shift
    mkdir -p "$dir"
    for f in "$@"; do
        [ -f "$f" ] && cp -f "$f" "$dir/seed-$(basename "$(dirname "$f")")-$(basename "$f")"
    done
    return 0
}
if [ -d "$testdata/dangerzone" ]; then
    dz="$testdata/dangerzone"
    seed signature_objects "$dz"/signatures/*/*/*.json
    seed decide "$dz"/signatures/valid/*/*.json
    seed pem_key "$dz"/*.pub "$dz"/*.key
fi
for t in signature_objects payload rekor pem_key decide rotation; do mkdir -p "corpus/$t"; done

# cargo-fuzz has no --locked: fetching with it first fails when Cargo.lock is out of date,
# and the build then uses exactly the versions locked.
cargo fetch --locked --quiet
cargo fuzz build
for target in $(cargo fuzz list); do
    echo "== fuzz $target for ${secs}s"
    cargo fuzz run "$target" "corpus/$target" -- -max_total_time="$secs"
done
echo "all fuzz targets ran ${secs}s without a crash"
