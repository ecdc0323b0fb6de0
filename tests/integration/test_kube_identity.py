"""The controller's identity (manifests/rbac.yaml): enough to do its job, refused the rest."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import objects
import pytest

from burst.adapters.kube import client, credentials
from burst.adapters.kube.client import Kube
from burst.core.errors import KubeForbiddenError
from burst.ports.aws import ClusterCredentials
from burst.tools import cli


def _whoami(kube: Kube) -> str:
    review = {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}
    answer = kube.call("whoami", kube.authn.create_self_subject_review, review)
    return str(answer["status"]["userInfo"]["username"])


def test_the_adapter_under_test_runs_as_the_fpga_burst_service_account(kube: Kube) -> None:
    assert _whoami(kube) == "system:serviceaccount:kube-system:fpga-burst"


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
            "subjects": [{"kind": "ServiceAccount", "name": "fpga-burst",
                          "namespace": "kube-system"}]}),
    "widen its own ClusterRole": lambda k, ns: k.call(
        "widen", k.rbac.patch_cluster_role, "fpga-burst",
        {"rules": [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}]},
        _content_type="application/merge-patch+json"),
    "read other ConfigMaps in kube-system": lambda k, ns: k.call(
        "read cm", k.core.read_namespaced_config_map, "extension-apiserver-authentication",
        "kube-system"),
    "create pods": lambda k, ns: k.call(
        "create pod", k.core.create_namespaced_pod, ns,
        {"metadata": {"name": "sneaky"}, "spec": {"containers": [{"name": "c", "image": "x"}]}}),
}


@pytest.mark.parametrize("attempt", REFUSED.values(), ids=REFUSED.keys())
def test_the_controller_identity_is_refused_what_it_must_not_do(
    admin: Kube, kube: Kube, namespace: str, attempt: Callable[[Kube, str], Any]
) -> None:
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

    with client.from_credentials(again) as k:
        assert _whoami(k) == "system:serviceaccount:kube-system:fpga-burst"


def test_burst_credentials_prints_endpoint_ca_and_a_token_the_adapter_can_use(
    control_plane: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    code = cli.main(["credentials", "--kubeconfig", str(control_plane.admin_kubeconfig),
                     "--days", "1"])

    out, err = capsys.readouterr()
    assert code == 0, err
    printed = ClusterCredentials.from_json(out)
    assert printed.endpoint == control_plane.endpoint
    assert printed.ca == control_plane.ca_pem.decode()
    assert "updated ClusterRole fpga-burst" in err
    with client.from_credentials(printed) as k:
        assert _whoami(k) == "system:serviceaccount:kube-system:fpga-burst"
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

    stored = store.secrets["fpga-burst/cluster"]
    out, err = capsys.readouterr()
    assert stored.token not in out + err
    with client.from_credentials(stored) as k:
        assert _whoami(k) == "system:serviceaccount:kube-system:fpga-burst"
