"""Karpenter on the stage: its kwok provider as a process, kwok to make its Nodes Ready, and
the stand-ins for the parts of a node that neither plays here.

Karpenter's kwok provider (sigs.k8s.io/karpenter/kwok) is Karpenter's core with a cloud
provider that creates a Node object for each NodeClaim instead of an instance, after the
KWOKNodeClass's `nodeRegistrationDelay` (the boot). Its instance types come from a JSON
file, extended resources included: here the three F2 sizes with their boards and the list
prices of burst/core/catalog.py. kwok (sigs.k8s.io/kwok) makes those Nodes Ready and keeps
their heartbeats; it runs only the module's node stages, so the pods are run by
world.Kubelets as for every other controller.

What `Nodes` adds, as the other controllers' Fleet does: the device plugin's delay (the
boards are taken out of a new Node's status and put back `device_plugin` s later) and the
node lifecycle controller's part (the not-ready taint lifted once the Node is Ready, which
Karpenter waits for before it calls a NodeClaim initialized). It records NodeClaims the way
Fleet records desired capacity: a NodeClaim is capacity asked for from when it is first
seen until its deletion begins.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import world
import yaml
from kubernetes import client as k8s

from burst.adapters.kube.client import Json, Kube
from burst.core.catalog import F2_BOARD, INSTANCE_TYPES
from burst.core.errors import KubeConflictError, KubeNotFoundError, KubeThrottledError
from burst.tools.demo import cluster
from burst.tools.harness.net import free_port

KARPENTER = ("karpenter.sh", "v1")
KWOK_CLASS = ("karpenter.kwok.sh", "v1alpha1")
KWOK_ANNOTATION = "kwok.x-k8s.io/node"  # set on every Node the kwok provider creates
INSTANCE_TYPE_LABEL = "node.kubernetes.io/instance-type"
NODEPOOL = "fpga"


def instance_types(groups: tuple[world.Group, ...]) -> list[Json]:
    """The instance-types file: the groups' F2 sizes, on-demand in the stage's zone, with the
    capitalised offering keys the provider's own file uses (kwok/cloudprovider)."""
    found = []
    for group in groups:
        spec = INSTANCE_TYPES[group.instance_type]
        found.append({
            "name": group.instance_type,
            "offerings": [{"Price": spec.price_per_hour, "Available": True, "Requirements": [
                {"key": "karpenter.sh/capacity-type", "operator": "In", "values": ["on-demand"]},
                {"key": "topology.kubernetes.io/zone", "operator": "In", "values": [world.ZONE]},
            ]}],
            "architecture": "amd64",
            "operatingSystems": ["linux"],
            "resources": {"cpu": str(spec.vcpus), "memory": f"{spec.memory_gib}Gi",
                          "pods": "110", F2_BOARD: str(group.boards)},
        })
    return found


def nodepool(groups: tuple[world.Group, ...], disruption: Json) -> Json:
    """One NodePool over the F2 sizes; its Nodes carry the FPGA label the pods select."""
    return {
        "apiVersion": "/".join(KARPENTER), "kind": "NodePool", "metadata": {"name": NODEPOOL},
        "spec": {
            "template": {
                "metadata": {"labels": dict(world.FPGA_LABELS)},
                "spec": {
                    "requirements": [
                        {"key": INSTANCE_TYPE_LABEL, "operator": "In",
                         "values": [g.instance_type for g in groups]},
                        {"key": "karpenter.sh/capacity-type", "operator": "In",
                         "values": ["on-demand"]},
                    ],
                    "nodeClassRef": {"group": KWOK_CLASS[0], "kind": "KWOKNodeClass",
                                     "name": "default"},
                },
            },
            **({"disruption": disruption} if disruption else {}),
        },
    }


def apply_crds(admin: Kube, folder: Path) -> None:
    """Karpenter's CRDs from its module (build.sh copies them beside the binary), created
    and waited for until the API server serves them."""
    api = k8s.ApiextensionsV1Api(admin.api_client)
    names = []
    for path in sorted(folder.glob("*.yaml")):
        for document in yaml.safe_load_all(path.read_text()):
            if document:
                admin.call(f"create crd {path.name}", api.create_custom_resource_definition,
                           document)
                names.append(document["metadata"]["name"])
    deadline = time.monotonic() + 60
    for name in names:
        while True:
            crd = admin.call(f"read crd {name}", api.read_custom_resource_definition, name)
            conditions = (crd.get("status") or {}).get("conditions") or ()
            if any(c["type"] == "Established" and c["status"] == "True" for c in conditions):
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"CRD {name} not established within 60 s")
            time.sleep(0.2)


@dataclass
class Nodes:
    """The stage's side for Karpenter's Nodes, and the record of its NodeClaims (see the
    module docstring). Polls every world.POLL s."""

    admin: Kube
    groups: tuple[world.Group, ...]
    record: world.Record
    device_plugin: float
    stop: threading.Event = field(default_factory=threading.Event)
    _first_seen: dict[str, float] = field(default_factory=dict)  # node -> when

    def run(self) -> None:
        custom = k8s.CustomObjectsApi(self.admin.api_client)
        by_type = {g.instance_type: g for g in self.groups}
        while not self.stop.is_set():
            try:
                claims = self.admin.call("list nodeclaims", custom.list_cluster_custom_object,
                                         *KARPENTER, "nodeclaims").get("items") or []
                self._claims(claims, by_type)
                nodes = self.admin.call("list nodes", self.admin.core.list_node).get("items")
                for node in nodes or ():
                    if (node["metadata"].get("annotations") or {}).get(KWOK_ANNOTATION):
                        self._node(node)
            except (KubeNotFoundError, KubeThrottledError):
                pass  # Karpenter's CRDs are not (fully) served yet: the runner applies them
            except Exception as exc:
                print(f"  karpenter stage poll failed: {exc}", file=sys.stderr)
            self.stop.wait(world.POLL)

    def _claims(self, claims: list[Json], by_type: dict[str, world.Group]) -> None:
        now = time.monotonic()
        desired = {g.name: 0 for g in self.groups}
        with self.record.lock:
            for claim in claims:
                meta = claim["metadata"]
                kind = (meta.get("labels") or {}).get(INSTANCE_TYPE_LABEL)
                group = by_type.get(kind or "")
                if group is None:  # not launched yet: its instance type is still open
                    continue
                name = meta["name"]
                if name not in self.record.launched:
                    self.record.launched[name] = (now, group.name)
                node = (claim.get("status") or {}).get("nodeName")
                if node:
                    self.record.nodes[name] = node
                if meta.get("deletionTimestamp"):
                    self.record.terminated.setdefault(name, now)
                else:
                    desired[group.name] += 1
            for name in self.record.launched.keys() - {c["metadata"]["name"] for c in claims}:
                self.record.terminated.setdefault(name, now)
            if not self.record.desired or self.record.desired[-1][1] != desired:
                self.record.desired.append((now, desired))

    def _node(self, node: Json) -> None:
        name = node["metadata"]["name"]
        now = time.monotonic()
        first = self._first_seen.setdefault(name, now)
        status = node.get("status") or {}
        due = now >= first + self.device_plugin
        has_boards = F2_BOARD in (status.get("allocatable") or {})
        boards = _boards(node)
        try:
            if not due and has_boards:
                self._set_boards(node, None)
                return  # the taint waits for a poll that sees the boards gone
            if due and not has_boards and boards:
                node = self._set_boards(node, boards)  # newer resourceVersion for the taint
            ready = any(c.get("type") == "Ready" and c.get("status") == "True"
                        for c in status.get("conditions") or ())
            taints = (node.get("spec") or {}).get("taints") or []
            if ready and any(t.get("key") == cluster.NOT_READY for t in taints):
                node["spec"]["taints"] = [t for t in taints if t.get("key") != cluster.NOT_READY]
                self.admin.call("lift not-ready taint", self.admin.core.replace_node, name, node)
        except (KubeConflictError, KubeNotFoundError):
            return  # seen again on the next poll

    def _set_boards(self, node: Json, boards: str | None) -> Json:
        status = node["status"]
        for key in ("capacity", "allocatable"):
            resources = dict(status.get(key) or {})
            resources.pop(F2_BOARD, None)
            if boards is not None:
                resources[F2_BOARD] = boards
            status[key] = resources
        return self.admin.call("report node status", self.admin.core.replace_node_status,
                               node["metadata"]["name"], node)


def _boards(node: Json) -> str | None:
    """How many boards the Node's instance type has (what the device plugin will report)."""
    kind = (node["metadata"].get("labels") or {}).get(INSTANCE_TYPE_LABEL)
    spec = INSTANCE_TYPES.get(kind or "")
    return str(spec.boards[F2_BOARD]) if spec else None


@dataclass
class KarpenterRunner:
    """Karpenter's kwok provider and the kwok controller as processes against the stage;
    `disruption`: the NodePool's, over Karpenter's defaults."""

    binary: Path  # Karpenter's kwok provider; its CRDs in binary.parent / "crds"
    kwok: Path  # kwok; its node stages in kwok.parent / "stages"
    admin: Kube
    kubeconfig: Path
    groups: tuple[world.Group, ...]
    boot: float
    workdir: Path
    disruption: Json
    _procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def start(self) -> None:
        apply_crds(self.admin, self.binary.parent / "crds")
        custom = k8s.CustomObjectsApi(self.admin.api_client)
        self.admin.call("create kwoknodeclass", custom.create_cluster_custom_object,
                        *KWOK_CLASS, "kwoknodeclasses", {
                            "apiVersion": "/".join(KWOK_CLASS), "kind": "KWOKNodeClass",
                            "metadata": {"name": "default"},
                            "spec": {"nodeRegistrationDelay": f"{self.boot:g}s"}})
        self.admin.call("create nodepool", custom.create_cluster_custom_object, *KARPENTER,
                        "nodepools", nodepool(self.groups, self.disruption))
        types = self.workdir / "instance-types.json"
        types.write_text(json.dumps(instance_types(self.groups), indent=1))
        stages = sorted((self.kwok.parent / "stages").glob("*.yaml"))
        config = self.workdir / "kwok-stages.yaml"
        config.write_text("\n---\n".join(p.read_text() for p in stages))
        self._spawn("kwok", [str(self.kwok), f"--kubeconfig={self.kubeconfig}",
                             f"--config={config}", "--manage-all-nodes=false",
                             f"--manage-nodes-with-annotation-selector={KWOK_ANNOTATION}=fake",
                             f"--server-address=127.0.0.1:{free_port()}"], {})
        self._spawn("karpenter", [str(self.binary)], {
            "KUBECONFIG": str(self.kubeconfig), "INSTANCE_TYPES_FILE_PATH": str(types),
            "DISABLE_LEADER_ELECTION": "true", "SYSTEM_NAMESPACE": "kube-system",
            "METRICS_PORT": str(free_port()),
            "HEALTH_PROBE_PORT": str(free_port())})

    def _spawn(self, name: str, argv: list[str], env: dict[str, str]) -> None:
        log = (self.workdir / f"{name}.log").open("wb")
        self._procs.append(subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT,
                                            env={**os.environ, **env}))

    def close(self) -> None:
        for proc in self._procs:
            proc.terminate()
        for proc in self._procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
