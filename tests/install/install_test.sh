#!/usr/bin/env bash
# `cmake --install` gives a working, relocatable SDK: installs into a temp
# prefix, builds the out-of-tree example plugin with `pkg-config nota` only,
# and runs the installed nota-host with it and with the installed latent
# plugin. Usage: install_test.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$1 src=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cmake --install "$build" --prefix "$tmp/prefix" >/dev/null
pc=$(find "$tmp/prefix" -name nota.pc)
[ -n "$pc" ] || { echo "FAIL: nota.pc not installed"; exit 1; }
export PKG_CONFIG_PATH=$(dirname "$pc")
[ "$(pkg-config --modversion nota)" = "$(sed -n 's/^project(nota VERSION \([0-9.]*\).*/\1/p' "$src/CMakeLists.txt")" ] \
  || { echo "FAIL: pkg-config version"; exit 1; }
cp -r "$src/examples/diagonal" "$tmp/diagonal"
make -s -C "$tmp/diagonal" CFLAGS="-O2 -Wall -Wextra -Wno-unused-parameter -Werror" >/dev/null
chmod go-w "$tmp/diagonal/diagonal.so"
host="$tmp/prefix/bin/nota-host"
# The installed host finds the installed latent plugin next to itself.
"$host" plugins | grep -q "^latent" || { echo "FAIL: installed host does not list latent"; "$host" plugins; exit 1; }
out=$(NOTA_PLUGIN_PATH="$tmp/diagonal" "$host" plugins)
echo "$out" | grep -q "^diagonal" || { echo "FAIL: example plugin not listed:"; echo "$out"; exit 1; }
# A real fit and eval through the example plugin (scripts/setup.sh installs the data).
"$host" --plugin "$tmp/diagonal/diagonal.so" fit --data fashion-mnist:test --limit 200 \
  --out "$tmp/d.nota" >/dev/null 2>&1 || { echo "FAIL: example fit"; exit 1; }
NOTA_PLUGIN_PATH="$tmp/diagonal" "$host" eval "$tmp/d.nota" --data fashion-mnist:test --limit 100 \
  | grep -q "^bits_per_dim" || { echo "FAIL: example eval"; exit 1; }
echo "install: ok (prefix $tmp/prefix, example plugin built with pkg-config)"
