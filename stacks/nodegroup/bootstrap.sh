#!/usr/bin/env bash
# Joins this EC2 FPGA instance to the on-prem kubeadm cluster over OpenVPN.
#
# Runs once, as root, from user data: stacks/nodegroup/user_data.py puts `export` lines for
# the FPGA_BURST_* settings checked below in front of it. User data carries only names, never
# secrets: the VPN configuration and login come from Secrets Manager, the join token from an
# SSM SecureString, both read with the instance role.
#
# The VPN runs as the systemd unit openvpn-client@fpga-burst (enabled, so a reboot brings it
# back) and kubelet is ordered after it. A failure exits non-zero and the node never joins,
# so the Auto Scaling launch hook times out and ABANDONs the instance; before exiting, the
# script says which step failed and why (see report_failure).
#
# Needs on the AMI: bash, curl, aws (CLI v2), python3, openvpn with its openvpn-client@
# systemd unit, iproute2 (ip), systemd, containerd, kubeadm + kubelet >= 1.31 (the join
# configuration is kubeadm.k8s.io/v1beta4), and the FPGA runtime + device plugin: what the
# node image recipe (image/node/install.sh) installs. The "image" step checks for them, so
# an AMI given in the config that lacks one fails with its name, not later and obscurely.
set -euo pipefail

: "${FPGA_BURST_REGION:?FPGA_BURST_REGION is not set (AWS region)}"
: "${FPGA_BURST_JOIN_PARAMETER:?FPGA_BURST_JOIN_PARAMETER is not set (SSM parameter name)}"
: "${FPGA_BURST_VPN_SECRET:?FPGA_BURST_VPN_SECRET is not set (Secrets Manager secret ARN)}"
: "${FPGA_BURST_JOIN_ERROR_TAG:?FPGA_BURST_JOIN_ERROR_TAG is not set (instance tag key)}"
: "${FPGA_BURST_JOINED_PROFILE:?FPGA_BURST_JOINED_PROFILE is not set (instance profile name)}"
FPGA_BURST_NODE_LABELS="${FPGA_BURST_NODE_LABELS:-}"
FPGA_BURST_NODE_TAINTS="${FPGA_BURST_NODE_TAINTS:-}"
STATE_DIR="${FPGA_BURST_STATE_DIR:-/etc/fpga-burst}"
TUN_TIMEOUT="${FPGA_BURST_TUN_TIMEOUT:-120}"
POLL_SECONDS="${FPGA_BURST_POLL_SECONDS:-3}"
ATTEMPTS="${FPGA_BURST_ATTEMPTS:-5}"
OPENVPN_DIR="${FPGA_BURST_OPENVPN_DIR:-/etc/openvpn/client}"
SYSTEMD_DIR="${FPGA_BURST_SYSTEMD_DIR:-/etc/systemd/system}"
IMDS="${FPGA_BURST_IMDS:-http://169.254.169.254}"
# kubeadm preflight checks to ignore (comma-separated names): empty on a real node; the
# real-kubelet test shares its machine and names the checks that machine cannot pass.
IGNORE_PREFLIGHT="${FPGA_BURST_KUBEADM_IGNORE_PREFLIGHT:-}"
DEVICE_PLUGIN_UNIT="fpga-burst-device-plugin"
# What the node image recipe installs (image/node/install.sh), checked on any AMI.
REQUIRED_COMMANDS=(kubeadm kubelet containerd runc openvpn aws fpga-describe-local-image-slots
  fpga-load-local-image fpga-burst-device-plugin)
JOIN_CONFIG="${STATE_DIR}/join.yaml"
# die() may run in a command substitution's subshell: the message goes through a file.
ERROR_FILE="${STATE_DIR}/join-error"
VPN_NAME="fpga-burst"
VPN_UNIT="openvpn-client@${VPN_NAME}"
STEP="settings"
INSTANCE_ID=""

log() { echo "fpga-burst bootstrap: $*" >&2; }
die() {
  log "ERROR: $*"
  echo "$*" >"${ERROR_FILE}"
  exit 1
}
step() {
  STEP="$1"
  log "step ${STEP}"
}

# A node that does not join must say why where people and tools look, without a shell on
# it. Two places: the console (this script's stderr reaches cloud-init's output log and the
# serial console, `aws ec2 get-console-output`), always; and the tag FPGA_BURST_JOIN_ERROR_TAG
# on the instance ("<step>: <message>"), which a preflight or the lifecycle function reads
# with one DescribeInstances while the launch hook still waits. The tag is best effort (it
# needs ec2:CreateTags on the instance and a working network), so the console comes first.
# Not CompleteLifecycleAction ABANDON: the lifecycle function owns the launch hook.
report_failure() {
  local code="$1" message
  message="$(cat "${ERROR_FILE}" 2>/dev/null)" || message="exit code ${code}"
  message="${STEP}: ${message}"
  log "join failed at ${message}"
  [[ -n "${INSTANCE_ID}" ]] || return 0
  local tags
  tags="$(python3 -c '
import json, sys
print(json.dumps([{"Key": sys.argv[1], "Value": sys.argv[2][:256]}]))
' "${FPGA_BURST_JOIN_ERROR_TAG}" "${message}")" || return 0
  aws ec2 create-tags --region "${FPGA_BURST_REGION}" --resources "${INSTANCE_ID}" \
    --tags "${tags}" >/dev/null \
    || log "could not tag ${INSTANCE_ID} with ${FPGA_BURST_JOIN_ERROR_TAG} (ec2:CreateTags?)"
}

on_exit() {
  local code=$?
  # The token must not outlive the join on disk.
  rm -f "${JOIN_CONFIG}"
  if ((code != 0)); then
    report_failure "${code}"
  fi
  rm -f "${ERROR_FILE}"
}
trap on_exit EXIT
# A failure no die() describes: name the line and the command that stopped the script (the
# source text, so a variable holding a secret appears by name only). -E: functions trap too;
# the command in the script's own shell says more than one deep inside a substitution.
on_error() {
  ((BASH_SUBSHELL == 0)) && [[ ! -s "${ERROR_FILE}" ]] || return 0
  echo "line $1: ${BASH_COMMAND%%$'\n'*}" >"${ERROR_FILE}"
}
set -E
trap 'on_error "${LINENO}"' ERR

# Everything written below may hold a secret: owner-only from the start.
umask 077
mkdir -p "${STATE_DIR}"

imds() {
  # IMDSv2 only (the launch template requires it): a session token first, then the read.
  local token
  token="$(curl -sSf -X PUT "${IMDS}/latest/api/token" \
    -H "X-aws-ec2-metadata-token-ttl-seconds: 300")" || die "cannot get an IMDSv2 token"
  curl -sSf -H "X-aws-ec2-metadata-token: ${token}" "${IMDS}/latest/meta-data/$1" \
    || die "cannot read instance metadata $1"
}

# retry <command...>: AWS calls right after boot can fail until the instance profile's
# credentials are served; try ATTEMPTS times, waiting a little longer each time.
retry() {
  local attempt
  for ((attempt = 1; attempt < ATTEMPTS; attempt++)); do
    "$@" && return 0
    log "attempt ${attempt} of $1 failed; retrying"
    sleep "$(awk -v p="${POLL_SECONDS}" -v a="${attempt}" 'BEGIN { print p * a }')"
  done
  "$@"
}

# json_field <field> reads a JSON object on stdin and prints one string field of it.
json_field() {
  python3 -c '
import json, sys
doc = json.load(sys.stdin)
value = doc.get(sys.argv[1], "") if isinstance(doc, dict) else ""
if not isinstance(value, str):
    sys.exit("field %s is not a string" % sys.argv[1])
sys.stdout.write(value)
' "$1"
}

check_image() {
  local missing=() command
  for command in "${REQUIRED_COMMANDS[@]}"; do
    command -v "${command}" >/dev/null || missing+=("${command}")
  done
  ((${#missing[@]} == 0)) \
    || die "the AMI lacks ${missing[*]} (build it with image/node, or install them)"
}

prepare_host() {
  # kubelet refuses to run with swap on (kubernetes/kubernetes#53533).
  swapoff -a || die "swapoff failed"
  systemctl enable --now containerd || die "cannot start containerd"
  # kubeadm join starts kubelet but does not enable it; after a reboot it must come back.
  systemctl enable kubelet || die "cannot enable kubelet"
}

# Writes the client configuration where the openvpn-client@ unit looks for it and starts
# the unit; enabled, so the VPN (and with it the node IP) comes back after a reboot.
start_vpn() {
  local secret config login login_file
  secret="$(retry aws secretsmanager get-secret-value --region "${FPGA_BURST_REGION}" \
    --secret-id "${FPGA_BURST_VPN_SECRET}" --query SecretString --output text)" \
    || die "cannot read VPN secret ${FPGA_BURST_VPN_SECRET} (instance role, secret policy?)"
  mkdir -p "${OPENVPN_DIR}"
  config="${OPENVPN_DIR}/${VPN_NAME}.conf"
  json_field config <<<"${secret}" >"${config}" || die "VPN secret: bad JSON"
  [[ -s "${config}" ]] || die "VPN secret has no \"config\" (the .ovpn file)"
  login="$(json_field username <<<"${secret}")"
  if [[ -n "${login}" ]]; then
    login_file="${OPENVPN_DIR}/${VPN_NAME}.login"
    {
      echo "${login}"
      json_field password <<<"${secret}"
      echo
    } >"${login_file}"
    # A service has no terminal to ask on: the login comes from the file.
    printf '\nauth-user-pass %s\n' "${login_file}" >>"${config}"
  fi
  # kubelet's --node-ip is the tun0 address: after a reboot it waits for the tunnel.
  mkdir -p "${SYSTEMD_DIR}/kubelet.service.d"
  printf '[Unit]\nWants=%s.service\nAfter=%s.service\n' "${VPN_UNIT}" "${VPN_UNIT}" \
    >"${SYSTEMD_DIR}/kubelet.service.d/20-fpga-burst-vpn.conf"
  systemctl daemon-reload || die "systemctl daemon-reload failed"
  systemctl enable --now "${VPN_UNIT}" || die "cannot start ${VPN_UNIT} (journalctl -u ${VPN_UNIT})"
}

# Instance metadata (and with it the instance role's credentials) for root on the host only.
# The launch template's hop limit of 1 already keeps out pods in their own network namespace;
# this keeps out hostNetwork pods and any other process that does not run as root. A
# hostNetwork pod running as root still reaches IMDS: by then the node holds the joined
# role (drop_join_access), which can read neither the join token nor the VPN login.
close_imds() {
  local unit="${SYSTEMD_DIR}/fpga-burst-imds.service"
  local rule="OUTPUT -d 169.254.169.254/32 -m owner ! --uid-owner 0 -j REJECT"
  mkdir -p "${SYSTEMD_DIR}"
  printf '%s\n' "[Unit]" "Description=fpga-burst: instance metadata for root only" \
    "Before=kubelet.service" "[Service]" "Type=oneshot" "RemainAfterExit=yes" \
    "ExecStart=/usr/sbin/iptables -w -I ${rule}" "ExecStop=/usr/sbin/iptables -w -D ${rule}" \
    "[Install]" "WantedBy=multi-user.target" >"${unit}"
  systemctl daemon-reload || die "systemctl daemon-reload failed"
  systemctl enable --now fpga-burst-imds.service || die "cannot close IMDS to non-root users"
}

# After the join the node needs neither the join token nor the VPN login again: swap this
# instance's profile for the joined one (FPGA_BURST_JOINED_PROFILE), whose role may read
# neither and may not swap back. Nothing else ran on the node before the join (no pod is
# scheduled to a node that has not joined), so the boot role's credentials left with this
# script.
drop_join_access() {
  local association
  association="$(retry aws ec2 describe-iam-instance-profile-associations \
    --region "${FPGA_BURST_REGION}" --filters "Name=instance-id,Values=${INSTANCE_ID}" \
    "Name=state,Values=associated" --query 'IamInstanceProfileAssociations[0].AssociationId' \
    --output text)" || die "cannot find this instance's profile association"
  retry aws ec2 replace-iam-instance-profile-association --region "${FPGA_BURST_REGION}" \
    --association-id "${association}" --iam-instance-profile "Name=${FPGA_BURST_JOINED_PROFILE}" \
    >/dev/null || die "cannot swap to the joined instance profile"
}

# Prints tun0's IPv4 address once the tunnel is up; dies after TUN_TIMEOUT seconds.
wait_for_tunnel() {
  local deadline=$((SECONDS + TUN_TIMEOUT)) address
  while ((SECONDS < deadline)); do
    address="$(ip -4 -o addr show dev tun0 2>/dev/null | awk '{split($4, a, "/"); print a[1]; exit}')" || true
    if [[ -n "${address}" ]]; then
      echo "${address}"
      return 0
    fi
    sleep "${POLL_SECONDS}"
  done
  die "tun0 did not come up within ${TUN_TIMEOUT}s (check the VPN server and its login)"
}

read_join_data() {
  retry aws ssm get-parameter --region "${FPGA_BURST_REGION}" --with-decryption \
    --name "${FPGA_BURST_JOIN_PARAMETER}" --query Parameter.Value --output text \
    || die "cannot read join parameter ${FPGA_BURST_JOIN_PARAMETER} (has the tokens function run?)"
}

# write_join_config <file> <node-ip> <provider-id> <node-name>, join data JSON on stdin.
# Python writes the YAML so every value is quoted correctly (JSON strings are YAML); what it
# finds wrong with the join data becomes the failure message.
write_join_config() {
  local problem
  if ! problem="$(NODE_IP="$2" PROVIDER_ID="$3" NODE_NAME="$4" IGNORE_PREFLIGHT="${IGNORE_PREFLIGHT}" \
    python3 -c '
import json, os, sys
from datetime import datetime, timezone

def fail(message):
    sys.exit("join data: " + message)

try:
    join = json.load(sys.stdin)
except ValueError:
    fail("not JSON")
if not isinstance(join, dict):
    fail("not a JSON object")
endpoint, token, hashes = join.get("endpoint"), join.get("token"), join.get("caCertHashes")
if not isinstance(endpoint, str) or not endpoint:
    fail("no endpoint")
if not isinstance(token, str) or not token:
    fail("no token")
if not isinstance(hashes, list) or not hashes or not all(
        isinstance(h, str) and h.startswith("sha256:") for h in hashes):
    fail("caCertHashes must be a non-empty list of sha256:<hex>")
expiration = join.get("expiration")
if expiration:
    try:
        expires = datetime.fromisoformat(str(expiration).replace("Z", "+00:00"))
    except ValueError:
        fail("expiration is not an ISO 8601 time")
    if expires.tzinfo is None:
        expires = expires.replace(tzinfo=timezone.utc)
    if expires <= datetime.now(timezone.utc):
        fail("token expired at %s (is the tokens function running?)" % expiration)

q = json.dumps
lines = [
    "apiVersion: kubeadm.k8s.io/v1beta4",
    "kind: JoinConfiguration",
    "discovery:",
    "  bootstrapToken:",
    "    apiServerEndpoint: " + q(endpoint),
    "    token: " + q(token),
    "    caCertHashes:",
]
lines += ["      - " + q(h) for h in hashes]
lines += [
    "nodeRegistration:",
    "  name: " + q(os.environ["NODE_NAME"]),
    "  kubeletExtraArgs:",
    "    - name: node-ip",
    "      value: " + q(os.environ["NODE_IP"]),
    "    - name: provider-id",
    "      value: " + q(os.environ["PROVIDER_ID"]),
]
labels = os.environ.get("FPGA_BURST_NODE_LABELS", "")
if labels:
    lines += ["    - name: node-labels", "      value: " + q(labels)]
taints = [t for t in os.environ.get("FPGA_BURST_NODE_TAINTS", "").split(",") if t]
lines.append("  taints:" + ("" if taints else " []"))
for taint in taints:
    spec, _, effect = taint.rpartition(":")
    key, _, value = spec.partition("=")
    lines += ["    - key: " + q(key), "      value: " + q(value), "      effect: " + q(effect)]
ignored = [c for c in os.environ.get("IGNORE_PREFLIGHT", "").split(",") if c]
if ignored:
    lines.append("  ignorePreflightErrors:")
    lines += ["    - " + q(c) for c in ignored]
sys.stdout.write("\n".join(lines) + "\n")
' 2>&1 >"$1")"; then
    die "${problem:-cannot write the JoinConfiguration}"
  fi
}

main() {
  local zone node_ip join_data name
  step metadata
  INSTANCE_ID="$(imds instance-id)"
  zone="$(imds placement/availability-zone)"
  # The Node is named after the instance's private DNS name, as on EKS and with the AWS
  # cloud provider: unique in the VPC, and what `kubectl get nodes` shows beside the console.
  name="$(imds local-hostname)"
  name="${name,,}"
  [[ -n "${name}" ]] || die "instance metadata local-hostname is empty"
  log "instance ${INSTANCE_ID} (${name}) in ${zone}"
  step image
  check_image
  step host
  prepare_host
  close_imds
  step vpn
  start_vpn
  node_ip="$(wait_for_tunnel)"
  log "VPN up, tun0 ${node_ip}"
  step join-data
  join_data="$(read_join_data)"
  write_join_config "${JOIN_CONFIG}" "${node_ip}" "aws:///${zone}/${INSTANCE_ID}" "${name}" \
    <<<"${join_data}"
  step kubeadm-join
  kubeadm join --config "${JOIN_CONFIG}" || die "kubeadm join failed"
  log "joined as ${name}"
  # The plugin registers with the kubelet kubeadm just started (it re-registers whenever
  # the kubelet restarts); until it does, the node advertises no boards.
  step device-plugin
  systemctl enable --now "${DEVICE_PLUGIN_UNIT}" || die "cannot start ${DEVICE_PLUGIN_UNIT}"
  step drop-join-access
  drop_join_access
}

main "$@"
