#!/usr/bin/env bash
# Builds mediasoup's C++ media worker from source, offline, against Debian 12's libraries, and
# installs it where mediasoup looks for it: node_modules/mediasoup/worker/out/Release/mediasoup-worker.
#   scripts/mediasoup-worker.sh           build once (a few minutes), later runs reuse it
#   scripts/mediasoup-worker.sh --force   build again, ignoring the installed and the cached binary
# Built binaries are kept in $SOTTO_CACHE_DIR (default /var/cache/sotto) so that `npm ci`, which
# wipes node_modules, does not cost another build. Why and how: sfu/worker-build/README.md.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
FORCE=0
for a in "$@"; do
  case "$a" in
    --force) FORCE=1 ;;
    -h|--help) sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "mediasoup-worker.sh: unknown option '$a' (try --help)" >&2; exit 2 ;;
  esac
done

step() { printf '\033[1m==> %s\033[0m\n' "$*"; }
die() { echo "mediasoup-worker.sh: $*" >&2; exit 1; }

# The shims name the library versions of mediasoup 3.12.16's wrap files, which are the ones
# Debian 12 ships; another mediasoup version needs its own look (see the README).
SUPPORTED=3.12.16
SHIMS=sfu/worker-build/subprojects
WORKER=node_modules/mediasoup/worker
DEST=$WORKER/out/Release/mediasoup-worker
STAMP=$WORKER/out/Release/.sotto-build-key
NODE=node_modules/.bin/node
# Release build as mediasoup's own Makefile configures it; only the wrap mode differs.
MESON_ARGS=(--wrap-mode=nodownload --buildtype release -Db_ndebug=true -Db_pie=true -Db_staticpic=true)

[ -x "$NODE" ] && [ -f node_modules/mediasoup/package.json ] \
  || die "node_modules/mediasoup is missing; install the npm packages first (scripts/setup.sh does)"
version=$("$NODE" -p 'require("./node_modules/mediasoup/package.json").version')
[ "$version" = "$SUPPORTED" ] || die "the shims in $SHIMS/ are written for mediasoup $SUPPORTED (the library \
versions Debian 12 ships), but node_modules has mediasoup $version; see sfu/worker-build/README.md"

# Same mediasoup version, same shims and same build flags give the same binary.
key=$( { find "$SHIMS" -type f -print0 | sort -z | xargs -0 sha256sum; echo "${MESON_ARGS[*]}"; } \
  | sha256sum | cut -c1-16)
key="$version-$key"
built_here() { [ -x "$DEST" ] && [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$key" ]; }
if [ "$FORCE" = 0 ] && built_here; then exit 0; fi

# Two setup runs at once (two terminals, or npm start next to npm test) would otherwise build
# twice into the same place. The lock lives in node_modules so that npm ci resets it too.
mkdir -p "$WORKER/out"
exec 9>"$WORKER/out/.sotto-build.lock"
if ! flock -n 9; then
  echo "mediasoup-worker.sh: waiting for another build of the mediasoup worker to finish"
  flock 9
  if [ "$FORCE" = 0 ] && built_here; then exit 0; fi
fi

# --- Debian packages: compiler, build tools and the libraries the shims hand to mediasoup ------
pkgs=(meson ninja-build pkg-config g++ make libuv1-dev libsrtp2-dev libusrsctp-dev libabsl-dev nlohmann-json3-dev libssl-dev)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  [ "$(id -u)" = 0 ] || die "missing Debian packages: ${missing[*]}; run as root or: sudo apt-get install -y ${missing[*]}"
  step "Installing Debian packages to build the media worker: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# Installs a binary atomically (a half-copied worker must never be found by mediasoup) and
# checks that mediasoup can start it.
install_and_check() {
  rm -f "$STAMP" &&
    mkdir -p "$(dirname "$DEST")" &&
    cp "$1" "$DEST.tmp.$$" &&
    chmod 755 "$DEST.tmp.$$" &&
    mv -f "$DEST.tmp.$$" "$DEST" &&
    env -u MEDIASOUP_WORKER_BIN "$NODE" sfu/worker-build/check-worker.ts
}

cache_dir=${SOTTO_CACHE_DIR:-/var/cache/sotto}
cached=$cache_dir/mediasoup-worker-$key
if [ "$FORCE" = 0 ] && [ -x "$cached" ]; then
  step "Installing the mediasoup worker built earlier ($cached)"
  if install_and_check "$cached"; then
    echo "$key" > "$STAMP"
    exit 0
  fi
  echo "mediasoup-worker.sh: the cached worker does not run here (see above); building it again" >&2
fi

# --- Build ------------------------------------------------------------------------------------
build=$(mktemp -d "${TMPDIR:-/tmp}/sotto-mediasoup-worker.XXXXXX")
log=$build/build.log
step "Building the mediasoup worker $version from source: a few minutes, once (log: $log)"
SECONDS=0

# Runs one build step with its output in the log; on failure names the step and shows the log's end.
run() {
  local what=$1; shift
  echo "--- $what: $*" >> "$log"
  if ! "$@" >> "$log" 2>&1; then fail "$what"; fi
}
fail() {
  echo "mediasoup-worker.sh: $1 failed. Last lines of the log:" >&2
  tail -n 30 "$log" | sed 's/^/  | /' >&2
  die "$1 failed; full log: $log (the build directory $build is kept for inspection)"
}

# Meson uses a subproject directory that exists (named by the wrap's `directory =` line) instead of
# downloading the wrap. Each shim must match a wrap of this mediasoup, or meson would try to download.
for dir in "$SHIMS"/*/; do
  name=$(basename "$dir")
  grep -qx "directory = $name" "$WORKER"/subprojects/*.wrap \
    || die "shim $SHIMS/$name matches no 'directory =' line in $WORKER/subprojects/*.wrap"
  rm -rf "${WORKER:?}/subprojects/$name"
  cp -r "$dir" "$WORKER/subprojects/$name"
done
# mediasoup 3.12.x asks for meson >= 1.1.0; Debian 12 has 1.0.1, which builds it (nothing from 1.1 is used).
grep -q "meson_version: '>= 1.1.0'" "$WORKER/meson.build" || grep -q "meson_version: '>= 1.0.1'" "$WORKER/meson.build" \
  || die "$WORKER/meson.build has no meson_version line this script knows how to adjust"
sed -i "s/meson_version: '>= 1.1.0'/meson_version: '>= 1.0.1'/" "$WORKER/meson.build"

run "meson setup" meson setup "${MESON_ARGS[@]}" "$build/out" "$WORKER"

# ninja prints "[n/total] ..." per compiled file: show that as one line that counts up on a
# terminal, and every 10 % in logs where a carriage return would make a mess.
echo "--- ninja -C $build/out mediasoup-worker" >> "$log"
set +e
ninja -C "$build/out" mediasoup-worker 2>&1 | tee -a "$log" | awk -v tty="$([ -t 1 ] && echo 1 || echo 0)" '
  /^\[[0-9]+\/[0-9]+\]/ {
    split(substr($1, 2, length($1) - 2), a, "/"); n = a[1] + 0; t = a[2] + 0; pct = int(100 * n / t)
    if (tty) printf "\r  compiling: %d/%d (%d%%)", n, t, pct
    else if (pct >= shown) { printf "  compiling: %d/%d (%d%%)\n", n, t, pct; shown = pct + 10 }
    fflush()
  }
  END { if (tty) printf "\n" }'
ninja_status=${PIPESTATUS[0]}
set -e
[ "$ninja_status" = 0 ] || fail "ninja (compiling the worker)"

if checked=$(install_and_check "$build/out/mediasoup-worker" 2>&1); then
  echo "$checked" >> "$log"
  echo "  $checked"
else
  echo "$checked" >> "$log"
  fail "checking the built worker"
fi
echo "$key" > "$STAMP"
echo "  built in $((SECONDS / 60)) min $((SECONDS % 60)) s: $DEST ($(du -k "$DEST" | cut -f1) kB)"

# The cache is an optimisation only: not being able to write it must not fail the install.
if mkdir -p "$cache_dir" 2>/dev/null && cp "$DEST" "$cached.tmp.$$" 2>/dev/null; then
  mv -f "$cached.tmp.$$" "$cached"
  echo "  kept a copy for later installs: $cached"
else
  rm -f "$cached.tmp.$$"
  echo "mediasoup-worker.sh: could not keep a copy in $cache_dir (not writable?); the next npm ci will build again" >&2
fi
rm -rf "$build"
