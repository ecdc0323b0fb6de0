"""The node bootstrap script, run for real with recording stand-ins for the outside world.

kubeadm, aws, curl, ip, systemctl and swapoff are replaced on PATH by one small program
that logs its argv and answers like the real command would; bash, python3 and awk are real.
The script runs exactly as the instance would run it: the rendered user data.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from burst.core.model import Taint
from stacks.nodegroup import user_data

STANDINS = ("kubeadm", "aws", "curl", "ip", "systemctl", "swapoff", "iptables")
JOINED_PROFILE = "fpga-burst-inaccel-joined-us-east-1"
# What the node image installs and the bootstrap's image step looks for; present, they do
# nothing here (tests/integration/test_real_node.py runs the real ones).
IMAGE_COMMANDS = ("kubelet", "containerd", "runc", "openvpn", "fpga-describe-local-image-slots",
                  "fpga-load-local-image", "fpga-burst-device-plugin")
STANDIN = r"""
import json, os, shutil, sys
from pathlib import Path
from typing import Any

stub = Path(os.environ["STUB_DIR"])
name, args = Path(sys.argv[0]).name, sys.argv[1:]
with (stub / "calls.jsonl").open("a") as log:
    log.write(json.dumps([name, *args]) + "\n")
once = stub / f"{name}.fail-once"
if once.exists():
    once.unlink()
    sys.exit("Unable to locate credentials")
if (stub / f"{name}.fail").exists():
    sys.exit((stub / f"{name}.fail").read_text() or 1)
fail_if = stub / f"{name}.fail-if"  # fails only when its text is among the arguments
if fail_if.exists() and fail_if.read_text() in args:
    sys.exit(f"{name}: {fail_if.read_text()} failed")
if name == "curl":
    if "PUT" in args:
        print("imds-token", end="")
    elif "X-aws-ec2-metadata-token: imds-token" not in args:
        sys.exit("curl: 401 without an IMDSv2 token")
    elif args[-1].endswith("/instance-id"):
        print("i-0123456789abcdef0", end="")
    elif args[-1].endswith("/placement/availability-zone"):
        print("us-east-1b", end="")
    elif args[-1].endswith("/local-hostname"):
        print("IP-10-0-1-23.ec2.internal", end="")
elif name == "aws" and args[:2] == ["secretsmanager", "get-secret-value"]:
    print((stub / "vpn.json").read_text())
elif name == "aws" and args[:2] == ["ssm", "get-parameter"]:
    print((stub / "join.json").read_text())
elif name == "aws" and args[:2] == ["ec2", "describe-iam-instance-profile-associations"]:
    print("iip-assoc-0123456789abcdef0")
elif name == "ip":
    if not (stub / "tun0").exists():
        sys.exit('Device "tun0" does not exist.')
    print("7: tun0    inet 10.8.0.6/24 scope global tun0\\       valid_lft forever")
elif name == "kubeadm":
    shutil.copy(args[args.index("--config") + 1], stub / "kubeadm-config.yaml")
"""


@dataclass
class Run:
    returncode: int
    stderr: str
    calls: list[list[str]]
    stub: Path

    def called(self, name: str) -> list[list[str]]:
        return [c[1:] for c in self.calls if c[0] == name]

    def join_config(self) -> dict[str, object]:
        return yaml.safe_load((self.stub / "kubeadm-config.yaml").read_text())


def join_data(**overrides: object) -> dict[str, object]:
    expires = datetime.now(UTC) + timedelta(hours=1)
    data: dict[str, object] = {
        "endpoint": "10.8.0.1:6443",
        "token": "bt0k3n.s3cr3tt0k3nvalue",
        "caCertHashes": ["sha256:" + "a" * 64],
        "expiration": expires.isoformat().replace("+00:00", "Z"),
    }
    data.update(overrides)
    return data


@pytest.fixture
def stub(tmp_path: Path) -> Path:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in STANDINS + IMAGE_COMMANDS:
        path = bin_dir / name
        path.write_text(f"#!{sys.executable}\n{STANDIN}")
        path.chmod(path.stat().st_mode | stat.S_IXUSR)
    (tmp_path / "vpn.json").write_text(
        json.dumps(
            {
                "config": "client\nremote vpn.example.com 1194 udp\n",
                "username": "node",
                "password": "s3cret",
            }
        )
    )
    (tmp_path / "join.json").write_text(json.dumps(join_data()))
    (tmp_path / "tun0").touch()
    return tmp_path


def run(stub: Path, **settings: str) -> Run:
    values = user_data.settings(
        region="us-east-1",
        join_parameter="/fpga-burst/inaccel/join",
        vpn_secret_arn="arn:aws:secretsmanager:us-east-1:123456789012:secret:vpn-AbCdEf",
        joined_profile=JOINED_PROFILE,
        labels={"inaccel/fpga": "enabled", "fpga-burst/group": "f1-4xlarge"},
        taints=[Taint("fpga-burst/f2", "true", "NoSchedule"), Taint("dedicated", "", "NoExecute")],
    )
    script = stub / "user-data.sh"
    script.write_text(user_data.render({**values, **settings}))
    env = {
        "PATH": f"{stub / 'bin'}:{os.environ['PATH']}",
        "STUB_DIR": str(stub),
        "FPGA_BURST_STATE_DIR": str(stub / "state"),
        "FPGA_BURST_OPENVPN_DIR": str(stub / "openvpn"),
        "FPGA_BURST_SYSTEMD_DIR": str(stub / "systemd"),
        "FPGA_BURST_TUN_TIMEOUT": "1",
        "FPGA_BURST_POLL_SECONDS": "0.1",
        "FPGA_BURST_ATTEMPTS": "3",
    }
    result = subprocess.run(
        ["bash", str(script)], env=env, capture_output=True, text=True, timeout=30, check=False
    )
    calls_file = stub / "calls.jsonl"
    calls = (
        [json.loads(line) for line in calls_file.read_text().splitlines()]
        if calls_file.exists()
        else []
    )
    return Run(result.returncode, result.stderr, calls, stub)


def test_bootstrap_joins_with_ca_pinning_labels_taints_and_provider_id(stub: Path) -> None:
    result = run(stub)

    assert result.returncode == 0, result.stderr
    assert result.called("swapoff") == [["-a"]]
    assert result.called("systemctl") == [
        ["enable", "--now", "containerd"],
        ["enable", "kubelet"],
        ["daemon-reload"],
        ["enable", "--now", "fpga-burst-imds.service"],
        ["daemon-reload"],
        ["enable", "--now", "openvpn-client@fpga-burst"],
        ["enable", "--now", "fpga-burst-device-plugin"],
    ]
    config = result.join_config()
    assert config["apiVersion"] == "kubeadm.k8s.io/v1beta4"
    assert config["kind"] == "JoinConfiguration"
    assert config["discovery"] == {
        "bootstrapToken": {
            "apiServerEndpoint": "10.8.0.1:6443",
            "token": "bt0k3n.s3cr3tt0k3nvalue",
            "caCertHashes": ["sha256:" + "a" * 64],
        }
    }
    registration = config["nodeRegistration"]
    # Named after the instance's private DNS name (lower case, as Node names must be)
    assert registration["name"] == "ip-10-0-1-23.ec2.internal"
    assert "ignorePreflightErrors" not in registration
    assert registration["kubeletExtraArgs"] == [
        {"name": "node-ip", "value": "10.8.0.6"},
        {"name": "provider-id", "value": "aws:///us-east-1b/i-0123456789abcdef0"},
        {"name": "node-labels", "value": "fpga-burst/group=f1-4xlarge,inaccel/fpga=enabled"},
    ]
    assert registration["taints"] == [
        {"key": "fpga-burst/f2", "value": "true", "effect": "NoSchedule"},
        {"key": "dedicated", "value": "", "effect": "NoExecute"},
    ]
    assert result.called("kubeadm") == [["join", "--config", str(stub / "state" / "join.yaml")]]


def test_bootstrap_reads_secrets_with_the_instance_role_and_imdsv2(stub: Path) -> None:
    result = run(stub)

    assert result.returncode == 0, result.stderr
    assert [c for c in result.called("aws") if c[0] != "ec2"] == [  # the reads
        [
            "secretsmanager",
            "get-secret-value",
            "--region",
            "us-east-1",
            "--secret-id",
            "arn:aws:secretsmanager:us-east-1:123456789012:secret:vpn-AbCdEf",
            "--query",
            "SecretString",
            "--output",
            "text",
        ],
        [
            "ssm",
            "get-parameter",
            "--region",
            "us-east-1",
            "--with-decryption",
            "--name",
            "/fpga-burst/inaccel/join",
            "--query",
            "Parameter.Value",
            "--output",
            "text",
        ],
    ]
    vpn = stub / "openvpn"
    assert (vpn / "fpga-burst.login").read_text() == "node\ns3cret\n"
    assert (vpn / "fpga-burst.conf").read_text() == (
        f"client\nremote vpn.example.com 1194 udp\n\nauth-user-pass {vpn / 'fpga-burst.login'}\n"
    )
    assert stat.S_IMODE((vpn / "fpga-burst.login").stat().st_mode) == 0o600
    assert stat.S_IMODE((vpn / "fpga-burst.conf").stat().st_mode) == 0o600
    # Every metadata read carries the session token obtained by the PUT.
    curls = result.called("curl")
    reads = [c for c in curls if "PUT" not in c]
    assert len(reads) == 3 and len(curls) == 6
    assert all("X-aws-ec2-metadata-token: imds-token" in c for c in reads)
    # The token does not stay on disk after the join, and never reaches the log.
    assert not (stub / "state" / "join.yaml").exists()
    assert "s3cr3tt0k3nvalue" not in result.stderr
    assert "s3cret" not in result.stderr


def test_user_data_carries_names_not_secrets(stub: Path) -> None:
    run(stub)
    text = (stub / "user-data.sh").read_text()

    assert "export FPGA_BURST_JOIN_PARAMETER=/fpga-burst/inaccel/join" in text
    assert "s3cret" not in text and "bt0k3n.s3cr3tt0k3nvalue" not in text
    assert "unsafeSkipCAVerification" not in text


def test_aws_calls_are_retried_while_instance_credentials_arrive(stub: Path) -> None:
    (stub / "aws.fail-once").touch()

    result = run(stub)

    assert result.returncode == 0, result.stderr
    assert [c[:2] for c in result.called("aws") if c[0] != "ec2"] == [
        ["secretsmanager", "get-secret-value"],
        ["secretsmanager", "get-secret-value"],
        ["ssm", "get-parameter"],
    ]
    assert "attempt 1 of aws failed; retrying" in result.stderr


def test_vpn_without_login_uses_certificates_only(stub: Path) -> None:
    (stub / "vpn.json").write_text(json.dumps({"config": "client\n"}))

    result = run(stub)

    assert result.returncode == 0, result.stderr
    assert (stub / "openvpn" / "fpga-burst.conf").read_text() == "client\n"
    assert not (stub / "openvpn" / "fpga-burst.login").exists()


def test_vpn_is_a_service_that_survives_reboots_and_kubelet_waits_for_it(stub: Path) -> None:
    result = run(stub)

    assert result.returncode == 0, result.stderr
    # Enabled units come back after a reboot; kubelet's node IP is on tun0, so it waits.
    assert ["enable", "--now", "openvpn-client@fpga-burst"] in result.called("systemctl")
    assert ["enable", "kubelet"] in result.called("systemctl")
    dropin = stub / "systemd" / "kubelet.service.d" / "20-fpga-burst-vpn.conf"
    assert dropin.read_text() == (
        "[Unit]\nWants=openvpn-client@fpga-burst.service\nAfter=openvpn-client@fpga-burst.service\n"
    )
    # The unit reads its configuration; nothing starts openvpn by hand as a daemon.
    assert "--daemon" not in (stub / "user-data.sh").read_text()


def join_error_tags(result: Run) -> list[dict[str, str]]:
    """The tags the script put on its instance (`aws ec2 create-tags ... --tags <json>`)."""
    calls = [c for c in result.called("aws") if c[:2] == ["ec2", "create-tags"]]
    for call in calls:
        assert call[call.index("--resources") + 1] == "i-0123456789abcdef0"
    return [tag for c in calls for tag in json.loads(c[c.index("--tags") + 1])]


def service_fails(service: str, step: str, id: str) -> Any:
    """A case of the table below: systemctl cannot start `service`, in `step`."""
    return pytest.param(lambda s: (s / "systemctl.fail-if").write_text(service), step,
                        f"cannot start {service}", id=id)


def join_data_fails(text: str, problem: str, id: str) -> Any:
    """A case of the table below: the join data the script reads is `text`, refused."""
    return pytest.param(lambda s: (s / "join.json").write_text(text), "join-data",
                        f"join data: {problem}", id=id)


@pytest.mark.parametrize(
    ("setup", "step", "message"),
    [
        pytest.param(
            lambda s: (s / "tun0").unlink(),
            "vpn",
            "tun0 did not come up within 1s",
            id="no-tun0",
        ),
        pytest.param(
            lambda s: (s / "aws.fail").write_text("AccessDeniedException"),
            "vpn",
            "cannot read VPN secret",
            id="secrets-manager-denied",
        ),
        service_fails("openvpn-client@fpga-burst", "vpn", id="vpn-service-fails"),
        service_fails("containerd", "host", id="no-containerd"),
        join_data_fails(json.dumps(join_data(caCertHashes=[])),
                        "caCertHashes must be a non-empty list", id="no-ca-hash"),
        join_data_fails(json.dumps(join_data(expiration="2020-01-01T00:00:00Z")),
                        "token expired", id="expired-token"),
        join_data_fails("{", "not JSON", id="bad-json"),
        pytest.param(
            lambda s: (s / "kubeadm.fail").touch(),
            "kubeadm-join",
            "kubeadm join failed",
            id="kubeadm-fails",
        ),
        pytest.param(
            # An AMI given in the config but not built from image/node, lacking the F2 tools
            lambda s: (s / "bin" / "fpga-load-local-image").unlink(),
            "image",
            "the AMI lacks fpga-load-local-image (build it with image/node",
            id="ami-without-f2-tools",
        ),
        service_fails("fpga-burst-device-plugin", "device-plugin", id="device-plugin-fails"),
    ],
)
def test_a_node_that_fails_to_join_says_which_step_and_why(
    stub: Path, setup: object, step: str, message: str
) -> None:
    setup(stub)  # type: ignore[operator]

    result = run(stub)

    assert result.returncode != 0
    assert f"join failed at {step}: {message}" in result.stderr  # console / cloud-init log
    [tag] = join_error_tags(result)
    assert tag["Key"] == "fpga-burst.io/join-error"
    assert tag["Value"].startswith(f"{step}: {message}")
    joined = step in ("kubeadm-join", "device-plugin")
    assert result.called("kubeadm") == (
        [["join", "--config", str(stub / "state" / "join.yaml")]] if joined else []
    )
    assert not (stub / "state" / "join.yaml").exists()


def test_tagging_is_best_effort_and_the_console_still_says_why(stub: Path) -> None:
    # No ec2:CreateTags on the node role (or no route to EC2): the failure is still logged.
    (stub / "aws.fail-if").write_text("create-tags")
    (stub / "kubeadm.fail").touch()

    result = run(stub)

    assert result.returncode == 1
    assert "join failed at kubeadm-join: kubeadm join failed" in result.stderr
    assert "could not tag i-0123456789abcdef0 with fpga-burst.io/join-error" in result.stderr


def test_without_instance_metadata_the_failure_is_logged_not_tagged(stub: Path) -> None:
    (stub / "curl.fail").touch()

    result = run(stub)

    assert result.returncode != 0
    assert "join failed at metadata: cannot get an IMDSv2 token" in result.stderr
    assert join_error_tags(result) == []


def test_an_unexpected_failure_names_the_command_but_no_secret(stub: Path) -> None:
    # Not one of the checked failures: set -e stops the script, the ERR trap names the line.
    (stub / "vpn.json").write_text(json.dumps({"config": "client\n", "username": 5}))

    result = run(stub)

    assert result.returncode != 0
    [tag] = join_error_tags(result)
    assert tag["Value"].startswith("vpn: line ")
    assert "json_field username" in tag["Value"]
    assert "s3cret" not in result.stderr


def test_a_long_failure_message_fits_an_ec2_tag_value(stub: Path) -> None:
    (stub / "aws.fail-if").write_text("get-secret-value")

    result = run(stub, FPGA_BURST_VPN_SECRET="arn:aws:secretsmanager:" + "x" * 300)

    [tag] = join_error_tags(result)
    assert result.returncode != 0
    assert tag["Value"].startswith("vpn: cannot read VPN secret arn:aws:secretsmanager:xxx")
    assert len(tag["Value"]) == 256  # EC2's limit for a tag value


def test_a_malformed_expiration_is_named(stub: Path) -> None:
    (stub / "join.json").write_text(json.dumps(join_data(expiration="next tuesday")))

    result = run(stub)

    assert result.returncode != 0
    assert "join failed at join-data: join data: expiration is not an ISO 8601 time" in (
        result.stderr
    )
    assert "Traceback" not in result.stderr


def test_ssm_read_failure_stops_before_kubeadm(stub: Path) -> None:
    # Secrets Manager answers, SSM does not: a stand-in that fails only for `ssm`.
    (stub / "join.json").unlink()

    result = run(stub)

    assert result.returncode != 0
    assert "cannot read join parameter /fpga-burst/inaccel/join" in result.stderr
    assert len([c for c in result.called("aws") if c[0] == "ssm"]) == 3  # FPGA_BURST_ATTEMPTS
    assert result.called("kubeadm") == []


def test_missing_setting_is_named(stub: Path) -> None:
    result = run(stub, FPGA_BURST_JOIN_PARAMETER="")

    assert result.returncode != 0
    assert "FPGA_BURST_JOIN_PARAMETER is not set" in result.stderr


def test_bootstrap_is_shellcheck_clean() -> None:
    shellcheck = Path(sys.executable).with_name("shellcheck")
    result = subprocess.run(
        [str(shellcheck), "--severity=style", str(user_data.BOOTSTRAP)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout


def test_preflight_checks_to_ignore_reach_the_join_configuration(stub: Path) -> None:
    # Only the real-kubelet test sets this: its shared machine fails checks a node passes.
    result = run(stub, FPGA_BURST_KUBEADM_IGNORE_PREFLIGHT="Port-10250,SystemVerification")

    assert result.returncode == 0, result.stderr
    registration = result.join_config()["nodeRegistration"]
    assert registration["ignorePreflightErrors"] == ["Port-10250", "SystemVerification"]


def test_after_the_join_the_node_swaps_to_the_joined_profile_and_imds_is_root_only(
    stub: Path,
) -> None:
    """
    GIVEN a node that joins
    THEN  before kubeadm join, a unit that survives reboots lets only root reach IMDS;
          after it, the instance's own profile association is swapped to the joined
          profile (whose role cannot read the join token): the last AWS call it makes
    """
    result = run(stub)

    assert result.returncode == 0, result.stderr
    order = [c[0] if c[0] != "aws" else f"aws {c[2]}" for c in result.calls]
    unit = (stub / "systemd" / "fpga-burst-imds.service").read_text()
    assert "-m owner ! --uid-owner 0 -j REJECT" in unit and "169.254.169.254" in unit
    assert order.index("kubeadm") < order.index("aws replace-iam-instance-profile-association")
    assert ["enable", "--now", "fpga-burst-imds.service"] in result.called("systemctl")
    enabled = [i for i, c in enumerate(result.calls)
               if c == ["systemctl", "enable", "--now", "fpga-burst-imds.service"]]
    assert enabled[0] < order.index("kubeadm")
    aws = {c[1]: c for c in result.called("aws")}
    describe = aws["describe-iam-instance-profile-associations"]
    assert "Name=instance-id,Values=i-0123456789abcdef0" in describe
    swap = aws["replace-iam-instance-profile-association"]
    assert swap[swap.index("--association-id") + 1] == "iip-assoc-0123456789abcdef0"
    assert swap[swap.index("--iam-instance-profile") + 1] == f"Name={JOINED_PROFILE}"
    assert order[-1] == "aws replace-iam-instance-profile-association"


def test_a_failed_swap_says_so_on_the_instance(stub: Path) -> None:
    (stub / "aws.fail-if").write_text("replace-iam-instance-profile-association")

    result = run(stub)

    assert result.returncode != 0
    assert "drop-join-access: cannot swap to the joined instance profile" in result.stderr
