"""Auto Scaling capacity: raise a group's desired capacity, terminate one instance with
decrement. The only ways fpga-burst changes how many instances a group has."""

from __future__ import annotations

import logging

from burst.adapters.aws.groups import describe_group
from burst.adapters.aws.regions import GroupRegions
from burst.adapters.aws.session import Clients, calling
from burst.core.errors import AwsError
from burst.ports.aws import CapacityChange

log = logging.getLogger(__name__)

_GONE_STATES = ("Terminating", "Terminated")


class AutoScalingCapacity:
    """The CapacityWriter port over Auto Scaling."""

    def __init__(self, clients: Clients, regions: GroupRegions | None = None) -> None:
        self.clients = clients
        self.regions = regions or GroupRegions(clients)

    def raise_desired_capacity(self, node_group: str, target: int) -> CapacityChange:
        """Raise the group's desired capacity to `target`, never above its max size.

        Idempotent and one-way: a no-op if desired is already >= target (it never lowers);
        a target above max is clamped to max, logged and reported (`clamped`). Uses
        HonorCooldown=False: the planner, not a cooldown, decides. Raises
        NodeGroupNotFoundError, the transient errors, or AwsError.
        """
        group = describe_group(self.regions, node_group)
        desired, max_size = int(group["DesiredCapacity"]), int(group["MaxSize"])
        to_size = min(target, max_size)
        clamped = target > max_size
        if clamped:
            log.warning(
                "desired capacity of %s clamped to max size %d (asked for %d)",
                node_group, max_size, target,
                extra={"node_group": node_group, "requested": target, "max_size": max_size},
            )
        if to_size <= desired:
            return CapacityChange(node_group, desired, desired, target, clamped)
        with calling("SetDesiredCapacity"):
            autoscaling = self.regions.client("autoscaling", self.regions.of_group(node_group))
            autoscaling.set_desired_capacity(
                AutoScalingGroupName=node_group, DesiredCapacity=to_size, HonorCooldown=False
            )
        log.info(
            "raised desired capacity of %s from %d to %d", node_group, desired, to_size,
            extra={"node_group": node_group, "from_size": desired, "to_size": to_size},
        )
        return CapacityChange(node_group, desired, to_size, target, clamped)

    def terminate_instance(self, instance_id: str) -> bool:
        """Terminate `instance_id` and decrement its group's desired capacity.

        Idempotent: returns False, doing nothing, if the instance is in no group (gone) or
        already Terminating/Terminated; True if this call started the termination. Raises
        the transient errors or AwsError (e.g. ValidationError when the decrement would go
        below min size: the caller must check min size first).
        """
        autoscaling = self.regions.client("autoscaling", self.regions.of_instance(instance_id))
        with calling("DescribeAutoScalingInstances"):
            reply = autoscaling.describe_auto_scaling_instances(InstanceIds=[instance_id])
        known = reply.get("AutoScalingInstances", [])
        if not known or str(known[0].get("LifecycleState", "")).startswith(_GONE_STATES):
            return False
        try:
            with calling("TerminateInstanceInAutoScalingGroup"):
                autoscaling.terminate_instance_in_auto_scaling_group(
                    InstanceId=instance_id, ShouldDecrementDesiredCapacity=True
                )
        except AwsError as exc:
            # Lost a race with another termination between the two calls.
            if exc.code == "ValidationError" and any(
                word in str(exc).lower() for word in ("not found", "terminat")
            ):
                return False
            raise
        log.info("terminating %s with decrement", instance_id, extra={"instance": instance_id})
        return True
