"""The functions' identities (manifests/rbac.yaml): enough to do their job, refused the rest.

Access is shown two ways on the real API server: SelfSubjectAccessReviews (what RBAC would
allow each identity), and real requests (what RBAC and the admission policies together do).
"""

from __future__ import annotations

import argparse
import contextlib
import json
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from burst.adapters.kube import client, identity, nodes, tokens
from burst.adapters.kube.client import Json, Kube
from burst.adapters.kube.doctor import KubeProbe
from burst.core.errors import KubeForbiddenError, KubeNotFoundError
from burst.ports.aws import ClusterCredentials
from burst.ports.doctor import Access
from burst.tools import cli, credentials
from burst.tools.harness import objects


def _whoami(kube: Kube) -> str:
    review = {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}
    answer = kube.call("whoami", kube.authn.create_self_subject_review, review)
    return str(answer["status"]["userInfo"]["username"])


def test_the_adapter_under_test_runs_as_the_scaler_service_account(kube: Kube) -> None:
    assert _whoami(kube) == "system:serviceaccount:kube-system:fpga-burst-scaler"


@pytest.fixture(scope="module")
def as_function(identities: dict[str, ClusterCredentials]) -> Iterator[dict[str, Kube]]:
    """Each function's own connection, by function name."""
    with contextlib.ExitStack() as stack:
        yield {f: stack.enter_context(client.from_credentials(c))
               for f, c in identities.items()}


def _may(kube: Kube, verb: str, resource: str, namespace: str = "", name: str = "") -> bool:
    """What RBAC answers `kube`'s identity for one request (SelfSubjectAccessReview)."""
    return KubeProbe(kube).allowed(Access(verb=verb, resource=resource, namespace=namespace,
                                          name=name))


def test_each_function_runs_as_its_own_service_account(as_function: dict[str, Kube]) -> None:
    assert {f: _whoami(k) for f, k in as_function.items()} == {
        f: identity.username(f) for f in identity.FUNCTIONS}


SLOTS = [tokens.secret_name(t) for t in tokens.SLOTS]
# Secrets no function created: an operator's, kubeadm's bootstrap token, a service-account
# token of a kube-system controller, and (by name) nothing at all.
NOT_OURS = ["app-credentials", "bootstrap-token-abcdef", "clusterrole-aggregation-token", ""]


@pytest.mark.parametrize("function", identity.FUNCTIONS)
@pytest.mark.parametrize("namespace", ["kube-system", "default"])
def test_no_function_may_read_list_watch_or_delete_a_secret_it_did_not_create(
    as_function: dict[str, Kube], function: str, namespace: str
) -> None:
    kube = as_function[function]
    for verb in ("list", "watch"):
        assert not _may(kube, verb, "secrets", namespace), verb
        assert not _may(kube, verb, "secrets"), f"{verb} in all namespaces"
    for name in NOT_OURS:
        for verb in ("get", "update", "patch", "delete"):
            assert not _may(kube, verb, "secrets", namespace, name), f"{verb} {name}"
    assert not _may(kube, "deletecollection", "secrets", namespace)


@pytest.mark.parametrize("function", ["scaler", "lifecycle"])
def test_the_scaler_and_lifecycle_functions_have_no_secrets_access_at_all(
    as_function: dict[str, Kube], function: str
) -> None:
    kube = as_function[function]
    for verb in ("create", "get", "update", "delete"):
        for name in [*SLOTS, ""]:
            assert not _may(kube, verb, "secrets", "kube-system", name), f"{verb} {name}"


def test_the_tokens_function_may_touch_only_its_own_slots(
    as_function: dict[str, Kube]
) -> None:
    kube = as_function["tokens"]
    for name in SLOTS:
        for verb in ("get", "update", "delete"):
            assert _may(kube, verb, "secrets", "kube-system", name), f"{verb} {name}"
        assert not _may(kube, "get", "secrets", "default", name)
    assert _may(kube, "create", "secrets", "kube-system")
    for resource in ("nodes", "pods", "configmaps"):
        assert not _may(kube, "list", resource), resource


def test_the_rbac_manifest_names_the_slots_the_adapter_writes() -> None:
    docs = credentials.load_manifests(credentials.DEFAULT_RBAC)
    role = next(d for d in docs if d["kind"] == "Role"
                and d["metadata"]["name"] == "fpga-burst-tokens")
    named = {n for rule in role["rules"] for n in rule.get("resourceNames", [])}
    assert named == set(SLOTS)


def _service_account_token_secret(name: str) -> Json:
    return {"metadata": {"name": name, "annotations": {
                "kubernetes.io/service-account.name": "clusterrole-aggregation-controller"}},
            "type": "kubernetes.io/service-account-token"}


@pytest.mark.parametrize("body", [
    _service_account_token_secret(SLOTS[0]),
    {"metadata": {"name": SLOTS[1]}, "stringData": {"token-id": "x"}},
    {"metadata": {"name": "bootstrap-token-zzzzzz"}, "type": tokens.SECRET_TYPE,
     "stringData": {"token-id": "zzzzzz", "token-secret": "0123456789abcdef"}},
], ids=["a service-account token in a slot", "an opaque Secret in a slot",
        "a bootstrap token outside the slots"])
def test_the_tokens_function_may_create_nothing_but_bootstrap_tokens_in_its_slots(
    admin: Kube, as_function: dict[str, Kube], body: Json
) -> None:
    """Create cannot be limited by name in RBAC: the admission policy refuses the rest, so
    no service-account token can be minted under a name the slot's `get` would read."""
    kube = as_function["tokens"]
    try:
        with pytest.raises(KubeForbiddenError) as refused:
            kube.call("create secret", kube.core.create_namespaced_secret, "kube-system", body)
        assert "bootstrap tokens in its own slots" in str(refused.value)
    finally:
        with contextlib.suppress(KubeNotFoundError):
            admin.call("delete", admin.core.delete_namespaced_secret,
                       body["metadata"]["name"], "kube-system")


ONPREM = {
    "an on-prem FPGA node": {"labels": {"kubernetes.io/hostname": "u250"}},
    "a control-plane node": {"labels": {"node-role.kubernetes.io/control-plane": ""}},
    "an on-prem node with another cloud's providerID": {"provider_id": "gce://p/z/vm"},
}


@pytest.mark.parametrize("function", ["scaler", "lifecycle"])
@pytest.mark.parametrize("kind", ONPREM.keys())
def test_no_function_may_cordon_or_delete_a_node_that_is_not_a_burst_node(
    admin: Kube, as_function: dict[str, Kube], node_name: str, function: str, kind: str
) -> None:
    objects.node(admin, node_name, **ONPREM[kind])  # type: ignore[arg-type]
    kube = as_function[function]

    with pytest.raises(KubeForbiddenError) as refused_cordon:
        nodes.cordon(kube, node_name)
    with pytest.raises(KubeForbiddenError) as refused_delete:
        kube.call("delete node", kube.core.delete_node, node_name)

    assert "only burst nodes" in str(refused_delete.value)
    assert "only burst nodes" in str(refused_cordon.value)
    node = admin.call("read node", admin.core.read_node, node_name)
    assert not node["spec"].get("unschedulable")


@pytest.mark.parametrize("function", ["scaler", "lifecycle"])
def test_a_burst_node_may_be_cordoned_and_deleted(
    admin: Kube, as_function: dict[str, Kube], node_name: str, function: str
) -> None:
    objects.node(admin, node_name, provider_id=objects.BURST_PROVIDER_ID)
    kube = as_function[function]

    nodes.cordon(kube, node_name)
    assert admin.call("read node", admin.core.read_node, node_name)["spec"]["unschedulable"]
    kube.call("delete node", kube.core.delete_node, node_name)

    with pytest.raises(KubeNotFoundError):
        admin.call("read node", admin.core.read_node, node_name)


REFUSED: dict[str, Callable[[Kube, str], Any]] = {
    "list Secrets outside kube-system": lambda k, ns: k.call(
        "list secrets", k.core.list_namespaced_secret, ns),
    "read a Secret outside kube-system": lambda k, ns: k.call(
        "read secret", k.core.read_namespaced_secret, "app-credentials", ns),
    "list Secrets in all namespaces": lambda k, ns: k.call(
        "list secrets", k.core.list_secret_for_all_namespaces),
    "delete a pod directly (bypassing PDBs)": lambda k, ns: k.call(
        "delete pod", k.core.delete_namespaced_pod, "victim", ns),
    "bind itself to cluster-admin": lambda k, ns: k.call(
        "escalate", k.rbac.create_cluster_role_binding, {
            "metadata": {"name": "fpga-burst-escalate"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                        "name": "cluster-admin"},
            "subjects": [{"kind": "ServiceAccount", "name": "fpga-burst-scaler",
                          "namespace": "kube-system"}]}),
    "widen its own ClusterRole": lambda k, ns: k.call(
        "widen", k.rbac.patch_cluster_role, "fpga-burst-nodes",
        {"rules": [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}]},
        _content_type="application/merge-patch+json"),
    "read other ConfigMaps in kube-system": lambda k, ns: k.call(
        "read cm", k.core.read_namespaced_config_map, "extension-apiserver-authentication",
        "kube-system"),
    "create pods": lambda k, ns: k.call(
        "create pod", k.core.create_namespaced_pod, ns,
        {"metadata": {"name": "sneaky"}, "spec": {"containers": [{"name": "c", "image": "x"}]}}),
}


@pytest.mark.parametrize("function", identity.FUNCTIONS)
@pytest.mark.parametrize("attempt", REFUSED.values(), ids=REFUSED.keys())
def test_each_function_identity_is_refused_what_it_must_not_do(
    admin: Kube, as_function: dict[str, Kube], namespace: str,
    attempt: Callable[[Kube, str], Any], function: str,
) -> None:
    kube = as_function[function]
    admin.call("create secret", admin.core.create_namespaced_secret, namespace,
               {"metadata": {"name": "app-credentials"}, "stringData": {"password": "hunter2"}})
    objects.pod(admin, namespace, "victim")

    with pytest.raises(KubeForbiddenError) as refused:
        attempt(kube, namespace)

    assert refused.value.status == 403
    assert "victim" in objects.pods_in(admin, namespace)


def test_applying_the_rbac_again_updates_in_place_and_issues_a_working_token(
    admin: Kube, control_plane: Any
) -> None:
    again = credentials.provision(admin, credentials.DEFAULT_RBAC, timedelta(hours=1),
                                  str(control_plane.admin_kubeconfig))

    for function, issued in again.items():
        with client.from_credentials(issued) as k:
            assert _whoami(k) == identity.username(function)


def test_burst_credentials_prints_endpoint_ca_and_a_token_per_function(
    control_plane: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    code = cli.main(["credentials", "--kubeconfig", str(control_plane.admin_kubeconfig),
                     "--days", "1"])

    out, err = capsys.readouterr()
    assert code == 0, err
    by_function = json.loads(out)
    assert set(by_function) == set(identity.FUNCTIONS)
    assert "updated ClusterRole fpga-burst-nodes" in err
    for function, value in by_function.items():
        printed = ClusterCredentials.from_json(json.dumps(value))
        assert printed.endpoint == control_plane.endpoint
        assert printed.ca == control_plane.ca_pem.decode()
        with client.from_credentials(printed) as k:
            assert _whoami(k) == identity.username(function)
        assert printed.token not in err


def test_burst_credentials_with_a_bad_kubeconfig_names_the_file_and_exits_non_zero(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "admin.conf"
    bad.write_text(json.dumps({"apiVersion": "v1", "kind": "Config", "clusters": []}))

    code = cli.main(["credentials", "--kubeconfig", str(bad)])

    _, err = capsys.readouterr()
    assert code != 0
    assert str(bad) in err and "Traceback" not in err


class MemoryStore:
    """Stands in for the AWS adapter's Secrets Manager writer (our own port)."""

    def __init__(self) -> None:
        self.secrets: dict[str, ClusterCredentials] = {}

    def write_cluster_credentials(self, secret_id: str, creds: ClusterCredentials) -> None:
        self.secrets[secret_id] = creds


def test_burst_credentials_with_a_secret_id_stores_them_and_prints_no_token(
    control_plane: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    store = MemoryStore()
    parser = argparse.ArgumentParser()
    credentials.register(parser.add_subparsers(), store=lambda: store)
    args = parser.parse_args(["credentials", "--kubeconfig", str(control_plane.admin_kubeconfig),
                              "--secret-id", "fpga-burst/cluster"])

    assert args.run(args) == 0

    assert set(store.secrets) == {f"fpga-burst/cluster/{f}" for f in identity.FUNCTIONS}
    out, err = capsys.readouterr()
    for function in identity.FUNCTIONS:
        stored = store.secrets[f"fpga-burst/cluster/{function}"]
        assert stored.token not in out + err
        with client.from_credentials(stored) as k:
            assert _whoami(k) == identity.username(function)
