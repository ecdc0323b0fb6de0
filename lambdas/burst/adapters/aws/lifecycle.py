"""Auto Scaling lifecycle actions: complete one (CONTINUE/ABANDON) or extend it (heartbeat)."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from burst.adapters.aws.regions import GroupRegions
from burst.adapters.aws.session import Clients, calling
from burst.core.asgtags import JOIN_ERROR_TAG
from burst.core.errors import AwsError, LifecycleActionNotFoundError
from burst.ports.aws import LifecycleResult

log = logging.getLogger(__name__)


class AutoScalingLifecycle:
    """The LifecycleActions port over Auto Scaling."""

    def __init__(self, clients: Clients, regions: GroupRegions | None = None) -> None:
        self.clients = clients
        self.regions = regions or GroupRegions(clients)

    def complete_lifecycle_action(
        self,
        node_group: str,
        hook: str,
        instance_id: str,
        result: LifecycleResult,
        token: str | None = None,
    ) -> None:
        """Complete the instance's pending lifecycle action with CONTINUE or ABANDON.

        By instance id, plus the token when an event carried one. Raises
        LifecycleActionNotFoundError when no action is pending (already completed, timed
        out, or a duplicate event): the caller may ignore it. Raises the transient errors
        or AwsError.
        """
        params = {
            "AutoScalingGroupName": node_group,
            "LifecycleHookName": hook,
            "InstanceId": instance_id,
            "LifecycleActionResult": result.value,
        }
        if token:
            params["LifecycleActionToken"] = token
        self._call("CompleteLifecycleAction", node_group, params)
        log.info(
            "completed lifecycle action of %s with %s", instance_id, result.value,
            extra={"node_group": node_group, "instance": instance_id, "result": result.value},
        )

    def record_heartbeat(
        self, node_group: str, hook: str, instance_id: str, token: str | None = None
    ) -> None:
        """Extend the instance's pending lifecycle action by the hook's heartbeat timeout.

        Raises LifecycleActionNotFoundError when no action is pending (the caller may
        ignore it), the transient errors, or AwsError.
        """
        params = {
            "AutoScalingGroupName": node_group,
            "LifecycleHookName": hook,
            "InstanceId": instance_id,
        }
        if token:
            params["LifecycleActionToken"] = token
        self._call("RecordLifecycleActionHeartbeat", node_group, params)

    def join_error(self, node_group: str, instance_id: str) -> str | None:
        """The instance's `fpga-burst.io/join-error` tag ("<step>: <message>", written by
        bootstrap.sh when its join fails); None if it has none. Raises the transient errors
        or AwsError."""
        client = self.regions.client("ec2", self.regions.of_group(node_group))
        with calling("DescribeTags"):
            found = client.describe_tags(Filters=[
                {"Name": "resource-id", "Values": [instance_id]},
                {"Name": "key", "Values": [JOIN_ERROR_TAG]},
            ])
        values = [str(t.get("Value", "")) for t in found.get("Tags", [])]
        return values[0] if values else None

    def _call(self, operation: str, node_group: str, params: Mapping[str, str]) -> None:
        client = self.regions.client("autoscaling", self.regions.of_group(node_group))
        method = getattr(client, _snake(operation))
        try:
            with calling(operation):
                method(**params)
        except AwsError as exc:
            if _not_found(exc):
                raise LifecycleActionNotFoundError(operation, exc.code, str(exc)) from exc
            raise


def _not_found(error: AwsError) -> bool:
    text = str(error).lower()
    return error.code == "ValidationError" and "lifecycle action" in text and (
        "no active" in text or "not found" in text
    )


def _snake(operation: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in operation).lstrip("_")
