"""`burst teardown --config FILE --dry-run`: what tearing a deployment down deletes.

Region by region (the home one and each of `regions:`): the stack, the node groups with
the instances they still run, the join parameter, the VPN secret; then the functions'
credentials secrets and, with --kubeconfig, what is in the cluster (burst Nodes, the status
ConfigMap, our bootstrap tokens, the RBAC manifest's objects). Read-only: it lists what the
README's "Tear down" commands remove, so that nothing is missed in a region, and deletes
nothing itself (the commands drain the groups first, through their terminate hooks).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from burst.core.errors import ConfigError, KubeNotFoundError
from burst.core.model import NodeGroup
from burst.tools import credentials
from burst.tools.deploy.config import DeployConfig, load
from burst.tools.deploy.names import region_stack


@dataclass(frozen=True)
class InCluster:
    """What fpga-burst left in the cluster."""

    nodes: tuple[str, ...]  # Nodes with an EC2 providerID: burst nodes, stale or not
    status: str | None  # the status ConfigMap, if it exists
    tokens: tuple[str, ...]  # our bootstrap-token Secrets


def listing(config: DeployConfig, groups: Sequence[NodeGroup],
            cluster: InCluster | None) -> list[str]:
    """What the tear-down deletes, one line each, by region and then in the cluster."""
    lines = []
    for region in (config.region, *config.regions):
        home = region == config.region
        lines.append(f"region {region}:")
        stack = config.stack_name if home else region_stack(config.stack_name, region)
        lines.append(f"  stack {stack}")
        for group in (g for g in groups if (g.region or config.region) == region):
            running = ", ".join(i.instance_id for i in group.instances) or "none"
            lines.append(f"  node group {group.name}: desired {group.desired} -> 0, "
                         f"instances to drain: {running}")
        lines.append(f"  SSM parameter {config.join_parameter_name}")
        vpn = config.vpn_secret_arn if home else config.regions[region].vpn_secret_arn
        lines.append(f"  secret {vpn} (the nodes' VPN login: revoke its certificate on the "
                     "VPN server too)")
        if home:
            lines += [f"  secret {arn} (the {function} function's credentials)"
                      for function, arn in sorted(config.credentials_secret_arns.items())]
    if cluster is None:
        lines.append("cluster: not read (give --kubeconfig to list what is there)")
        return lines
    lines.append("cluster:")
    lines += [f"  node {name}" for name in cluster.nodes]
    if cluster.status:
        lines.append(f"  configmap {cluster.status}")
    lines += [f"  secret {name}" for name in cluster.tokens]
    for doc in credentials.load_manifests(credentials.DEFAULT_RBAC):
        where = doc["metadata"].get("namespace")
        lines.append(f"  {doc['kind']} {where + '/' if where else ''}{doc['metadata']['name']}")
    return lines


def read_cluster(kubeconfig: Path) -> InCluster:
    # Imported when the command runs: `burst plan` should not pay for the kubernetes client.
    from burst.adapters.kube import client, convert, tokens
    from burst.adapters.kube.tell import STATUS_NAME, STATUS_NAMESPACE

    with client.from_kubeconfig(kubeconfig) as kube:
        nodes = kube.call("list nodes", kube.core.list_node)["items"]
        key, value = tokens.OURS
        secrets = kube.call("list bootstrap tokens", kube.core.list_namespaced_secret,
                            tokens.NAMESPACE, label_selector=f"{key}={value}",
                            field_selector=f"type={tokens.SECRET_TYPE}")["items"]
        try:
            kube.call("read status", kube.core.read_namespaced_config_map, STATUS_NAME,
                      STATUS_NAMESPACE)
            status: str | None = f"{STATUS_NAMESPACE}/{STATUS_NAME}"
        except KubeNotFoundError:
            status = None
    return InCluster(
        nodes=tuple(sorted(n["metadata"]["name"] for n in nodes
                           if convert.instance_id((n.get("spec") or {}).get("providerID")))),
        status=status,
        tokens=tuple(sorted(f"{tokens.NAMESPACE}/{s['metadata']['name']}" for s in secrets)),
    )


def register(commands: Any) -> None:
    p = commands.add_parser("teardown", help="list what tearing the deployment down deletes")
    p.add_argument("--config", required=True, type=Path, help="the deployment config")
    p.add_argument("--kubeconfig", type=Path, help="an admin kubeconfig: list the cluster's too")
    p.add_argument("--dry-run", action="store_true", help="list, delete nothing (required)")
    p.add_argument("--endpoint-url", help="AWS endpoint, e.g. http://127.0.0.1:5000 (moto)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if not args.dry_run:
        raise ConfigError("--dry-run", "", "burst teardown only lists (give --dry-run); the "
                          "README's \"Tear down\" commands delete, in order")
    config = load(args.config)
    from burst.adapters.aws.adapter import Aws, AwsSettings  # boto3 only when it runs

    aws = Aws(settings=AwsSettings(region=config.region, endpoint_url=args.endpoint_url),
              regions=tuple(config.regions))
    groups = aws.groups.discover_node_groups(config.cluster_name)
    cluster = read_cluster(args.kubeconfig) if args.kubeconfig else None
    print("\n".join(listing(config, groups, cluster)))
    return 0
