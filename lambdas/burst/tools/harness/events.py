"""EventBridge events as AWS delivers them, for invoking the handlers here: the schedule's
tick and the Auto Scaling lifecycle actions. Their shape is that of the samples in the
repository's events/ (AWS's documented examples), which tests/unit/test_harness.py holds
them to; an installed `burst demo` has no checkout to read those from.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from burst.core.notices.events import LAUNCH_ACTION, SCHEDULED, TERMINATE_ACTION
from burst.tools.harness.moto import REGION

ACCOUNT = "123456789012"
SCALER_RULE = "fpga-burst-scaler-tick"


def _envelope(detail_type: str, source: str, at: datetime | None, resource: str,
              detail: dict[str, Any]) -> dict[str, Any]:
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": detail_type,
        "source": source,
        "account": ACCOUNT,
        # EventBridge stamps whole seconds.
        "time": (at or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": REGION,
        "resources": [resource],
        "detail": detail,
    }


def scheduled_event(at: datetime | None = None) -> dict[str, Any]:
    """The scaler's tick, stamped with its scheduled time (default: now), which the scaler
    measures its minute from."""
    return _envelope(SCHEDULED, "aws.events", at,
                     f"arn:aws:events:{REGION}:{ACCOUNT}:rule/{SCALER_RULE}", {})


def lifecycle_action(group: str, hook: str, instance_id: str, token: str, *,
                     launching: bool, at: datetime | None = None) -> dict[str, Any]:
    """A launch (`launching`) or terminate lifecycle action of `hook` on `instance_id`."""
    transition = "LAUNCHING" if launching else "TERMINATING"
    # A launched instance comes from EC2 into the group; a terminated one goes back.
    origin, destination = ("EC2", "AutoScalingGroup") if launching else (
        "AutoScalingGroup", "EC2")
    return _envelope(
        LAUNCH_ACTION if launching else TERMINATE_ACTION, "aws.autoscaling", at,
        f"arn:aws:autoscaling:{REGION}:{ACCOUNT}:autoScalingGroup:{uuid.uuid4()}:"
        f"autoScalingGroupName/{group}",
        {"LifecycleActionToken": token, "AutoScalingGroupName": group,
         "LifecycleHookName": hook, "EC2InstanceId": instance_id,
         "LifecycleTransition": f"autoscaling:EC2_INSTANCE_{transition}",
         "NotificationMetadata": "fpga-burst", "Origin": origin, "Destination": destination},
    )
