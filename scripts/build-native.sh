#!/bin/sh
# Builds the N-API addon offline against the system Node's headers when they are
# installed (Debian's nodejs ships them under /usr/include/node), so node-gyp never
# needs to download a header tarball.
set -e
cd "$(dirname "$0")/.."
if [ -f /usr/include/node/node_api.h ]; then
  exec node-gyp rebuild --nodedir=/usr
fi
exec node-gyp rebuild
