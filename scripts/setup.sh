#!/usr/bin/env bash
# Installs what Sotto needs on Debian 12 and is quiet when everything is already there.
#   scripts/setup.sh          runtime: npm packages (with Node 24), openssl, a localhost certificate
#   scripts/setup.sh --test   also the real SIP peers the test suite drives (sipp, baresip, chromium), iproute2
# Safe to run again: each step checks first and does nothing when already done.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
WANT_TEST=0
for a in "$@"; do
  case "$a" in
    --test) WANT_TEST=1 ;;
    -h|--help) sed -n '2,5p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "setup.sh: unknown option '$a' (try --help)" >&2; exit 2 ;;
  esac
done

step() { printf '\033[1m==> %s\033[0m\n' "$*"; }

# --- Debian packages -------------------------------------------------------
pkgs=(openssl)
[ "$WANT_TEST" = 1 ] && pkgs+=(sip-tester baresip iproute2 util-linux chromium)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "setup.sh: missing Debian packages: ${missing[*]}; run as root or: sudo apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
  step "Installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# --- npm packages (brings Node 24 as the 'node' package) -------------------
stamp=node_modules/.sotto-lock-stamp
if [ ! -f "$stamp" ] || ! cmp -s package-lock.json "$stamp"; then
  step "Installing npm packages (npm ci)"
  # mediasoup's postinstall would download its worker from GitHub (unreachable here); the variable
  # makes it skip that step, and scripts/mediasoup-worker.sh builds the worker from source instead.
  MEDIASOUP_WORKER_BIN=skip-download npm ci --no-audit --no-fund --loglevel=error
  cp package-lock.json "$stamp"
fi
if ! node_modules/.bin/node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 24 ? 0 : 1)'; then
  echo "setup.sh: node_modules/.bin/node is not Node 24; remove node_modules and run again" >&2
  exit 1
fi

# --- mediasoup's media worker, built from source (a few minutes, once) -----
# Silent when the worker for this mediasoup version is already in node_modules.
bash scripts/mediasoup-worker.sh

# --- A self-signed certificate for localhost (TLS and WSS) ------------------
tls=var/tls
if [ ! -s "$tls/localhost.crt" ] || [ ! -s "$tls/localhost.key" ]; then
  step "Creating a self-signed certificate for localhost in $tls/"
  mkdir -p "$tls"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 825 \
    -subj /CN=localhost -addext 'subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1' \
    -keyout "$tls/localhost.key" -out "$tls/localhost.crt" 2>/dev/null
  chmod 600 "$tls/localhost.key"
fi

# --- The browser softphone (web-client/dist) --------------------------------
# Rebuilt when its sources, its build script or the locked dependencies changed.
web_stamp=web-client/dist/.build-stamp
web_hash=$(find web-client/src web-client/public web-client/build.ts web-client/tsconfig.json package-lock.json -type f -print0 2>/dev/null \
  | sort -z | xargs -0 sha256sum | sha256sum | cut -d' ' -f1)
if [ ! -f "$web_stamp" ] || [ "$(cat "$web_stamp")" != "$web_hash" ]; then
  step "Building the web client (web-client/dist)"
  node_modules/.bin/node web-client/build.ts
  echo "$web_hash" > "$web_stamp"
fi
