"""The checks of the AWS side: the deployed functions' config, the node groups, their
lifecycle hooks and join errors, and the join parameter."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

from burst.core.model import NodeGroup
from burst.core.names import Hook
from burst.core.policy import TOKEN_PERIOD
from burst.loop.config import RuntimeConfig
from burst.loop.doctor.results import (
    CONFIG,
    HOOKS,
    JOIN,
    JOIN_ERRORS,
    NODE_GROUPS,
    Check,
    fail,
    ok,
)
from burst.ports.aws import JoinErrors
from burst.ports.doctor import HookReader, ParameterReader

# Room for a late tokens run on top of when it must have rewritten the join parameter.
JOIN_SLACK = timedelta(minutes=5)


def config_matches(deployed: Mapping[str, Mapping[str, str]], want: Mapping[str, str],
                   cluster: str) -> Check:
    """Each deployed function's environment against what the config makes of it."""
    if not deployed:
        return fail(CONFIG, f"no function is deployed for cluster {cluster!r}",
                    "deploy the stack: npx cdk deploy -c fpga-burst:config=YOUR.yaml")
    differ = [
        f"{fn}: {key} is {env.get(key)!r}, the config says {value!r}"
        for fn, env in sorted(deployed.items()) for key, value in sorted(want.items())
        if env.get(key) != value
    ]
    if differ:
        return fail(CONFIG, "the deployed functions do not run this config",
                    "deploy it: npx cdk deploy -c fpga-burst:config=YOUR.yaml", differ)
    return ok(CONFIG, f"{len(deployed)} deployed functions run this config",
              sorted(deployed))


def node_groups(groups: Sequence[NodeGroup], cluster: str) -> Check:
    if not groups:
        return fail(NODE_GROUPS, f"no Auto Scaling group is tagged for cluster {cluster!r}",
                    "deploy the stack (it tags its groups), or tag yours "
                    f"k8s.io/cluster-autoscaler/enabled and k8s.io/cluster-autoscaler/{cluster}")
    lines = [_describe(g) for g in groups]
    boardless = [g.name for g in groups if not g.boards]
    if boardless:
        return fail(NODE_GROUPS, f"no boards known for {', '.join(boardless)}",
                    "tag the group k8s.io/cluster-autoscaler/node-template/resources/<board>, "
                    "or use an instance type of the catalog", lines)
    return ok(NODE_GROUPS, f"{len(groups)} discovered", lines)


def _describe(group: NodeGroup) -> str:
    boards = ", ".join(f"{n} x{c}" for n, c in sorted(group.boards.items())) or "none"
    labels = ", ".join(f"{k}={v}" for k, v in sorted(group.labels.items())) or "none"
    taints = ", ".join(f"{t.key}={t.value}:{t.effect}" for t in group.taints) or "none"
    return (f"{group.name}: {group.instance_type}, {group.min_size}-{group.max_size}; "
            f"boards {boards}; labels {labels}; taints {taints}")


def hooks(reader: HookReader, groups: Sequence[NodeGroup]) -> Check:
    want = sorted(Hook)
    missing = [
        f"{g.name}: no {hook}" for g in groups
        for hook in sorted(set(want) - set(reader.lifecycle_hooks(g.name)))
    ]
    if missing:
        return fail(HOOKS, "lifecycle hooks missing",
                    "deploy the stack (it creates both hooks on each group), or create them "
                    f"as stacks/nodegroup does: {', '.join(want)}", missing)
    return ok(HOOKS, f"{', '.join(want)} on {len(groups)} groups")


def join_errors(reader: JoinErrors, groups: Sequence[NodeGroup]) -> Check:
    """The groups' instances that say their join failed (their join-error tag)."""
    said = [f"{g.name} {i.instance_id}: {error}" for g in groups for i in g.instances
            if (error := reader.join_error(g.name, i.instance_id))]
    if said:
        return fail(JOIN_ERRORS, f"{len(said)} instance(s) say their node failed to join",
                    "fix the step each names (its console output says more: aws ec2 "
                    "get-console-output --instance-id ...)", said)
    count = sum(len(g.instances) for g in groups)
    return ok(JOIN_ERRORS, f"none of {count} instances says its join failed")


def join_max_age(cfg: RuntimeConfig) -> timedelta:
    """How old the join parameter may be: the tokens function rewrites it once the token
    has less than the overlap left, on a run every TOKEN_PERIOD."""
    return max(cfg.token_ttl - cfg.token_overlap, timedelta(0)) + TOKEN_PERIOD + JOIN_SLACK


def join_parameter(reader: ParameterReader, cfg: RuntimeConfig, now: datetime) -> Check:
    if not cfg.join_parameter:
        return fail(JOIN, "no join parameter configured", "set join.parameter_name")
    modified = reader.last_modified(cfg.join_parameter)
    run = "run the tokens function (aws lambda invoke --function-name <stack's tokens "
    if modified is None:
        return fail(JOIN, f"{cfg.join_parameter} does not exist",
                    run + "function>) and read its summary")
    age, limit = now - modified, join_max_age(cfg)
    if age > limit:
        return fail(JOIN, f"{cfg.join_parameter} last written {_minutes(age)} ago, more "
                    f"than {_minutes(limit)}: the tokens function is not rotating it",
                    run + "function>) and read its summary and logs")
    return ok(JOIN, f"{cfg.join_parameter} written {_minutes(age)} ago")


def _minutes(span: timedelta) -> str:
    return f"{int(span.total_seconds() // 60)} min"

