#!/usr/bin/env bash
# npm start [-- --scheduler NAME] [-- --keep] [-- --ipv6] [-- --down]
# The demo itself is src/lab/demo.ts (compiled to dist/lab/demo.js). This wrapper checks
# root, builds dist/ if it is missing, and owns a trap: whatever happens to the demo
# process (Ctrl-C, a crash, kill -9), the namespaces it recorded are torn down.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" -ne 0 ]; then
  echo "vstun demo: needs root (network namespaces, TAP/TUN devices, raw sockets). Run: sudo npm start" >&2
  exit 2
fi
for tool in ip curl; do
  command -v "$tool" >/dev/null || { echo "vstun demo: '$tool' is missing; install iproute2 and curl (apt-get install iproute2 curl)" >&2; exit 2; }
done
if [ ! -f dist/lab/demo.js ] || [ ! -f dist/cli/vstun-director.js ]; then
  echo "vstun demo: building dist/ (tsc)"
  node node_modules/typescript/bin/tsc -p tsconfig.build.json
fi
if [ ! -f build/Release/vstun_native.node ]; then
  echo "vstun demo: the native addon is not built; run npm install first" >&2
  exit 2
fi

state="$(mktemp /tmp/vstun-demo.XXXXXX)"
: >"$state"
cleanup() {
  # The demo empties or removes its state file once it has torn down (or handed over with
  # --keep); anything still recorded here belongs to a demo that did not finish.
  if [ -s "$state" ]; then
    echo "vstun demo: tearing down what the demo left behind" >&2
    node dist/lab/demo-down.js "$state" || true
  fi
  rm -f "$state"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

node dist/lab/demo.js --state-file "$state" "$@"
