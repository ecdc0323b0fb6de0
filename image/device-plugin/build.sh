#!/usr/bin/env bash
# Builds the device plugin into a cache outside the checkout, keyed by its sources, and
# prints the binary's path. Static (CGO_ENABLED=0): the node image copies it as is.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
key=$(cd "$here" && cat go.mod go.sum build.sh ./*.go | sha256sum | cut -c1-16)
cache=${XDG_CACHE_HOME:-$HOME/.cache}/fpga-burst/device-plugin/$key
binary=$cache/fpga-burst-device-plugin
if [[ ! -x $binary ]]; then
    command -v go >/dev/null || { echo "device-plugin/build.sh: go is required" >&2; exit 1; }
    mkdir -p "$cache"
    (cd "$here" && CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o "$binary.tmp" .) >&2
    mv "$binary.tmp" "$binary"
fi
echo "$binary"
