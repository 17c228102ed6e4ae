#!/usr/bin/env bash
# `bash scripts/with-node.sh MAJOR COMMAND…`: runs COMMAND (e.g. `npm test`) with Node MAJOR first on
# PATH, and better-sqlite3 built for it. That Node comes from the npm registry's node-linux-<arch>
# package (a node binary plus the headers better-sqlite3 compiles against), unpacked once into a cache
# folder (LUNASENTRI_NODE_CACHE, default ~/.cache/lunasentri). The checkout's better-sqlite3 build for
# the Node it had is set aside meanwhile and put back afterwards, so the two never clobber each other;
# the build for MAJOR is kept in the cache for the next time.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if [ "$#" -lt 2 ] || ! [[ $1 =~ ^[0-9]+$ ]]; then
  echo "usage: bash scripts/with-node.sh MAJOR COMMAND… (e.g. bash scripts/with-node.sh 24 npm test)" >&2
  exit 2
fi
major=$1
shift
outer_path=$PATH
outer_node=$(command -v node)
cache=${LUNASENTRI_NODE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/lunasentri}
arch=$(node -p process.arch)
node_dir=$cache/node-$major-linux-$arch

if [ ! -x "$node_dir/bin/node" ]; then
  echo "Fetching Node $major (npm pack node-linux-$arch@$major)…" >&2
  mkdir -p "$cache"
  partial=$(mktemp -d "$cache/.node-$major.XXXXXX")
  (cd "$partial" && npm pack --silent "node-linux-$arch@$major" >/dev/null)
  mkdir "$partial/tree"
  tar -xzf "$partial"/node-linux-"$arch"-*.tgz -C "$partial/tree" --strip-components=1
  rm -rf "$node_dir"
  mv "$partial/tree" "$node_dir"
  rm -rf "$partial"
fi
# npm, npx and every `#!/usr/bin/env node` script now run on this Node; native modules compile against
# its own headers (scripts/node-headers.sh finds them beside the running Node).
export PATH="$node_dir/bin:$PATH"
export npm_config_nodedir=$node_dir
echo "Using Node $(node --version) from $node_dir" >&2

# better-sqlite3 loads on a given node (its native build matches that Node's ABI)?
find_sqlite() { find node_modules/.pnpm -maxdepth 3 -type d -path '*/better-sqlite3@*/node_modules/better-sqlite3' 2>/dev/null | head -n 1 || true; }
sqlite_dir=$(find_sqlite)
loads_on() { "$1" -e 'new (require(process.argv[1]))(":memory:").close()' "$PWD/$sqlite_dir" >/dev/null 2>&1; }

set_aside=''
if [ -n "$sqlite_dir" ] && [ -d "$sqlite_dir/build" ] && ! loads_on node; then
  version=$(node -p 'require(process.argv[1]).version' "$PWD/$sqlite_dir/package.json")
  cached_build=$cache/better-sqlite3-$version-node-abi$(node -p process.versions.modules)-$arch
  # A rename (never a write into the files, which pnpm may share with other checkouts through its store).
  set_aside=$sqlite_dir/build.before-node-$major
  rm -rf "$set_aside"
  mv "$sqlite_dir/build" "$set_aside"
  if [ -d "$cached_build" ]; then
    cp -a "$cached_build" "$sqlite_dir/build"
  else
    echo "Compiling better-sqlite3 for Node $major (about 2 minutes)…" >&2
    npx --yes pnpm@12.4.2 rebuild better-sqlite3 >/dev/null
    rm -rf "$cached_build.partial"
    cp -a "$sqlite_dir/build" "$cached_build.partial"
    mv "$cached_build.partial" "$cached_build"
  fi
fi

restore() {
  if [ -n "$set_aside" ] && [ -d "$set_aside" ]; then
    rm -rf "$sqlite_dir/build"
    mv "$set_aside" "$sqlite_dir/build"
    return
  fi
  sqlite_dir=$(find_sqlite)
  if [ -n "$sqlite_dir" ] && ! loads_on "$outer_node"; then
    # COMMAND installed better-sqlite3 itself (for MAJOR): build it again for the Node the checkout had.
    echo "Compiling better-sqlite3 again for Node $("$outer_node" --version) (about 2 minutes)…" >&2
    (
      export PATH=$outer_path
      unset npm_config_nodedir
      # shellcheck source=node-headers.sh
      source scripts/node-headers.sh
      npx --yes pnpm@12.4.2 rebuild better-sqlite3 >/dev/null
    )
  fi
}
trap restore EXIT
set +e
"$@"
status=$?
set -e
exit "$status"
