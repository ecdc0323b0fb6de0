"""`burst doctor --config` before deploy, against moto and the real control plane.

A correct site (the account's VPC with a NAT route, the secrets, an AMI, kubeadm's
cluster-info and bootstrap RBAC on the API server) passes every PREFLIGHT check; each test
then breaks one thing and asserts that that check, and only it, fails with its fix. Service
Quotas is stubbed (moto answers GetServiceQuota for no ec2 quota and lacks the default).
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml
from botocore.stub import Stubber

from burst.adapters.aws.doctor import AwsDoctor
from burst.adapters.kube.client import Kube
from burst.adapters.kube.identity import FUNCTIONS
from burst.core.errors import KubeNotFoundError
from burst.core.names import BOOTSTRAP_GROUP
from burst.core.quota import QUOTA_CODES
from burst.core.spot import ON_DEMAND
from burst.loop import doctor
from burst.loop.doctor import Check, Status
from burst.ports.aws import ClusterCredentials
from burst.tools import cli, credentials, preflight
from burst.tools import doctor as doctor_cmd
from burst.tools.harness import controlplane
from burst.tools.harness.moto import MotoView, environ, own_keys

AMI = "ami-03cf127a"  # one of moto's own images: /dev/sda1, available
TOKEN_ID = "dctr00"
ACCESS = doctor.required_access(
    credentials.load_manifests(credentials.DEFAULT_RBAC), str(credentials.DEFAULT_RBAC),
    ("kube-system", "fpga-burst-scaler"))


def kubeadm_objects() -> list[dict[str, Any]]:
    """What `kubeadm init phase bootstrap-token` makes for joining nodes (kubeadm's
    phases/bootstraptoken/node and clusterinfo), bar the token."""
    def binding(kind: str, name: str, role: tuple[str, str], subject: tuple[str, str],
                namespace: str = "") -> dict[str, Any]:
        meta = {"name": name, **({"namespace": namespace} if namespace else {})}
        return {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": kind, "metadata": meta,
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": role[0],
                            "name": role[1]},
                "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": subject[0],
                              "name": subject[1]}]}

    def role(kind: str, name: str, rule: dict[str, Any], namespace: str = "") -> dict[str, Any]:
        meta = {"name": name, **({"namespace": namespace} if namespace else {})}
        return {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": kind, "metadata": meta,
                "rules": [rule]}

    token = ("Group", BOOTSTRAP_GROUP)
    return [
        role("Role", "kubeadm:bootstrap-signer-clusterinfo",
             {"apiGroups": [""], "resources": ["configmaps"], "resourceNames": ["cluster-info"],
              "verbs": ["get"]}, "kube-public"),
        binding("RoleBinding", "kubeadm:bootstrap-signer-clusterinfo",
                ("Role", "kubeadm:bootstrap-signer-clusterinfo"), ("User", "system:anonymous"),
                "kube-public"),
        binding("ClusterRoleBinding", "kubeadm:kubelet-bootstrap",
                ("ClusterRole", "system:node-bootstrapper"), token),
        binding("ClusterRoleBinding", "kubeadm:node-autoapprove-bootstrap",
                ("ClusterRole", "system:certificates.k8s.io:certificatesigningrequests:nodeclient"),
                token),
        binding("ClusterRoleBinding", "kubeadm:node-autoapprove-certificate-rotation",
                ("ClusterRole",
                 "system:certificates.k8s.io:certificatesigningrequests:selfnodeclient"),
                ("Group", "system:nodes")),
        role("ClusterRole", "kubeadm:get-nodes",
             {"apiGroups": [""], "resources": ["nodes"], "verbs": ["get"]}),
        binding("ClusterRoleBinding", "kubeadm:get-nodes", ("ClusterRole", "kubeadm:get-nodes"),
                token),
        role("Role", "kubeadm:nodes-kubeadm-config",
             {"apiGroups": [""], "resources": ["configmaps"],
              "resourceNames": ["kubeadm-config"], "verbs": ["get"]}, "kube-system"),
        binding("RoleBinding", "kubeadm:nodes-kubeadm-config",
                ("Role", "kubeadm:nodes-kubeadm-config"), token, "kube-system"),
        role("Role", "kubeadm:kubelet-config",
             {"apiGroups": [""], "resources": ["configmaps"],
              "resourceNames": ["kubelet-config"], "verbs": ["get"]}, "kube-system"),
        binding("RoleBinding", "kubeadm:kubelet-config", ("Role", "kubeadm:kubelet-config"),
                token, "kube-system"),
    ]


class Cluster:
    """kubeadm's join objects on the session's API server, as an administrator; removed
    after the test."""

    def __init__(self, admin: Kube, cp: controlplane.ControlPlane) -> None:
        self.admin, self.cp = admin, cp
        self.rbac = kubeadm_objects()

    def build(self, *, signed: bool = True) -> None:
        list(credentials.apply(self.admin, self.rbac))
        kubeconfig = yaml.safe_dump({"apiVersion": "v1", "kind": "Config", "clusters": [
            {"name": "", "cluster": {"server": self.cp.endpoint,
                                     "certificate-authority-data":
                                         base64.b64encode(self.cp.ca_pem).decode()}}]})
        data = {"kubeconfig": kubeconfig}
        if signed:  # as the bootstrap signer would (a JWS we do not verify here)
            data[f"jws-kubeconfig-{TOKEN_ID}"] = "eyJhbGciOiJIUzI1NiIsImtpZCI6ImRjdHIwMCJ9..c2ln"
        self._put("kube-public", "cluster-info", {"apiVersion": "v1", "kind": "ConfigMap",
                                                  "metadata": {"name": "cluster-info"},
                                                  "data": data}, configmap=True)
        expires = (datetime.now(UTC) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
        self._put("kube-system", f"bootstrap-token-{TOKEN_ID}", {
            "apiVersion": "v1", "kind": "Secret", "type": "bootstrap.kubernetes.io/token",
            "metadata": {"name": f"bootstrap-token-{TOKEN_ID}"},
            "stringData": {"token-id": TOKEN_ID, "token-secret": "0123456789abcdef",
                           "expiration": expires, "usage-bootstrap-signing": "true",
                           "usage-bootstrap-authentication": "true",
                           "auth-extra-groups": BOOTSTRAP_GROUP}})

    def _put(self, namespace: str, name: str, body: dict[str, Any],
             configmap: bool = False) -> None:
        core = self.admin.core
        delete = core.delete_namespaced_config_map if configmap else core.delete_namespaced_secret
        create = core.create_namespaced_config_map if configmap else core.create_namespaced_secret
        with contextlib.suppress(KubeNotFoundError):
            self.admin.call(f"delete {name}", delete, name, namespace)
        self.admin.call(f"create {name}", create, namespace, body)

    def delete(self, kind: str, name: str, namespace: str = "") -> None:
        r, c = self.admin.rbac, self.admin.core
        method, where = {
            "ClusterRoleBinding": (r.delete_cluster_role_binding, ()),
            "RoleBinding": (r.delete_namespaced_role_binding, (namespace,)),
            "ConfigMap": (c.delete_namespaced_config_map, (namespace,)),
        }[kind]
        with contextlib.suppress(KubeNotFoundError):
            self.admin.call(f"delete {kind} {name}", method, name, *where)


class Site:
    """The AWS side of a site in moto, built correct, and the config that describes it."""

    def __init__(self, endpoint: str, tmp_path: Path, cp: controlplane.ControlPlane) -> None:
        self.endpoint, self.tmp_path, self.cp = endpoint, tmp_path, cp
        self.aws = MotoView(endpoint)
        self.quota = 1000
        self.vpn: dict[str, Any] = {"config": "client\nproto udp\nremote 203.0.113.10 1194\n"}

    def build(self, creds: dict[str, ClusterCredentials], *, nat: bool = True) -> None:
        ec2 = self.aws.ec2
        self.vpc = ec2.create_vpc(CidrBlock="10.1.0.0/16")["Vpc"]["VpcId"]
        self.subnet = self._subnet("10.1.1.0/24", "us-east-1a")
        if nat:
            gateway = ec2.create_nat_gateway(SubnetId=self.subnet)["NatGateway"]["NatGatewayId"]
            ec2.create_route(RouteTableId=self.main_table(), DestinationCidrBlock="0.0.0.0/0",
                             NatGatewayId=gateway)
        self.secrets = {
            f: self.aws.secrets.create_secret(
                Name=f"fpga-burst/preflight/{f}", SecretString=json.dumps(
                    {"endpoint": c.endpoint, "ca": c.ca, "token": c.token}))["ARN"]
            for f, c in creds.items()}
        self.vpn_arn = self.aws.secrets.create_secret(
            Name="fpga-burst/preflight/openvpn", SecretString=json.dumps(self.vpn))["ARN"]

    def _subnet(self, cidr: str, zone: str) -> str:
        return str(self.aws.ec2.create_subnet(VpcId=self.vpc, CidrBlock=cidr,
                                              AvailabilityZone=zone)["Subnet"]["SubnetId"])

    def main_table(self) -> str:
        tables = self.aws.ec2.describe_route_tables(Filters=[
            {"Name": "vpc-id", "Values": [self.vpc]},
            {"Name": "association.main", "Values": ["true"]}])["RouteTables"]
        return str(tables[0]["RouteTableId"])

    def config(self, **group: Any) -> dict[str, Any]:
        host = self.cp.endpoint.removeprefix("https://")
        return {
            "cluster": {"name": "preflight", "api_endpoint": host,
                        "credentials_secret_arns": self.secrets},
            "aws": {"account": "123456789012", "region": "us-east-1"},
            "network": {"vpc_id": self.vpc,
                        "subnets": [{"id": self.subnet, "availability_zone": "us-east-1a"}],
                        "lambda_security_group_id": "sg-0123456789abcdef0",
                        "onprem_cidr": "10.0.0.0/16"},
            "vpn": {"secret_arn": self.vpn_arn},
            "node_groups": [{"name": "f2-6xlarge", "instance_type": "f2.6xlarge",
                             "ami_id": AMI, "root_device_name": "/dev/sda1", "max_size": 4,
                             **group}],
            "catalog": {"accelerators": {"com.example.acc": {"xilinx/aws-vu47p-f2": 1}}},
        }

    def write(self, doc: dict[str, Any]) -> Path:
        path = self.tmp_path / "site.yaml"
        path.write_text(yaml.safe_dump(doc))
        return path

    def check(self, doc: dict[str, Any] | None = None, *,
              admin: Path | None = None) -> dict[str, Check]:
        path = self.write(doc or self.config())
        args = argparse.Namespace(config=path, kubeconfig=None, endpoint_url=self.endpoint)
        with own_keys():
            cfg, _ = doctor_cmd.settings(args)
            d = preflight.deployment(doctor_cmd.load_deploy(path))
            with preflight.probes(cfg, admin) as (before, token), self._quotas(before):
                expected = doctor.Expected(cfg=cfg, now=datetime.now(UTC), token=token,
                                           access=ACCESS)
                report = doctor.before_deploy(d, expected, before)
        assert [c.name for c in report.checks] == list(doctor.PREFLIGHT)
        return {c.name: c for c in report.checks}

    def _quotas(self, before: doctor.Before) -> Stubber:
        assert isinstance(before.aws, AwsDoctor)
        stub = Stubber(before.aws.clients.client("service-quotas", "us-east-1"))
        stub.add_response(
            "get_service_quota",
            {"Quota": {"ServiceCode": "ec2", "QuotaCode": QUOTA_CODES[ON_DEMAND],
                       "Value": float(self.quota), "QuotaName": "quota", "Adjustable": True}},
            {"ServiceCode": "ec2", "QuotaCode": QUOTA_CODES[ON_DEMAND]})
        return stub


@pytest.fixture
def site(moto_endpoint: str, tmp_path: Path,
         control_plane: controlplane.ControlPlane) -> Site:
    requests.post(f"{moto_endpoint}/moto-api/reset", timeout=10)
    return Site(moto_endpoint, tmp_path, control_plane)


@pytest.fixture
def cluster(admin: Kube, control_plane: controlplane.ControlPlane) -> Iterator[Cluster]:
    built = Cluster(admin, control_plane)
    built.build()
    yield built
    for doc in built.rbac:
        if doc["kind"].endswith("Binding"):
            built.delete(doc["kind"], doc["metadata"]["name"],
                         doc["metadata"].get("namespace", ""))
    built.delete("ConfigMap", "cluster-info", "kube-public")


@pytest.fixture
def creds(identities: dict[str, ClusterCredentials], admin: Kube) -> dict[str, ClusterCredentials]:
    """Each function's credentials with a 30-day token: far from the 7-day warning."""
    return {f: replace(identities[f], token=credentials.issue_token(admin, f, timedelta(days=30)))
            for f in FUNCTIONS}


def only_failure(checks: dict[str, Check], name: str, *words: str,
                 not_run: tuple[str, ...] = ()) -> Check:
    """`name` fails naming each of `words`, with its fix; the `not_run` checks depend on it;
    every other check passes."""
    failed = sorted(n for n, c in checks.items() if c.status is Status.FAIL)
    assert failed == [name], {n: checks[n].render() for n in failed}
    assert sorted(n for n, c in checks.items() if c.status is Status.NOT_RUN) == sorted(not_run)
    check = checks[name]
    assert check.status is Status.FAIL and check.fix, check.render()
    for word in words:
        assert word in check.render(), check.render()
    return check


Break = Callable[[Site], None]


def test_a_correct_site_passes_every_preflight_check(
    site: Site, creds: dict[str, ClusterCredentials], cluster: Cluster,
) -> None:
    site.build(creds)
    checks = site.check(admin=cluster.cp.admin_kubeconfig)
    assert {n: c.status for n, c in checks.items()} == {n: Status.OK for n in doctor.PREFLIGHT}
    assert "signed for 1 token" in checks[doctor.CLUSTER_INFO].detail
    assert "max sizes need 96 vCPUs" in checks[doctor.QUOTA].lines[0]


def test_no_aws_credentials_at_all_fails_the_command_without_a_traceback(
    site: Site, creds: dict[str, ClusterCredentials], capsys: pytest.CaptureFixture[str],
) -> None:
    site.build(creds)
    path = site.write(site.config())
    nowhere = str(site.tmp_path / "none")
    with environ({"AWS_ACCESS_KEY_ID": None, "AWS_SECRET_ACCESS_KEY": None,
                  "AWS_SESSION_TOKEN": None, "AWS_PROFILE": None,
                  "AWS_SHARED_CREDENTIALS_FILE": nowhere, "AWS_CONFIG_FILE": nowhere,
                  "AWS_EC2_METADATA_DISABLED": "true", "AWS_CONTAINER_CREDENTIALS_FULL_URI": None,
                  "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": None}):
        code = cli.main(["doctor", "--config", str(path), "--endpoint-url", site.endpoint,
                         "--output", "json"])
    out = capsys.readouterr()
    assert code == 1 and "Traceback" not in out.err
    found = {c["name"]: c for c in json.loads(out.out)["checks"]}
    assert found[doctor.AWS_CREDENTIALS]["status"] == "fail"
    assert "aws configure" in found[doctor.AWS_CREDENTIALS]["fix"]
    assert found[doctor.API_SERVER]["status"] == "not run"
    assert {c["status"] for c in found.values()} <= {"fail", "not run", "ok"}
    assert [n for n, c in found.items() if c["status"] == "ok"] == [doctor.PLUGIN]


def test_credentials_of_another_account_are_named(
    site: Site, creds: dict[str, ClusterCredentials], cluster: Cluster,
) -> None:
    site.build(creds)
    doc = site.config()
    doc["aws"]["account"] = "111111111111"
    checks = site.check(doc, admin=cluster.cp.admin_kubeconfig)
    assert checks[doctor.AWS_CREDENTIALS].status is Status.FAIL
    assert "account 123456789012" in checks[doctor.AWS_CREDENTIALS].detail
    for name in (doctor.CREDENTIALS_SECRETS, doctor.VPN_SECRET, doctor.NODE_IMAGE,
                 doctor.OFFERINGS, doctor.QUOTA, doctor.QUOTAS_ROUTE, doctor.VPN_EGRESS):
        assert checks[name].status is Status.NOT_RUN, checks[name].render()


def test_a_credentials_secret_without_its_token_is_named(
    site: Site, creds: dict[str, ClusterCredentials], cluster: Cluster,
) -> None:
    site.build(creds)
    site.aws.secrets.put_secret_value(SecretId=site.secrets["tokens"], SecretString=json.dumps(
        {"endpoint": creds["tokens"].endpoint, "ca": creds["tokens"].ca}))
    only_failure(site.check(admin=cluster.cp.admin_kubeconfig), doctor.CREDENTIALS_SECRETS,
                 "tokens:", "token", "burst credentials")


def test_a_vpn_secret_missing_its_config_is_named(
    site: Site, creds: dict[str, ClusterCredentials], cluster: Cluster,
) -> None:
    site.vpn = {"username": "node", "password": "secret"}
    site.build(creds)
    only_failure(site.check(admin=cluster.cp.admin_kubeconfig), doctor.VPN_SECRET,
                 'has no "config"', "put-secret-value", not_run=(doctor.VPN_EGRESS,))


def test_a_certificate_without_the_nodes_address_is_named(
    site: Site, creds: dict[str, ClusterCredentials], cluster: Cluster,
) -> None:
    site.build(creds)
    doc = site.config()
    doc["cluster"]["controller_endpoint"] = doc["cluster"]["api_endpoint"]
    doc["cluster"]["api_endpoint"] = "10.8.0.1:6443"  # the VPN address: not in the test cert
    check = only_failure(site.check(doc, admin=cluster.cp.admin_kubeconfig), doctor.CERT_SANS,
                         "10.8.0.1", "--apiserver-cert-extra-sans=10.8.0.1")
    assert "IP:127.0.0.1" in check.lines[0]


def test_a_missing_cluster_info_is_named(
    site: Site, creds: dict[str, ClusterCredentials], cluster: Cluster,
) -> None:
    site.build(creds)
    cluster.delete("ConfigMap", "cluster-info", "kube-public")
    only_failure(site.check(admin=cluster.cp.admin_kubeconfig), doctor.CLUSTER_INFO,
                 "does not exist", "kubeadm init phase bootstrap-token")


def test_a_token_cluster_info_is_not_signed_for_names_the_bootstrap_signer(
    site: Site, creds: dict[str, ClusterCredentials], cluster: Cluster,
) -> None:
    site.build(creds)
    cluster.build(signed=False)
    only_failure(site.check(admin=cluster.cp.admin_kubeconfig), doctor.CLUSTER_INFO,
                 "bootstrap signer", f"jws-kubeconfig-{TOKEN_ID} missing")


@pytest.mark.parametrize(("kind", "name", "namespace", "denied"), [
    ("ClusterRoleBinding", "kubeadm:node-autoapprove-bootstrap", "",
     "create certificatesigningrequests/nodeclient"),
    ("ClusterRoleBinding", "kubeadm:kubelet-bootstrap", "",
     "create certificatesigningrequests.certificates.k8s.io"),
    ("RoleBinding", "kubeadm:bootstrap-signer-clusterinfo", "kube-public",
     "system:anonymous: get configmaps cluster-info in kube-public"),
], ids=["auto-approve", "post CSRs", "anonymous cluster-info"])
def test_a_stripped_bootstrap_binding_is_named(
    site: Site, creds: dict[str, ClusterCredentials], cluster: Cluster,
    kind: str, name: str, namespace: str, denied: str,
) -> None:
    site.build(creds)
    cluster.delete(kind, name, namespace)
    check = only_failure(site.check(admin=cluster.cp.admin_kubeconfig), doctor.BOOTSTRAP_RBAC,
                         name, denied)
    assert len(check.lines) == 1


def test_without_an_admin_kubeconfig_the_join_checks_do_not_run(
    site: Site, creds: dict[str, ClusterCredentials],
) -> None:
    site.build(creds)
    checks = site.check()
    assert not [n for n, c in checks.items() if c.status is Status.FAIL]
    assert {n for n, c in checks.items() if c.status is Status.NOT_RUN} == {
        doctor.CLUSTER_INFO, doctor.BOOTSTRAP_RBAC}
    assert doctor_cmd.exit_status(doctor.Report(tuple(checks.values()))) == 3
    assert "--admin-kubeconfig" in checks[doctor.CLUSTER_INFO].detail


def test_an_ami_that_does_not_exist_is_named(
    site: Site, creds: dict[str, ClusterCredentials], cluster: Cluster,
) -> None:
    site.build(creds)
    only_failure(site.check(site.config(ami_id="ami-0123456789abcdef0"),
                            admin=cluster.cp.admin_kubeconfig), doctor.NODE_IMAGE,
                 "ami-0123456789abcdef0 does not exist in us-east-1")


def test_an_ami_of_another_root_device_is_named(
    site: Site, creds: dict[str, ClusterCredentials], cluster: Cluster,
) -> None:
    site.build(creds)
    only_failure(site.check(site.config(root_device_name="/dev/xvda"),
                            admin=cluster.cp.admin_kubeconfig), doctor.NODE_IMAGE,
                 "root device is /dev/sda1", "/dev/xvda")


def test_a_subnet_in_a_zone_without_the_instance_type_is_named(
    site: Site, creds: dict[str, ClusterCredentials], cluster: Cluster,
) -> None:
    site.build(creds)
    # moto's offerings (EC2's at its release): f2.6xlarge in us-east-1a-d, not us-east-1e
    other = site._subnet("10.1.2.0/24", "us-east-1e")
    doc = site.config(subnet_ids=[site.subnet, other])
    doc["network"]["subnets"].append({"id": other, "availability_zone": "us-east-1e"})
    only_failure(site.check(doc, admin=cluster.cp.admin_kubeconfig), doctor.OFFERINGS,
                 f"f2.6xlarge is not offered in us-east-1e ({other})",
                 "--location-type availability-zone")


def test_a_quota_below_the_max_sizes_is_named(
    site: Site, creds: dict[str, ClusterCredentials], cluster: Cluster,
) -> None:
    site.build(creds)
    site.quota = 48  # two f2.6xlarge; max_size 4 needs 96
    only_failure(site.check(admin=cluster.cp.admin_kubeconfig), doctor.QUOTA,
                 "need 96 vCPUs", "L-74FC7D96) is 48", "request-service-quota-increase")


def test_subnets_without_nat_or_endpoints_cannot_reach_service_quotas_nor_the_vpn(
    site: Site, creds: dict[str, ClusterCredentials], cluster: Cluster,
) -> None:
    site.build(creds, nat=False)
    checks = site.check(admin=cluster.cp.admin_kubeconfig)
    failed = sorted(n for n, c in checks.items() if c.status is Status.FAIL)
    assert failed == sorted([doctor.QUOTAS_ROUTE, doctor.VPN_EGRESS])
    assert "servicequotas" in checks[doctor.QUOTAS_ROUTE].lines[0]
    assert "203.0.113.10:1194: no route out" in checks[doctor.VPN_EGRESS].lines[0]


def test_vpc_endpoints_serve_the_functions_but_not_the_nodes_vpn(
    site: Site, creds: dict[str, ClusterCredentials], cluster: Cluster,
) -> None:
    site.build(creds, nat=False)
    for service in doctor.FUNCTION_SERVICES:
        site.aws.ec2.create_vpc_endpoint(VpcId=site.vpc, VpcEndpointType="Interface",
                                         ServiceName=f"com.amazonaws.us-east-1.{service}")
    only_failure(site.check(admin=cluster.cp.admin_kubeconfig), doctor.VPN_EGRESS,
                 "no route out", "NAT gateway")


def test_a_network_acl_that_drops_the_vpn_is_named(
    site: Site, creds: dict[str, ClusterCredentials], cluster: Cluster,
) -> None:
    site.build(creds)
    ec2 = site.aws.ec2
    acl = ec2.create_network_acl(VpcId=site.vpc)["NetworkAcl"]["NetworkAclId"]
    ec2.create_network_acl_entry(NetworkAclId=acl, RuleNumber=100, Protocol="17",
                                 RuleAction="deny", Egress=True, CidrBlock="0.0.0.0/0",
                                 PortRange={"From": 1194, "To": 1194})
    ec2.create_network_acl_entry(NetworkAclId=acl, RuleNumber=200, Protocol="-1",
                                 RuleAction="allow", Egress=True, CidrBlock="0.0.0.0/0")
    current = ec2.describe_network_acls(Filters=[
        {"Name": "association.subnet-id", "Values": [site.subnet]}])["NetworkAcls"][0]
    association = next(a["NetworkAclAssociationId"] for a in current["Associations"]
                       if a["SubnetId"] == site.subnet)
    ec2.replace_network_acl_association(AssociationId=association, NetworkAclId=acl)
    only_failure(site.check(admin=cluster.cp.admin_kubeconfig), doctor.VPN_EGRESS,
                 "the network ACL denies it")


def test_a_board_the_node_images_plugin_does_not_advertise_is_named(
    site: Site, creds: dict[str, ClusterCredentials], cluster: Cluster,
) -> None:
    site.build(creds)
    doc = site.config(board_resource="example.com/other-board")
    del doc["node_groups"][0]["ami_id"], doc["node_groups"][0]["root_device_name"]
    doc["node_image"] = {"kubernetes_version": "1.37"}
    doc["catalog"]["accelerators"]["com.example.acc"] = {"example.com/other-board": 1}
    only_failure(site.check(doc, admin=cluster.cp.admin_kubeconfig), doctor.PLUGIN,
                 "expects example.com/other-board", "xilinx/aws-vu47p-f2")
