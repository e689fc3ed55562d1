#!/usr/bin/env bash
# Runs the whole test suite inside a fresh network namespace that has only loopback, so the
# server, sipp, baresip and browsers under test can reach nothing but 127.0.0.1/::1.
# Arguments are passed to vitest (e.g. a file filter). Ends with a line "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."
results=.vitest-results.json
rm -f "$results"
if [ "$(id -u)" = 0 ] && command -v unshare >/dev/null; then
  unshare -n sh -c 'ip link set lo up && exec "$@"' sh \
    vitest run --reporter=default --reporter=json --outputFile.json="$results" "$@"
else
  echo "test.sh: not root: running without a private network namespace; integration tests that need one are skipped" >&2
  SOTTO_NO_NETNS=1 vitest run --reporter=default --reporter=json --outputFile.json="$results" "$@"
fi
code=$?
node -e '
  const fs = require("node:fs");
  let r; try { r = JSON.parse(fs.readFileSync(process.argv[1], "utf8")); } catch { console.log("0 passed, 1 failed"); process.exit(0); }
  console.log(`${r.numPassedTests} passed, ${r.numFailedTests + (r.success || r.numFailedTests ? 0 : 1)} failed` + (r.numPendingTests ? `, ${r.numPendingTests} skipped` : ""));
' "$results"
exit $code
