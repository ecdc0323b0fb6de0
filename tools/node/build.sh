#!/usr/bin/env bash
# Provides a real node's Kubernetes binaries for the tests: kubelet, kubeadm and
# kube-controller-manager, built from the same k8s.io/kubernetes module (and version) as the
# test control plane (tools/controlplane/go.mod), so they share its warm Go build cache.
# Cached outside the checkout like the control plane, keyed by that go.mod/go.sum and this
# script. Prints the bin directory.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
module=$here/../controlplane
key=$(cat "$module/go.mod" "$module/go.sum" "$here/build.sh" | sha256sum | cut -c1-16)
cache=${XDG_CACHE_HOME:-$HOME/.cache}/fpga-burst/node/$key
bin=$cache/bin
binaries=(kubelet kubeadm kube-controller-manager)

have_all() {
    local b
    for b in "${binaries[@]}"; do [[ -x $bin/$b ]] || return 1; done
}

if have_all; then
    echo "$bin"
    exit 0
fi

command -v go >/dev/null || { echo "tools/node/build.sh: go is required to build kubelet and kubeadm" >&2; exit 1; }
mkdir -p "$cache"
exec 9>"$cache/.lock"
flock 9
if ! have_all; then
    echo "tools/node/build.sh: building ${binaries[*]} into $bin" >&2
    start=$SECONDS
    tmp=$(mktemp -d "$cache/build.XXXXXX")
    (
        # A copy of the control plane's module: -mod=mod may add go.sum lines for packages
        # only the node needs, and the checkout's files must stay as they are.
        src=$tmp/src
        mkdir "$src"
        cp "$module/go.mod" "$module/go.sum" "$src/"
        cat >"$src/tools.go" <<'GO'
//go:build tools

package node

import (
	_ "k8s.io/kubernetes/cmd/kube-controller-manager/app"
	_ "k8s.io/kubernetes/cmd/kubeadm/app"
	_ "k8s.io/kubernetes/cmd/kubelet/app"
)
GO
        cd "$src"
        # The same version stamp as the control plane: kubeadm compares its own version
        # with the cluster's, and a v0.0.0-master kubeadm refuses to join.
        version=$(awk '$1 == "k8s.io/kubernetes" { print $2; exit }' go.mod)
        minor=${version#v*.}
        minor=${minor%%.*}
        pkg=k8s.io/component-base/version
        stamp="-X $pkg.gitVersion=$version -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
        stamp="$stamp -X $pkg.gitTreeState=clean"
        GOFLAGS=-mod=mod CGO_ENABLED=0 go build -trimpath -ldflags="-s -w $stamp" -o "$tmp/out/" \
            k8s.io/kubernetes/cmd/kubelet \
            k8s.io/kubernetes/cmd/kubeadm \
            k8s.io/kubernetes/cmd/kube-controller-manager
    ) >&2
    rm -rf "$bin"
    mv "$tmp/out" "$bin"
    rm -rf "$tmp"
    echo "tools/node/build.sh: built in $((SECONDS - start)) s" >&2
fi
echo "$bin"
