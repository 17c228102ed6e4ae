#!/usr/bin/env bash
# Sourced by setup.sh and with-node.sh: points node-gyp (better-sqlite3's build when no prebuilt binary
# can be fetched) at the headers of the Node that runs, instead of a download. They sit beside the
# binary: /usr/include/node for Debian's /usr/bin/node (package nodejs, or libnode-dev), include/node
# in Node's own tarballs (nvm, the npm registry's node-linux-* packages). A setting of
# npm_config_nodedir that is already there wins.
if [ -z "${npm_config_nodedir:-}" ]; then
  node_prefix=$(dirname "$(dirname "$(node -p process.execPath)")")
  if [ -f "$node_prefix/include/node/node.h" ]; then
    export npm_config_nodedir=$node_prefix
  fi
  unset node_prefix
fi
