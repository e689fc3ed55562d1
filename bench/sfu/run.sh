#!/usr/bin/env bash
# npm run bench:sfu — the SFU benchmarks (bench/sfu/run.ts) in a private network namespace that
# has only loopback (Chromium and the media servers must not reach anything else). As root this
# uses `unshare -n`; otherwise it runs as is and says so.
# Environment: see bench/sfu/run.ts (RUNS, JOIN_RUNS, SFRAME_RUNS, SKIP=consumers,join,sframe).
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
# Node 24, the npm packages, the mediasoup worker and the web client; quiet when all are there.
bash scripts/setup.sh || exit 1
export PATH=$ROOT/node_modules/.bin:$PATH
if [ "${SOTTO_BENCH_NETNS:-}" != 1 ] && [ "$(id -u)" = 0 ] && command -v unshare >/dev/null; then
  exec unshare -n sh -c 'ip link set lo up && SOTTO_BENCH_NETNS=1 exec node bench/sfu/run.ts'
fi
[ "${SOTTO_BENCH_NETNS:-}" = 1 ] || echo "bench:sfu: not root: running without a private network namespace" >&2
exec node bench/sfu/run.ts
