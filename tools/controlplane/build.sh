#!/usr/bin/env bash
# Provides the test control plane: kube-apiserver, kube-scheduler and etcd built from the
# Go module proxy (no container engine, no other downloads). The binaries are cached
# outside the checkout, keyed by this module's go.mod and go.sum, so a fresh clone on the
# same machine reuses them and a version bump rebuilds. Prints the bin directory.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# The key covers this script too: a change to how the binaries are built rebuilds them.
key=$(cat "$here/go.mod" "$here/go.sum" "$here/build.sh" | sha256sum | cut -c1-16)
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
        # A module build has no git tree to stamp the version from; without this,
        # /version says v0.0.0-master and clients cannot tell which release they talk to.
        version=$(awk '$1 == "k8s.io/kubernetes" { print $2; exit }' go.mod)
        minor=${version#v*.}
        minor=${minor%%.*}
        pkg=k8s.io/component-base/version
        stamp="-X $pkg.gitVersion=$version -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
        stamp="$stamp -X $pkg.gitTreeState=clean"
        GOFLAGS=-mod=mod CGO_ENABLED=0 go build -trimpath -ldflags="-s -w $stamp" -o "$tmp/" \
            k8s.io/kubernetes/cmd/kube-apiserver \
            k8s.io/kubernetes/cmd/kube-scheduler
        CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o "$tmp/etcd" go.etcd.io/etcd/server/v3
    ) >&2
    rm -rf "$bin"
    mv "$tmp" "$bin"
    echo "build.sh: built in $((SECONDS - start)) s" >&2
fi
echo "$bin"
