#!/usr/bin/env bash
# Builds the `latch` wheel (maturin, abi3 for CPython 3.9+), installs it into a fresh
# virtual environment, and runs its pytest suite against a real registry.
#
# Needs: python3 with venv and pip, network access to PyPI (maturin, pytest,
# cryptography), Rust, and Debian's docker-registry and skopeo on PATH (.ci/run installs
# them). The cosign test uses the shared peer tools ($LATCH_SHARED or ../shared beside
# the repository; .ci/run unpacks them into target/peer-tools).
#
# The wheel is built in the workspace's target directory, reusing what `cargo build`
# and `cargo test` compiled (same dev profile: dependencies at opt-level 2).
#
#   crates/latch-python/run-tests.sh [pytest arguments...]
#
# Environment: PYTHON (default python3), CARGO_TARGET_DIR (default <repo>/target),
# LATCH_PYTHON_WORK (venv and wheel folder, default <target>/python).
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
python="${PYTHON:-python3}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$repo/target}"
work="${LATCH_PYTHON_WORK:-$CARGO_TARGET_DIR/python}"
venv="$work/venv"
wheels="$work/wheels"

log() { printf '== %s\n' "$*" >&2; }
start=$(date +%s)

log "fresh virtual environment in $venv"
rm -rf "$venv" "$wheels"
mkdir -p "$work"
"$python" -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
    "maturin>=1.9,<2" "pytest>=7,<10" "cryptography>=41" "mypy>=1.10"

log "building the wheel (maturin, dev profile, target $CARGO_TARGET_DIR)"
(
    cd "$here"
    # `--compatibility linux`: a wheel for this machine, not audited for manylinux
    # (publishing would build in a manylinux container instead).
    "$venv/bin/maturin" build --quiet --strip --compatibility linux \
        --interpreter "$venv/bin/python" --out "$wheels"
)
shopt -s nullglob
built=("$wheels"/latch-*.whl)
if [ ${#built[@]} -ne 1 ]; then
    echo "expected one wheel in $wheels, found: ${built[*]:-none}" >&2
    exit 1
fi
log "installing ${built[0]##*/}"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-index --no-deps \
    "${built[0]}"
built_at=$(date +%s)
log "wheel ready in $((built_at - start)) s"

# Run from the tests folder so that `import latch` finds the installed wheel, never the
# sources under python/.
cd "$here/tests"
"$venv/bin/python" -m pytest -p no:cacheprovider -q "$@" .
