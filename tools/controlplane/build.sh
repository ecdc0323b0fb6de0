#!/usr/bin/env bash
# Provides the test control plane: kube-apiserver, kube-scheduler and etcd built from the
# Go module proxy (no container engine, no other downloads). The binaries are cached
# outside the checkout, keyed by this module's go.mod and go.sum, so a fresh clone on the
# same machine reuses them and a version bump rebuilds. Prints the bin directory.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
key=$(cat "$here/go.mod" "$here/go.sum" | sha256sum | cut -c1-16)
cache=${XDG_CACHE_HOME:-$HOME/.cache}/fpga-burst/controlplane/$key
bin=$cache/bin
binaries=(kube-apiserver kube-scheduler etcd)

have_all() {
    local b
    for b in "${binaries[@]}"; do [[ -x $bin/$b ]] || return 1; done
}

if have_all; then
    echo "$bin"
    exit 0
fi

command -v go >/dev/null || { echo "build.sh: go is required to build the test control plane" >&2; exit 1; }
mkdir -p "$cache"
exec 9>"$cache/.lock"
flock 9
if ! have_all; then
    echo "build.sh: building kube-apiserver, kube-scheduler and etcd into $bin (slow from cold)" >&2
    start=$SECONDS
    tmp=$(mktemp -d "$cache/build.XXXXXX")
    (
        cd "$here"
        GOFLAGS=-mod=mod CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o "$tmp/" \
            k8s.io/kubernetes/cmd/kube-apiserver \
            k8s.io/kubernetes/cmd/kube-scheduler
        CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o "$tmp/etcd" go.etcd.io/etcd/server/v3
    ) >&2
    rm -rf "$bin"
    mv "$tmp" "$bin"
    echo "build.sh: built in $((SECONDS - start)) s" >&2
fi
echo "$bin"
