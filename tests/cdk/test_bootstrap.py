"""The node bootstrap script, run for real with recording stand-ins for the outside world.

openvpn, kubeadm, aws, curl, ip, systemctl and swapoff are replaced on PATH by one small
program that logs its argv and answers like the real command would; bash, python3 and awk
are real. The script runs exactly as the instance would run it: the rendered user data.
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

import pytest
import yaml

from burst.core.model import Taint
from stacks.nodegroup import user_data

STANDINS = ("openvpn", "kubeadm", "aws", "curl", "ip", "systemctl", "swapoff")
STANDIN = r"""
import json, os, shutil, sys
from pathlib import Path

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
if name == "curl":
    if "PUT" in args:
        print("imds-token", end="")
    elif "X-aws-ec2-metadata-token: imds-token" not in args:
        sys.exit("curl: 401 without an IMDSv2 token")
    elif args[-1].endswith("/instance-id"):
        print("i-0123456789abcdef0", end="")
    elif args[-1].endswith("/placement/availability-zone"):
        print("us-east-1b", end="")
elif name == "aws" and args[:2] == ["secretsmanager", "get-secret-value"]:
    print((stub / "vpn.json").read_text())
elif name == "aws" and args[:2] == ["ssm", "get-parameter"]:
    print((stub / "join.json").read_text())
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
    for name in STANDINS:
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
        labels={"inaccel/fpga": "enabled", "fpga-burst/group": "f1-4xlarge"},
        taints=[Taint("fpga-burst/f2", "true", "NoSchedule"), Taint("dedicated", "", "NoExecute")],
    )
    script = stub / "user-data.sh"
    script.write_text(user_data.render({**values, **settings}))
    env = {
        "PATH": f"{stub / 'bin'}:{os.environ['PATH']}",
        "STUB_DIR": str(stub),
        "FPGA_BURST_STATE_DIR": str(stub / "state"),
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
    assert result.called("systemctl") == [["enable", "--now", "containerd"]]
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
    assert result.called("aws") == [
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
    state = stub / "state"
    assert result.called("openvpn") == [
        [
            "--config",
            str(state / "openvpn.conf"),
            "--daemon",
            "fpga-burst-openvpn",
            "--writepid",
            str(state / "openvpn.pid"),
            "--auth-user-pass",
            str(state / "openvpn.login"),
        ]
    ]
    assert (state / "openvpn.login").read_text() == "node\ns3cret\n"
    assert (state / "openvpn.conf").read_text().startswith("client\n")
    assert stat.S_IMODE((state / "openvpn.login").stat().st_mode) == 0o600
    # Every metadata read carries the session token obtained by the PUT.
    curls = result.called("curl")
    reads = [c for c in curls if "PUT" not in c]
    assert len(reads) == 2 and len(curls) == 4
    assert all("X-aws-ec2-metadata-token: imds-token" in c for c in reads)
    # The token does not stay on disk after the join, and never reaches the log.
    assert not (state / "join.yaml").exists()
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
    assert [c[:2] for c in result.called("aws")] == [
        ["secretsmanager", "get-secret-value"],
        ["secretsmanager", "get-secret-value"],
        ["ssm", "get-parameter"],
    ]
    assert "attempt 1 of aws failed; retrying" in result.stderr


def test_vpn_without_login_uses_certificates_only(stub: Path) -> None:
    (stub / "vpn.json").write_text(json.dumps({"config": "client\n"}))

    result = run(stub)

    assert result.returncode == 0, result.stderr
    assert "--auth-user-pass" not in result.called("openvpn")[0]


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        pytest.param(
            lambda s: (s / "tun0").unlink(), "tun0 did not come up within 1s", id="no-tun0"
        ),
        pytest.param(
            lambda s: (s / "aws.fail").write_text("AccessDeniedException"),
            "cannot read VPN secret",
            id="secrets-manager-denied",
        ),
        pytest.param(
            lambda s: (s / "openvpn.fail").touch(), "openvpn failed to start", id="openvpn-fails"
        ),
        pytest.param(
            lambda s: (s / "join.json").write_text(json.dumps(join_data(caCertHashes=[]))),
            "caCertHashes must be a non-empty list",
            id="no-ca-hash",
        ),
        pytest.param(
            lambda s: (s / "join.json").write_text(
                json.dumps(join_data(expiration="2020-01-01T00:00:00Z"))
            ),
            "token expired",
            id="expired-token",
        ),
        pytest.param(
            lambda s: (s / "join.json").write_text("{"), "join data: not JSON", id="bad-json"
        ),
        pytest.param(
            lambda s: (s / "kubeadm.fail").touch(), "kubeadm join failed", id="kubeadm-fails"
        ),
        pytest.param(
            lambda s: (s / "curl.fail").touch(), "cannot get an IMDSv2 token", id="no-imds"
        ),
    ],
)
def test_bootstrap_fails_loudly(stub: Path, setup: object, message: str) -> None:
    setup(stub)  # type: ignore[operator]

    result = run(stub)

    assert result.returncode != 0
    assert message in result.stderr


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
