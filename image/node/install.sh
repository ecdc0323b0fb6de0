#!/usr/bin/env bash
# Installs what an fpga-burst F2 node needs, on Ubuntu 24.04 (the base image of AWS's own F2
# Runtime AMI Builder, aws-fpga developer_resources/runtime_ami_builder, cdk.jsonc). Run by
# the node image's EC2 Image Builder component (stacks/nodegroup/image.py) as root; the
# real-node test runs its `runtime` step on its own machine (Makefile, `node`).
#
#   install.sh STEP...    steps: runtime containerd-config kubernetes vpn awscli f2-sdk
#                         device-plugin units host all
# Settings: KUBERNETES_VERSION (the cluster's minor, "1.37": for `kubernetes`),
# AWS_FPGA_REF (a git ref of aws/aws-fpga, default f2), CGROUP_DRIVER (systemd, as kubeadm
# configures kubelets by default, or cgroupfs: the same as the cluster's kubelets).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
AWS_FPGA_REF="${AWS_FPGA_REF:-f2}"
CGROUP_DRIVER="${CGROUP_DRIVER:-systemd}"
# Debian/Ubuntu's container runtime and CNI plugins (the CNI binaries go to /usr/lib/cni).
RUNTIME_PACKAGES=(containerd runc containernetworking-plugins)
export DEBIAN_FRONTEND=noninteractive

log() { echo "install.sh: $*" >&2; }

# apt_install PACKAGE...: only those not installed yet, so a prepared machine is left alone.
apt_install() {
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  ((${#missing[@]} == 0)) && return 0
  log "installing ${missing[*]}"
  apt-get update -q
  apt-get install -y -q "${missing[@]}"
}

runtime() { apt_install "${RUNTIME_PACKAGES[@]}"; }

containerd_config() {
  mkdir -p /etc/containerd
  containerd config default >/etc/containerd/config.toml
  if [[ ${CGROUP_DRIVER} == systemd ]]; then
    sed -i 's/SystemdCgroup = false/SystemdCgroup = true/' /etc/containerd/config.toml
  fi
  sed -i 's#bin_dir = "/opt/cni/bin"#bin_dir = "/usr/lib/cni"#' /etc/containerd/config.toml
  systemctl enable containerd
}

# kubelet and kubeadm from the Kubernetes project's package repository for the cluster's
# minor version (kubernetes.io, "Installing kubeadm": pkgs.k8s.io/core:/stable:/v1.NN/deb),
# held so an upgrade of the image does not move them. The packages bring kubelet.service
# and kubeadm's 10-kubeadm.conf drop-in (the same files as image/node/units).
kubernetes() {
  : "${KUBERNETES_VERSION:?KUBERNETES_VERSION is not set (the minor version of the cluster, e.g. 1.37)}"
  local repo="https://pkgs.k8s.io/core:/stable:/v${KUBERNETES_VERSION}/deb"
  apt_install curl gpg ca-certificates
  install -d -m 755 /etc/apt/keyrings
  curl -fsSL "${repo}/Release.key" | gpg --dearmor --yes -o /etc/apt/keyrings/kubernetes-apt-keyring.gpg
  echo "deb [signed-by=/etc/apt/keyrings/kubernetes-apt-keyring.gpg] ${repo}/ /" \
    >/etc/apt/sources.list.d/kubernetes.list
  apt-get update -q
  apt-get install -y -q kubelet kubeadm
  apt-mark hold kubelet kubeadm
  systemctl enable kubelet
}

# Ubuntu's openvpn ships the openvpn-client@.service unit bootstrap.sh starts.
vpn() { apt_install openvpn; }

# AWS CLI v2, as its user guide installs it on Linux (awscli-exe-linux-x86_64.zip).
awscli() {
  command -v aws >/dev/null && return 0
  apt_install curl unzip
  local tmp
  tmp=$(mktemp -d)
  curl -fsSL https://awscli.amazonaws.com/awscli-exe-linux-x86_64.zip -o "${tmp}/awscliv2.zip"
  unzip -q "${tmp}/awscliv2.zip" -d "${tmp}"
  "${tmp}/aws/install"
  rm -rf "${tmp}"
}

# The F2 management tools (fpga-describe-local-image-slots, fpga-load-local-image, ...):
# `source sdk_setup.sh` of aws-fpga builds them with gcc and installs them in /usr/bin
# (F2 developer kit, SDK README and fpga-mgmt-tools README).
f2_sdk() {
  apt_install gcc make git
  rm -rf /opt/aws-fpga
  git clone --depth 1 --branch "${AWS_FPGA_REF}" https://github.com/aws/aws-fpga /opt/aws-fpga
  # sdk_setup.sh reads unset variables and must be sourced from its own directory.
  # shellcheck disable=SC1091 # aws-fpga's, fetched just above
  (cd /opt/aws-fpga && set +u && source sdk_setup.sh)
  command -v fpga-describe-local-image-slots >/dev/null
}

# fpga-burst's device plugin, built from this tree. Ubuntu's Go fetches the toolchain the
# module asks for (GOTOOLCHAIN=auto, checked against the Go checksum database).
device_plugin() {
  apt_install golang-go
  (cd "${here}/../device-plugin" && GOTOOLCHAIN=auto CGO_ENABLED=0 \
    go build -trimpath -ldflags='-s -w' -o /usr/local/bin/fpga-burst-device-plugin .)
}

units() {
  install -m 644 "${here}/units/fpga-burst-device-plugin.service" /etc/systemd/system/
  systemctl enable fpga-burst-device-plugin
}

# What kubeadm's preflight checks on a node: IP forwarding on, swap off (kubelet refuses
# swap unless configured for it).
host() {
  echo 'net.ipv4.ip_forward = 1' >/etc/sysctl.d/90-fpga-burst.conf
  sed -i '/\sswap\s/d' /etc/fstab
}

all() {
  runtime
  containerd_config
  kubernetes
  vpn
  awscli
  f2_sdk
  device_plugin
  units
  host
  apt_install cloud-init python3 curl iproute2
}

(($# > 0)) || { echo "usage: install.sh STEP... (see the header)" >&2; exit 2; }
for step in "$@"; do
  case "${step}" in
    runtime | kubernetes | vpn | awscli | units | host | all) "${step}" ;;
    containerd-config) containerd_config ;;
    f2-sdk) f2_sdk ;;
    device-plugin) device_plugin ;;
    *) echo "install.sh: unknown step ${step}" >&2; exit 2 ;;
  esac
done
