"""The tokens function end to end: bootstrap-token Secrets in the real API server (as the
controller's identity), join data in moto's SSM; and `burst invoke` as a subprocess against
a moto_server and a kubeconfig."""

from __future__ import annotations

import base64
import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml
from awsfakes import OperationStubber
from iamenforce import Enforcer, credentials
from iamenforce import session_keys as iam_keys
from moto import mock_aws

from burst.adapters.aws.adapter import Aws, AwsSettings
from burst.adapters.kube.adapter import KubeCluster
from burst.adapters.kube.client import Json, Kube
from burst.adapters.kube.tokens import NAMESPACE, SECRET_TYPE
from burst.adapters.kube.watch import PendingWatch
from burst.core import joinhash
from burst.core.errors import AwsThrottledError, KubeNotFoundError
from burst.handlers import runtime
from burst.handlers import tokens as handler
from burst.loop import config
from burst.ports.aws import ClusterCredentials
from burst.tools.harness import controlplane
from burst.tools.harness.clock import FakeClock
from burst.tools.harness.context import LambdaContext
from burst.tools.harness.moto import moto_server, session

REGION = "us-east-1"
CLUSTER = "onprem"
PARAMETER = "/fpga-burst/onprem/join"
ROOT = Path(__file__).parents[2]
TICK = json.loads((ROOT / "events" / "scheduled.json").read_text())


@dataclass
class World:
    ssm: Any
    key_id: str
    cfg: config.RuntimeConfig
    adapters: runtime.Adapters
    clock: FakeClock

    def tick(self) -> dict[str, Any]:
        context = LambdaContext(60, "fpga-burst-onprem-tokens")
        return handler.run(TICK, context, cfg=self.cfg, adapters=self.adapters, clock=self.clock)

    def published(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """(the parameter's JSON value, its description)."""
        value = self.ssm.get_parameter(Name=PARAMETER, WithDecryption=True)["Parameter"]
        (meta,) = self.ssm.describe_parameters(
            ParameterFilters=[{"Key": "Name", "Values": [PARAMETER]}])["Parameters"]
        return json.loads(value["Value"]), {**meta, "Version": value["Version"]}


def join_key(s: boto3.Session, iam_enforced: Enforcer) -> str:
    """A new KMS key, the stack's join key for the function's policy; its id."""
    key = s.client("kms").create_key()["KeyMetadata"]
    iam_enforced.bind_type("AWS::KMS::Key", "Arn", key["Arn"])
    return str(key["KeyId"])


@pytest.fixture
def world(tokens_kube: Kube, iam_enforced: Enforcer, iam_policies: object) -> Iterator[World]:
    with mock_aws():
        s = session(REGION)
        key_id = join_key(s, iam_enforced)
        cfg = config.load(environ={}, cluster_name=CLUSTER, join_parameter=PARAMETER,
                          join_key_id=key_id, config={})
        # The function's own key: its calls are checked against its policy (iamenforce).
        as_tokens = boto3.Session(**iam_keys("tokens"), region_name=REGION)
        adapters = runtime.Adapters(Aws(as_tokens, AwsSettings(region=REGION)),
                                    KubeCluster(tokens_kube, cfg.boards),
                                    PendingWatch(tokens_kube, cfg.boards))
        yield World(s.client("ssm"), key_id, cfg, adapters, FakeClock.starting_now())


def secret_of(admin: Kube, token_id: str) -> Json | None:
    try:
        return admin.call("read token", admin.core.read_namespaced_secret,
                          f"bootstrap-token-{token_id}", NAMESPACE)
    except KubeNotFoundError:
        return None


def foreign_token(admin: Kube, expiration: datetime) -> str:
    """An expired token kubeadm or an operator made: not labelled as ours."""
    token_id = "op" + os.urandom(2).hex()
    admin.call("create token", admin.core.create_namespaced_secret, NAMESPACE, {
        "metadata": {"name": f"bootstrap-token-{token_id}"},
        "type": SECRET_TYPE,
        "stringData": {"token-id": token_id, "token-secret": "0123456789abcdef",
                       "expiration": expiration.strftime("%Y-%m-%dT%H:%M:%SZ"),
                       "usage-bootstrap-authentication": "true"},
    })
    return token_id


def test_tokens_publish_join_data_keep_it_until_rotation_then_rotate_and_clean_up(
    world: World, admin: Kube, control_plane: controlplane.ControlPlane,
    caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)
    theirs = foreign_token(admin, world.clock.wall_time - timedelta(days=1))
    # WHEN the tokens function runs for the first time
    first = world.tick()
    # THEN it made a bootstrap token Secret of ours in kube-system...
    assert first["outcome"] == "ok" and first["created"]
    made = secret_of(admin, first["created"])
    assert made is not None and made["type"] == SECRET_TYPE
    # ... and published it as a SecureString, with our KMS key, the endpoint and CA hash
    value, meta = world.published()
    assert (meta["Type"], meta["KeyId"]) == ("SecureString", world.key_id)
    assert value["caCertHashes"] == list(joinhash.discovery_hashes(control_plane.ca_pem))
    assert value["endpoint"] == control_plane.endpoint.removeprefix("https://")
    token_id, token_secret = value["token"].split(".")
    assert token_id == first["created"]
    assert base64.b64decode(made["data"]["token-secret"]).decode() == token_secret
    # WHEN it runs again before rotation time: nothing changes
    world.clock.wall_time += timedelta(minutes=15)
    second = world.tick()
    assert (second["created"], second["deleted"]) == (None, [])
    assert world.published()[1]["Version"] == meta["Version"]
    # WHEN the first token has expired: a new one is published, the old one deleted, and
    # the expired token that is not ours is left alone
    world.clock.wall_time += world.cfg.token_ttl
    third = world.tick()
    assert third["created"] not in (None, token_id) and token_id in third["deleted"]
    assert secret_of(admin, token_id) is None
    assert secret_of(admin, theirs) is not None
    assert world.published()[0]["token"].startswith(third["created"] + ".")
    # AND no token secret ever reached a log line or a summary
    newest = world.published()[0]["token"].split(".")[1]
    seen = caplog.text + capsys.readouterr().out + json.dumps([first, second, third])
    assert token_secret not in seen and newest not in seen


def kubeconfig_for(credentials: ClusterCredentials, path: Path) -> Path:
    """A kubeconfig for the controller's restricted identity, as an operator would write."""
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "burst",
        "clusters": [{"name": "c", "cluster": {
            "server": credentials.endpoint,
            "certificate-authority-data": base64.b64encode(credentials.ca.encode()).decode()}}],
        "users": [{"name": "u", "user": {"token": credentials.token}}],
        "contexts": [{"name": "burst", "context": {"cluster": "c", "user": "u"}}],
    }))
    return path


def burst(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "burst.tools.cli", *args], capture_output=True,
                          text=True, env=env, timeout=120, check=False)


def test_burst_invoke_runs_the_tokens_handler_against_moto_server_and_a_kubeconfig(
    identities: dict[str, ClusterCredentials], tmp_path: Path,
) -> None:
    with moto_server(own_process=True) as endpoint:
        setup = session(REGION)
        key_id = setup.client("kms", endpoint_url=endpoint).create_key()["KeyMetadata"]["KeyId"]
        env = {**os.environ, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
               "FPGA_BURST_CLUSTER_NAME": CLUSTER, "FPGA_BURST_JOIN_PARAMETER": PARAMETER,
               "FPGA_BURST_JOIN_KEY_ID": key_id}
        kubeconfig = kubeconfig_for(identities["tokens"], tmp_path / "kubeconfig")
        done = burst("invoke", "tokens", "--event", str(ROOT / "events" / "scheduled.json"),
                     "--kubeconfig", str(kubeconfig), "--endpoint-url", endpoint,
                     "--region", REGION, env=env)
        assert done.returncode == 0, done.stderr
        summary = json.loads(done.stdout.strip().splitlines()[-1])
        assert summary["outcome"] == "ok" and summary["created"]
        ssm = setup.client("ssm", endpoint_url=endpoint)
        parameter = ssm.get_parameter(Name=PARAMETER, WithDecryption=True)["Parameter"]
        assert parameter["Type"] == "SecureString"
        token = json.loads(parameter["Value"])["token"]
        assert token.startswith(summary["created"] + ".")
        assert token.split(".")[1] not in done.stdout + done.stderr
        # Bad input: one line naming the file, non-zero, no traceback
        bad = tmp_path / "bad.json"
        bad.write_text("{not json")
        for args in (["tokens", "--event", str(bad)],
                     ["tokens", "--event", str(tmp_path / "missing.json")],
                     ["nonsense", "--event", str(ROOT / "events" / "scheduled.json")]):
            refused = burst("invoke", *args, env=env)
            assert refused.returncode != 0
            assert refused.stderr.count("\n") == 1 and "Traceback" not in refused.stderr
            assert args[0] in refused.stderr or args[2] in refused.stderr



def test_an_empty_event_publishes_the_first_join_data_now(
    world: World, identities: dict[str, ClusterCredentials], tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # GIVEN a fresh deployment (its settings in the environment, as the stack sets them):
    # nothing published yet
    kubeconfig = kubeconfig_for(identities["tokens"], tmp_path / "kubeconfig")
    for name, setting in {**credentials("tokens"),
                          "FPGA_BURST_CLUSTER_NAME": CLUSTER, "AWS_REGION": REGION,
                          "FPGA_BURST_KUBECONFIG": str(kubeconfig),
                          "FPGA_BURST_JOIN_PARAMETER": PARAMETER,
                          "FPGA_BURST_JOIN_KEY_ID": world.key_id}.items():
        monkeypatch.setenv(name, setting)
    runtime.config.cache_clear()
    with pytest.raises(world.ssm.exceptions.ParameterNotFound):
        world.published()
    # WHEN the operator runs the README's command, which sends {} (as Lambda also does for
    # an invoke without a payload), to the function's Lambda entry point
    try:
        summary = handler.handler({}, LambdaContext(60, "fpga-burst-onprem-tokens"))
    finally:
        runtime.config.cache_clear()
    # THEN the join data is published at once, and the answer says what was done
    assert summary["outcome"] == "ok" and summary["event"] == "run-now" and summary["created"]
    value, meta = world.published()
    assert meta["Type"] == "SecureString"
    assert value["token"].startswith(summary["created"] + ".")


def test_a_throttled_publish_is_raised_so_lambda_retries_it_and_the_retry_publishes(
    world: World,
) -> None:
    # GIVEN SSM throttles PutParameter past the client's own retries
    stub = OperationStubber(world.adapters.aws.client("ssm"), "PutParameter")
    stub.add_client_error("put_parameter", "ThrottlingException", "Rate exceeded", 400)
    # WHEN the tokens function runs: the error reaches Lambda, counted
    with stub, pytest.raises(AwsThrottledError, match="Rate exceeded"):
        world.tick()
    assert "AwsThrottled" in runtime.metrics.metric_set
    runtime.metrics.clear_metrics()
    # THEN Lambda's retry decides again and publishes
    retried = world.tick()
    assert retried["outcome"] == "ok" and retried["created"]
    value, _ = world.published()
    assert value["token"].startswith(retried["created"] + ".")


SYDNEY = "ap-southeast-2"  # the other region of the IAM test deployment (iam-deploy.yaml)
ALIAS = "alias/fpga-burst/onprem/join"


def test_the_join_data_is_copied_to_every_region_with_groups_and_kept_in_step(
    tokens_kube: Kube, iam_enforced: Enforcer, iam_policies: object,
) -> None:
    with mock_aws():
        s = session(REGION)
        home_key = join_key(s, iam_enforced)
        # GIVEN Sydney's stack made its own key, named by the alias the functions know
        sydney_kms = s.client("kms", region_name=SYDNEY)
        sydney_key = sydney_kms.create_key()["KeyMetadata"]["KeyId"]
        sydney_kms.create_alias(AliasName=ALIAS, TargetKeyId=sydney_key)
        alias_arn = f"arn:aws:kms:{SYDNEY}:123456789012:{ALIAS}"
        cfg = config.load(environ={}, cluster_name=CLUSTER, join_parameter=PARAMETER,
                          join_key_id=home_key, region=REGION,
                          config={"regions": {SYDNEY: {"join_key_id": alias_arn}}})
        # The function's own key: every call, the other region's included, is checked
        # against its synthesized policy (iamenforce), the key named by its alias.
        as_tokens = boto3.Session(**iam_keys("tokens"), region_name=REGION)
        adapters = runtime.Adapters(
            Aws(as_tokens, AwsSettings(region=REGION), regions=tuple(cfg.regions)),
            KubeCluster(tokens_kube, cfg.boards), PendingWatch(tokens_kube, cfg.boards))
        clock = FakeClock.starting_now()
        home, sydney = s.client("ssm"), s.client("ssm", region_name=SYDNEY)

        def tick() -> dict[str, Any]:
            return handler.run(TICK, LambdaContext(60, "fpga-burst-onprem-tokens"), cfg=cfg,
                               adapters=adapters, clock=clock)

        def value(ssm: Any) -> str:
            return str(ssm.get_parameter(Name=PARAMETER, WithDecryption=True)["Parameter"]["Value"])

        def key_of(ssm: Any) -> str:
            (meta,) = ssm.describe_parameters(
                ParameterFilters=[{"Key": "Name", "Values": [PARAMETER]}])["Parameters"]
            return str(meta["KeyId"])

        # WHEN the tokens function runs
        first = tick()
        # THEN Sydney's parameter holds the same join data, under Sydney's key
        assert first["outcome"] == "ok" and first["regions"] == {SYDNEY: "published"}
        assert value(sydney) == value(home)
        assert (key_of(home), key_of(sydney)) == (home_key, alias_arn)
        # WHEN nothing changed: nothing is written again
        clock.wall_time += timedelta(minutes=15)
        version = sydney.get_parameter(Name=PARAMETER)["Parameter"]["Version"]
        assert tick()["regions"] == {SYDNEY: "up to date"}
        assert sydney.get_parameter(Name=PARAMETER)["Parameter"]["Version"] == version
        # WHEN Sydney's copy is lost (a region added later looks the same): it catches up
        sydney.delete_parameter(Name=PARAMETER)
        assert tick()["regions"] == {SYDNEY: "published"}
        assert value(sydney) == value(home)
        # WHEN the token rotates at home: the new one reaches Sydney on the same run
        clock.wall_time += cfg.token_ttl
        rotated = tick()
        assert rotated["created"] and rotated["regions"] == {SYDNEY: "published"}
        assert json.loads(value(sydney))["token"].startswith(rotated["created"] + ".")
