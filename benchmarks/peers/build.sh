#!/usr/bin/env bash
# Builds one peer of the benchmark (Cluster Autoscaler, Karpenter's kwok provider or kwok)
# into a cache outside the checkout, keyed and locked like tools/controlplane/build.sh:
# the key covers this script and the peer's source, so a version bump rebuilds and a
# fresh clone on the same machine reuses the binary. Prints the binary's path.
#   benchmarks/peers/build.sh cluster-autoscaler|karpenter|kwok
# Nothing of the peers' code enters the checkout. Not part of `make test`.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
peer=${1:?usage: build.sh cluster-autoscaler|karpenter|kwok}
# Upstream code the module proxy does not serve (see /work/shared/peers/README.md).
peers_src=${FPGA_BURST_PEERS_SRC:-$here/../../../shared/peers}  # the checkout's ../shared/peers

case $peer in
cluster-autoscaler)
    version=1.36.1
    tarball=$peers_src/cluster-autoscaler-$version.tar.gz
    [[ -f $tarball ]] || { echo "build.sh: $tarball not found (set FPGA_BURST_PEERS_SRC)" >&2; exit 1; }
    source_id=$(sha256sum "$tarball" | cut -c1-16)
    ;;
karpenter)
    version=v1.15.0
    # Karpenter v1.15.0's go.mod asks for a newer toolchain than the installed go.
    toolchain=go1.27.3
    source_id=sigs.k8s.io/karpenter@$version
    ;;
kwok)
    version=v0.8.0
    source_id=sigs.k8s.io/kwok@$version
    ;;
*)
    echo "build.sh: unknown peer '$peer' (cluster-autoscaler, karpenter or kwok)" >&2
    exit 1
    ;;
esac

key=$( (cat "$here/build.sh"; echo "$peer $version $source_id") | sha256sum | cut -c1-16)
cache=${XDG_CACHE_HOME:-$HOME/.cache}/fpga-burst/peers/$key
out=$cache/bin/$peer

if [[ -x $out ]]; then
    echo "$out"
    exit 0
fi

command -v go >/dev/null || { echo "build.sh: go is required to build $peer" >&2; exit 1; }
mkdir -p "$cache"
exec 9>"$cache/.lock"
flock 9
if [[ ! -x $out ]]; then
    echo "build.sh: building $peer $version into $cache/bin (slow from cold)" >&2
    start=$SECONDS
    tmp=$(mktemp -d "$cache/build.XXXXXX")
    case $peer in
    cluster-autoscaler)
        tar -xzf "$tarball" -C "$tmp"
        # Only the AWS provider: the build tags live in cloudprovider/router/.
        (cd "$tmp/autoscaler/cluster-autoscaler" &&
            GOFLAGS=-mod=mod CGO_ENABLED=0 go build -tags aws -trimpath -ldflags='-s -w' \
                -o "$tmp/out/$peer" .) >&2
        ;;
    karpenter)
        # A throwaway module pins the version; `go install pkg@version` would do the same
        # but cannot also hand us the CRDs, which live in the module beside the binary.
        mkdir -p "$tmp/mod"
        (cd "$tmp/mod" &&
            export GOTOOLCHAIN=$toolchain GOFLAGS=-mod=mod CGO_ENABLED=0 &&
            go mod init peers.local/karpenter >/dev/null 2>&1 &&
            go get "sigs.k8s.io/karpenter@$version" &&
            go build -trimpath -ldflags='-s -w' -o "$tmp/out/$peer" sigs.k8s.io/karpenter/kwok &&
            moddir=$(go list -m -f '{{.Dir}}' sigs.k8s.io/karpenter) &&
            mkdir -p "$tmp/out/crds" &&
            cp "$moddir"/kwok/charts/crds/*.yaml "$moddir"/kwok/apis/crds/*.yaml "$tmp/out/crds/" &&
            chmod -R u+w "$tmp/out/crds") >&2
        ;;
    kwok)
        mkdir -p "$tmp/mod"
        (cd "$tmp/mod" &&
            export GOFLAGS=-mod=mod CGO_ENABLED=0 &&
            go mod init peers.local/kwok >/dev/null 2>&1 &&
            go get "sigs.k8s.io/kwok@$version" &&
            go build -trimpath -ldflags='-s -w' -o "$tmp/out/$peer" sigs.k8s.io/kwok/cmd/kwok &&
            moddir=$(go list -m -f '{{.Dir}}' sigs.k8s.io/kwok) &&
            # kwok runs only the stages its --config names: the module's node stages
            # (Ready at once, then heartbeats); no pod stages, the harness runs the pods.
            mkdir -p "$tmp/out/stages" &&
            cp "$moddir"/kustomize/stage/node/fast/node-initialize.yaml \
                "$moddir"/kustomize/stage/node/heartbeat/node-heartbeat.yaml "$tmp/out/stages/" &&
            chmod -R u+w "$tmp/out/stages") >&2
        ;;
    esac
    rm -rf "$cache/bin"
    mv "$tmp/out" "$cache/bin"
    rm -rf "$tmp"
    echo "build.sh: built $peer in $((SECONDS - start)) s" >&2
fi
echo "$out"
