#!/usr/bin/env bash
# The Debian package, tested for real: builds it (packaging/deb/build.sh, release binary),
# checks it against Debian policy with lintian, installs it on this machine with dpkg -i,
# runs `latch demo` and `man latch` from it, checks the completions and the binary's size
# (at most 8 MB, BENCHMARKS.md "Binary size"), then purges it and checks that nothing it
# installed is left. Needs root (dpkg -i); without root it says so and skips, except
# under CI=true, where that is a failure.
#
#   packaging/deb/test.sh [--deb FILE]
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
max_size=8000000
deb=""
[ "${1:-}" = "--deb" ] && deb="$2"
fail() { echo "deb test FAILED: $*" >&2; exit 1; }
log() { printf '== %s\n' "$*" >&2; }

if [ "$(id -u)" -ne 0 ]; then
    [ "${CI:-}" = "true" ] && fail "needs root for dpkg -i"
    echo "skipping the Debian package test: it needs root (dpkg -i)" >&2
    exit 0
fi
for tool in dpkg-deb dpkg-shlibdeps lintian man; do
    command -v "$tool" >/dev/null || fail "$tool is missing (.ci/run installs dpkg-dev, lintian, man-db)"
done

[ -n "$deb" ] || deb="$("$here/build.sh")"
[ -f "$deb" ] || fail "no package at $deb"
log "package: $deb ($(stat -c %s "$deb") bytes)"

log "lintian"
# bogus-mail-host: the default maintainer address is example.invalid until the project has one.
lintian --fail-on error,warning --suppress-tags bogus-mail-host "$deb" \
    || fail "lintian found errors or warnings in $deb"

# A leftover from an interrupted run is removed first (idempotent).
if dpkg-query -W -f='${Status}' latch 2>/dev/null | grep -q installed; then
    dpkg --purge latch >/dev/null
fi
[ ! -e /usr/bin/latch ] || fail "/usr/bin/latch exists and is not from the latch package"

work="$(mktemp -d)"
cleanup() {
    dpkg-query -W -f='${Status}' latch 2>/dev/null | grep -q installed && dpkg --purge latch >/dev/null 2>&1
    rm -rf "$work"
}
trap cleanup EXIT

log "dpkg -i"
# --path-include: installed even where the image's dpkg config leaves out /usr/share/man.
dpkg --path-include='/usr/share/man/man1/latch*' -i "$deb" >/dev/null
dpkg-query -W -f='${Status}' latch | grep -q "install ok installed" || fail "dpkg -i did not install latch"
dpkg -L latch > "$work/files"

size="$(stat -c %s /usr/bin/latch)"
log "/usr/bin/latch: $size bytes"
[ "$size" -le "$max_size" ] || fail "/usr/bin/latch is $size bytes, more than $max_size"
/usr/bin/latch --version | grep -q '^latch ' || fail "latch --version"

log "latch demo, from the package"
(cd "$work" && HOME="$work" /usr/bin/latch demo --data-dir "$work/demo") > "$work/demo.out" 2>&1 \
    || { cat "$work/demo.out" >&2; fail "latch demo"; }
grep -qi 'verified' "$work/demo.out" || { cat "$work/demo.out" >&2; fail "latch demo printed no verification"; }

log "man pages"
MANPAGER=cat MANWIDTH=80 man latch > "$work/man.txt" 2>/dev/null || fail "man latch"
grep -q 'upgrade' "$work/man.txt" || fail "man latch does not list the upgrade command"
MANPAGER=cat man latch-upgrade 2>/dev/null | grep -q -- '--profile' || fail "man latch-upgrade"
pages="$(grep -c '^/usr/share/man/man1/latch.*\.1\.gz$' "$work/files")"
commands="$(/usr/bin/latch --help | sed -n '/^Commands:/,/^$/p' | grep -c '^  [a-z]')"
# One page for latch itself, one per command (`help` has none).
[ "$pages" -ge "$commands" ] || fail "$pages man pages for $commands commands"

log "completions"
bash -c 'source /usr/share/bash-completion/completions/latch && complete -p latch' >/dev/null \
    || fail "the bash completion does not register for latch"
grep -q 'upgrade' /usr/share/zsh/vendor-completions/_latch || fail "zsh completion"
grep -q 'upgrade' /usr/share/fish/vendor_completions.d/latch.fish || fail "fish completion"

log "dpkg --purge"
dpkg --purge latch >/dev/null
dpkg-query -W -f='${Status}' latch 2>/dev/null | grep -q "install ok" && fail "latch is still installed"
left=0
while read -r f; do
    if [ -f "$f" ] || [ -L "$f" ]; then echo "left behind: $f" >&2; left=1; fi
done < "$work/files"
[ "$left" -eq 0 ] || fail "files left after dpkg --purge"
[ ! -e /usr/share/doc/latch ] || fail "/usr/share/doc/latch left after dpkg --purge"
log "Debian package: ok"
