"""`burst doctor` against the real control plane and moto: one misconfiguration per check.

A correct deployment (credentials secret, RBAC applied, a tagged group with both hooks, a
fresh join parameter, nodes advertising catalog boards) passes every check; then each test
breaks one thing and asserts that check, and only the cause it names, fails with its fix.
The deployed scaler's diagnose request is run the same way, as Lambda invokes it.
"""

from __future__ import annotations

import base64
import contextlib
import json
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
import scaler_env
from conftest import unique

from burst.adapters.kube import identity
from burst.adapters.kube.client import Kube
from burst.core.alarms import HANDLER_ALARMS, alarm_name, every_alarm
from burst.core.asgtags import JOIN_ERROR_TAG
from burst.core.errors import KubeNotFoundError
from burst.core.names import Hook, Metric
from burst.handlers import runtime, scaler
from burst.loop import config as config_mod
from burst.loop import doctor
from burst.loop.doctor import Check, Status
from burst.ports.aws import ClusterCredentials
from burst.tools import cli, credentials
from burst.tools import doctor as doctor_cmd
from burst.tools.harness import objects, pki
from burst.tools.harness.context import LambdaContext
from burst.tools.harness.events import scheduled_event
from burst.tools.harness.moto import CLUSTER, SECRET, MotoView, own_keys, session
from burst.tools.harness.net import free_port

JOIN = "/fpga-burst/onprem/join"
GROUP = "onprem-doctor-f2-6xlarge"  # as the stack names it: <cluster>-<group>
F2 = "xilinx/aws-vu47p-f2"
ACCESS = doctor.required_access(
    credentials.load_manifests(credentials.DEFAULT_RBAC), str(credentials.DEFAULT_RBAC),
    identity.account("scaler"))
TRANSITIONS = {Hook.LAUNCH: "autoscaling:EC2_INSTANCE_LAUNCHING",
               Hook.TERMINATE: "autoscaling:EC2_INSTANCE_TERMINATING"}


@pytest.fixture(scope="module")
def good_credentials(admin: Kube, controller_credentials: ClusterCredentials) -> ClusterCredentials:
    """The controller's identity with a token of 30 days: far from the 7-day warning."""
    return replace(controller_credentials,
                   token=credentials.issue_token(admin, "scaler", timedelta(days=30)))


class World:
    """The AWS side of one deployment in moto, built correct; tests break one part."""

    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint
        self.aws = MotoView(endpoint)
        self.ssm = session().client("ssm", endpoint_url=endpoint)

    def build(self, creds: ClusterCredentials, *, hooks: tuple[str, ...] = tuple(Hook),
              group: bool = True, join: bool = True) -> None:
        self.aws.store_credentials({"scaler": creds})
        if group:
            self.aws.group(GROUP, "f2.6xlarge", {"inaccel/fpga": "enabled"})
            for hook in hooks:
                self.aws.asg.put_lifecycle_hook(
                    LifecycleHookName=hook, AutoScalingGroupName=GROUP,
                    LifecycleTransition=TRANSITIONS[Hook(hook)], HeartbeatTimeout=900)
        if join:
            self.ssm.put_parameter(Name=JOIN, Value="{}", Type="SecureString")
        # The stack's alarms, named as stacks/controller/monitoring.py names them
        cloudwatch = self.aws.client("cloudwatch")
        for spec in every_alarm(identity.FUNCTIONS):
            cloudwatch.put_metric_alarm(
                AlarmName=alarm_name(CLUSTER, spec.id), MetricName=spec.id,
                Namespace="fpga-burst", Statistic=spec.statistic, Period=60,
                EvaluationPeriods=spec.periods, Threshold=spec.threshold,
                ComparisonOperator="GreaterThanOrEqualToThreshold")

    def check(self, now: datetime | None = None) -> dict[str, Check]:
        cfg = config_mod.load(
            {**scaler_env.environment(self.endpoint), "FPGA_BURST_JOIN_PARAMETER": JOIN})
        # `burst doctor` runs with the operator's credentials, not a function's
        with own_keys():
            report = doctor_cmd.check(cfg, None, ACCESS, now)
        assert [c.name for c in report.checks] == [*doctor.CHECKS, doctor.ALARMS]
        return {c.name: c for c in report.checks}


@pytest.fixture
def world(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch,
          iam_policies: object) -> Iterator[World]:
    requests.post(f"{moto_endpoint}/moto-api/reset", timeout=10)
    for key, value in scaler_env.environment(moto_endpoint).items():
        monkeypatch.setenv(key, value)
    runtime.config.cache_clear()
    yield World(moto_endpoint)
    runtime.config.cache_clear()


def assert_only_failure(checks: dict[str, Check], name: str, *words: str) -> Check:
    """`name` fails, naming each of `words` in its problem, fix or lines; no other fails."""
    failed = sorted(n for n, c in checks.items() if c.status is Status.FAIL)
    assert failed == [name], {n: checks[n].render() for n in failed}
    check = checks[name]
    assert check.fix, check.render()
    text = check.render()
    for word in words:
        assert word in text, text
    return check


AddNode = Callable[[dict[str, str]], str]


@pytest.fixture
def add_node(admin: Kube, admin_nodes: list[str]) -> AddNode:
    """Makes a Node advertising the resources given (deleted after the test); its name."""
    def add(allocatable: dict[str, str]) -> str:
        admin_nodes.append(unique("doctor-node"))
        objects.node(admin, admin_nodes[-1], allocatable=allocatable)
        return admin_nodes[-1]
    return add


def test_a_correct_deployment_passes_every_check(
    world: World, good_credentials: ClusterCredentials, add_node: AddNode,
) -> None:
    world.build(good_credentials)
    add_node({F2: "1"})
    checks = world.check()
    statuses = {n: c.status for n, c in checks.items()}
    assert statuses == {**{n: Status.OK for n in (*doctor.CHECKS, doctor.ALARMS)},
                        doctor.CONFIG: Status.NOT_RUN}
    assert checks[doctor.ALARMS].detail == f"none of {3 + len(HANDLER_ALARMS) + 1} alarms in ALARM"
    assert "fpga-burst" in checks[doctor.TOKEN].detail  # the ServiceAccount, as seen
    assert f"all {len(ACCESS)} verbs allowed" in checks[doctor.RBAC].detail
    group = checks[doctor.NODE_GROUPS].lines[0]
    assert group.startswith(f"{GROUP}: f2.6xlarge") and f"{F2} x1" in group
    assert "inaccel/fpga=enabled" in group


def test_a_ca_that_does_not_verify_the_server_is_named(
    world: World, good_credentials: ClusterCredentials,
) -> None:
    world.build(replace(good_credentials, ca=pki.ca().cert_pem().decode()))
    check = assert_only_failure(world.check(), doctor.API_SERVER,
                                "CA does not verify", "burst credentials")
    assert "CERTIFICATE_VERIFY_FAILED" in check.detail or "certificate" in check.detail


def test_an_unreachable_api_server_is_named_and_the_cluster_checks_not_run(
    world: World, good_credentials: ClusterCredentials,
) -> None:
    closed = f"https://127.0.0.1:{free_port()}"
    world.build(replace(good_credentials, endpoint=closed))
    checks = world.check()
    assert_only_failure(checks, doctor.API_SERVER, "cannot be reached", "route")
    for name in (doctor.TOKEN, doctor.RBAC, doctor.BOARDS):
        assert checks[name].status is Status.NOT_RUN


def _jwt(claims: dict[str, Any]) -> str:
    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")

    return f"{part({'alg': 'RS256'})}.{part(claims)}.c2lnbmF0dXJl"


@pytest.mark.parametrize(
    ("token", "words"),
    [
        pytest.param(_jwt({"exp": 1_600_000_000}), ("expired 2020-09-13",), id="expired"),
        pytest.param("not-a-token-the-server-knows", ("rejects the controller's token",),
                     id="invalid"),
    ],
)
def test_an_expired_or_invalid_token_is_named_with_its_fix(
    world: World, good_credentials: ClusterCredentials, token: str, words: tuple[str, ...],
) -> None:
    world.build(replace(good_credentials, token=token))
    check = assert_only_failure(world.check(), doctor.TOKEN, *words)
    assert "burst credentials --kubeconfig" in check.fix


def test_a_token_near_expiry_warns_a_week_ahead(
    world: World, good_credentials: ClusterCredentials,
) -> None:
    world.build(good_credentials)
    checks = world.check(now=datetime.now(UTC) + timedelta(days=25))
    assert checks[doctor.TOKEN].status is Status.WARN
    assert "(4 days)" in checks[doctor.TOKEN].detail
    assert "burst credentials" in checks[doctor.TOKEN].fix


@pytest.fixture
def half_bound(admin: Kube, good_credentials: ClusterCredentials) -> Iterator[ClusterCredentials]:
    """A ServiceAccount with the ClusterRole bound but not kube-system's Role: the
    manifest applied without its RoleBinding."""
    name = unique("doctor-sa")
    ns = identity.NAMESPACE
    admin.call("create sa", admin.core.create_namespaced_service_account, ns,
               {"metadata": {"name": name}})
    admin.call("bind", admin.rbac.create_cluster_role_binding, {
        "metadata": {"name": name},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                    "name": "fpga-burst-nodes"},
        "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": ns}],
    })
    answer = admin.call("token", admin.core.create_namespaced_service_account_token, name, ns,
                        {"spec": {"expirationSeconds": 3600 * 24 * 30}})
    try:
        yield replace(good_credentials, token=answer["status"]["token"])
    finally:
        with contextlib.suppress(KubeNotFoundError):
            admin.call("unbind", admin.rbac.delete_cluster_role_binding, name)
            admin.call("delete sa", admin.core.delete_namespaced_service_account, name, ns)


def test_an_instance_that_failed_to_join_is_named_with_what_it_said(
    world: World, good_credentials: ClusterCredentials,
) -> None:
    world.build(good_credentials)
    world.aws.asg.set_desired_capacity(AutoScalingGroupName=GROUP, DesiredCapacity=1)
    (instance,) = [i["InstanceId"] for i in world.aws.instances(GROUP)]
    world.aws.ec2.create_tags(Resources=[instance], Tags=[
        {"Key": JOIN_ERROR_TAG, "Value": "vpn: tun0 did not come up within 120s"}])

    check = assert_only_failure(world.check(), doctor.JOIN_ERRORS, "get-console-output")

    assert check.lines == (f"{GROUP} {instance}: vpn: tun0 did not come up within 120s",)


def test_a_missing_rbac_rule_is_named_verb_by_verb(
    world: World, half_bound: ClusterCredentials,
) -> None:
    world.build(half_bound)
    check = assert_only_failure(world.check(), doctor.RBAC, "manifests/rbac.yaml")
    assert set(check.lines) == {
        "create configmaps in kube-system",
        "get configmaps fpga-burst-status in kube-system",
        "update configmaps fpga-burst-status in kube-system",
        "list poddisruptionbudgets.policy in kube-system",
    }  # the scaler's own needs: no Secrets (those are the tokens function's)


def test_no_tagged_group_is_named(world: World, good_credentials: ClusterCredentials) -> None:
    world.build(good_credentials, group=False)
    checks = world.check()
    assert_only_failure(checks, doctor.NODE_GROUPS, "no Auto Scaling group is tagged",
                        "k8s.io/cluster-autoscaler/onprem")
    assert checks[doctor.HOOKS].status is Status.NOT_RUN
    assert checks[doctor.JOIN_ERRORS].status is Status.NOT_RUN  # no instance asked: no pass


def test_a_missing_hook_is_named(world: World, good_credentials: ClusterCredentials) -> None:
    world.build(good_credentials, hooks=(Hook.LAUNCH,))
    check = assert_only_failure(world.check(), doctor.HOOKS, "deploy the stack")
    assert check.lines == (f"{GROUP}: no {Hook.TERMINATE}",)


def test_an_absent_join_parameter_is_named(
    world: World, good_credentials: ClusterCredentials,
) -> None:
    world.build(good_credentials, join=False)
    assert_only_failure(world.check(), doctor.JOIN, f"{JOIN} does not exist", "tokens")


def test_a_stale_join_parameter_is_named(
    world: World, good_credentials: ClusterCredentials,
) -> None:
    world.build(good_credentials)
    cfg = config_mod.load(scaler_env.environment(world.endpoint))
    later = datetime.now(UTC) + doctor.join_max_age(cfg) + timedelta(minutes=2)
    assert_only_failure(world.check(now=later), doctor.JOIN, "not rotating it", "tokens")


def test_a_node_advertising_an_unknown_board_is_named(
    world: World, good_credentials: ClusterCredentials, add_node: AddNode,
) -> None:
    world.build(good_credentials)
    node = add_node({f"{F2}-typo": "1", "example.com/gpu": "1"})
    check = assert_only_failure(world.check(), doctor.BOARDS, "catalog.accelerators")
    assert check.lines == (f"node {node} advertises {F2}-typo",)


# -- the CLI against a deployment config, and the deployed scaler's diagnose request ------


def _deploy_config(tmp_path: Path, secret_arn: str, controller_endpoint: str) -> Path:
    example = yaml_load(Path(__file__).parents[2] / "config" / "fpga-burst.yaml")
    example["cluster"].update(name=CLUSTER, controller_endpoint=controller_endpoint,
                              credentials_secret_arns={
                                  f: secret_arn for f in identity.FUNCTIONS})
    example["join"] = {"parameter_name": JOIN}
    path = tmp_path / "my-cluster.yaml"
    path.write_text(json.dumps(example))  # JSON is YAML
    return path


def yaml_load(path: Path) -> dict[str, Any]:
    import yaml

    data: dict[str, Any] = yaml.safe_load(path.read_text())
    return data


def _deploy_functions(world: World, path: Path, change: dict[str, str]) -> None:
    environment, _ = doctor_cmd.deployed_environment(path)
    iam = session().client("iam", endpoint_url=world.endpoint)
    role = iam.create_role(RoleName="fpga-burst", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    lam = session().client("lambda", endpoint_url=world.endpoint)
    for name in ("scaler", "lifecycle", "tokens"):
        env = {**environment, "FPGA_BURST_JOIN_KEY_ID": "arn:aws:kms:us-east-1:1:key/k",
               **(change if name == "scaler" else {})}
        lam.create_function(FunctionName=f"fpga-burst-onprem-{name}", Runtime="python3.12",
                            Role=role, Handler="h.h", Code={"ZipFile": b"PK\x05\x06" + bytes(18)},
                            Environment={"Variables": env})


@pytest.mark.parametrize("drift", [False, True], ids=["as-configured", "drifted"])
def test_the_cli_compares_the_config_with_the_deployed_functions(
    world: World, good_credentials: ClusterCredentials, tmp_path: Path,
    capsys: pytest.CaptureFixture[str], drift: bool,
) -> None:
    world.build(good_credentials)
    secret = world.aws.secrets.describe_secret(SecretId=SECRET)["ARN"]
    # The functions reach the test control plane: its address is the controller endpoint.
    path = _deploy_config(tmp_path, secret, urlsplit(good_credentials.endpoint).netloc)
    change = {"FPGA_BURST_API_ENDPOINT": "10.9.9.9:6443"} if drift else {}
    _deploy_functions(world, path, change)
    with own_keys():  # the CLI runs as the operator
        # as configured: the deployed functions are found; drifted: --deployed asks for them
        code = cli.main(["doctor", "--config", str(path), *(["--deployed"] if drift else []),
                         "--endpoint-url", world.endpoint, "--output", "json"])
    report = json.loads(capsys.readouterr().out)
    found = {c["name"]: c for c in report["checks"]}
    # The example config's placeholders (its VPC, AMI, VPN secret) fail the preflight half
    assert list(found) == list(doctor.DEPLOYED) and code == 1
    assert found[doctor.NODE_IMAGE]["status"] == "fail"
    config = found[doctor.CONFIG]
    if not drift:
        assert config == {"name": doctor.CONFIG, "status": "ok", "detail": "3 deployed "
                          "functions run this config", "lines": [
                              f"fpga-burst-onprem-{f}" for f in sorted(identity.FUNCTIONS)]}
        return
    assert config["status"] == "fail" and config["fix"].startswith("deploy it")
    assert "fpga-burst-onprem-scaler: FPGA_BURST_API_ENDPOINT is '10.9.9.9:6443', the " \
        "config says '10.8.0.1:6443'" in config["lines"]


def test_the_cli_refuses_a_bad_config_with_one_line_and_status_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("cluster: {name: x}\n")
    assert cli.main(["doctor", "--config", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.strip().splitlines() == [f"burst: error: {path}: aws: is required"]


def test_the_scaler_answers_a_diagnose_request_from_inside_the_vpc(
    world: World, half_bound: ClusterCredentials,
) -> None:
    world.build(half_bound)
    rbac = credentials.load_manifests(credentials.DEFAULT_RBAC)
    answer = scaler.handler({"action": "diagnose", "rbac": rbac},
                            LambdaContext(seconds=30))
    json.dumps(answer)  # what Lambda returns must be JSON
    assert answer["outcome"] == "diagnosed" and answer["ok"] is False
    status = {c["name"]: c["status"] for c in answer["checks"]}
    assert status == {
        doctor.CONFIG: "not run", doctor.API_SERVER: "ok", doctor.TOKEN: "ok",
        doctor.RBAC: "fail", doctor.NODE_GROUPS: "ok", doctor.HOOKS: "not run",
        doctor.JOIN: "not run", doctor.BOARDS: "ok", doctor.JOIN_ERRORS: "not run",
    }


@pytest.mark.parametrize(
    ("aws_reachable", "words"),
    [
        pytest.param(True, ("credentials secret is unusable", "burst credentials"),
                     id="no-secret"),
        pytest.param(False, ("AWS cannot be reached", "VPC endpoints"), id="no-route-to-aws"),
    ],
)
def test_the_scaler_names_why_it_cannot_read_its_credentials(
    world: World, monkeypatch: pytest.MonkeyPatch, aws_reachable: bool, words: tuple[str, ...],
) -> None:
    if not aws_reachable:  # the functions' subnets without a NAT or endpoints
        monkeypatch.setenv("FPGA_BURST_AWS_ENDPOINT_URL",
                           f"http://127.0.0.1:{free_port()}")
    answer = scaler.handler({"action": "diagnose"}, LambdaContext(seconds=30))
    api = next(c for c in answer["checks"] if c["name"] == doctor.API_SERVER)
    assert api["status"] == "fail", api
    for word in words:
        assert word in api["detail"] + api["fix"], api


def test_every_tick_publishes_the_days_the_controllers_token_has_left(
    world: World, good_credentials: ClusterCredentials, capfd: pytest.CaptureFixture[str],
) -> None:
    # GIVEN the 30-day token in the secret; WHEN the scaler ticks
    world.build(good_credentials)
    capfd.readouterr()
    result = scaler.handler(scheduled_event(), LambdaContext(seconds=30))
    # THEN it publishes the days left, from the token's own claim, for the alarm
    assert result["outcome"] == "ok", result
    left = scaler_env.emitted_metrics(capfd.readouterr().out)["CredentialsDaysLeft"]
    assert 29.9 < left <= 30


def test_an_alarm_in_alarm_is_named_with_its_cause_and_what_to_read(
    world: World, good_credentials: ClusterCredentials,
) -> None:
    world.build(good_credentials)
    spec = HANDLER_ALARMS[Metric.JOIN_FAILURES]
    world.aws.client("cloudwatch").set_alarm_state(
        AlarmName=alarm_name(CLUSTER, spec.id), StateValue="ALARM", StateReason="1 >= 1")
    check = assert_only_failure(world.check(), doctor.ALARMS, "1 of 13 alarms in ALARM")
    assert check.lines == (f"JoinFailures: {spec.what}; likely: {spec.cause}; "
                           f"read: {spec.read}",)
    assert "get-console-output" in check.lines[0]
