"""What kind of launch failure a scaling activity reports, and how long it keeps a group out.

Auto Scaling's StatusMessage carries EC2's error, sometimes with its code, sometimes only
its text. The codes and texts below are EC2's ("Error codes for the Amazon EC2 API",
https://docs.aws.amazon.com/AWSEC2/latest/APIReference/errors-overview.html) and Auto
Scaling's ("Troubleshoot Amazon EC2 Auto Scaling: EC2 instance launch failures" and "...:
AMI issues", docs.aws.amazon.com/autoscaling/ec2/userguide/), as seen in activity messages:

- "We currently do not have sufficient <type> capacity in the Availability Zone you
  requested" (InsufficientInstanceCapacity): capacity, comes back by itself;
- "There is no Spot capacity available that matches your request" (also sent as
  InsufficientInstanceCapacity), UnfulfillableCapacity: Spot capacity, same;
- "Max spot instance count exceeded" (MaxSpotInstanceCountExceeded): the Spot quota;
- "You have requested more vCPU capacity than your current vCPU limit of N allows"
  (VcpuLimitExceeded), InstanceLimitExceeded: the On-Demand quota;
- InvalidAMIID.*, "The AMI ID ... does not exist", InvalidLaunchTemplateId.*, "The
  specified launch template, with template ID ..., does not exist": configuration.

Capacity kinds back off as Cluster Autoscaler does (5 min, doubling). Quota and
configuration kinds do not clear by retrying in five minutes, so they back the group off
for longer (BackoffPolicy.long) and say what would clear them.
"""

from __future__ import annotations

from enum import StrEnum


class LaunchFailure(StrEnum):
    CAPACITY = "insufficient capacity"
    SPOT_CAPACITY = "no Spot capacity"
    SPOT_LIMIT = "Spot request limit reached"
    VCPU_QUOTA = "vCPU quota exceeded"
    LAUNCH_TEMPLATE = "launch template or AMI error"
    OTHER = "launch error"


# Kinds a retry within minutes does not clear: a person raises a quota or fixes a template.
LONG = frozenset(
    {LaunchFailure.SPOT_LIMIT, LaunchFailure.VCPU_QUOTA, LaunchFailure.LAUNCH_TEMPLATE}
)
REMEDY = {
    LaunchFailure.SPOT_LIMIT: "raise the quota All F Spot Instance Requests (L-88CF9481)",
    LaunchFailure.VCPU_QUOTA: "raise the quota Running On-Demand F instances (L-74FC7D96)",
    LaunchFailure.LAUNCH_TEMPLATE: "fix the group's launch template or AMI",
}

# (code prefix, kind), first match wins; the Spot-capacity text is checked before the code
# because EC2 sends it as InsufficientInstanceCapacity too.
_CODES = (
    ("MaxSpotInstanceCountExceeded", LaunchFailure.SPOT_LIMIT),
    ("UnfulfillableCapacity", LaunchFailure.SPOT_CAPACITY),
    ("SpotMaxPriceTooLow", LaunchFailure.SPOT_CAPACITY),
    ("InsufficientInstanceCapacity", LaunchFailure.CAPACITY),
    ("InsufficientCapacity", LaunchFailure.CAPACITY),
    ("VcpuLimitExceeded", LaunchFailure.VCPU_QUOTA),
    ("InstanceLimitExceeded", LaunchFailure.VCPU_QUOTA),
    ("InvalidAMIID", LaunchFailure.LAUNCH_TEMPLATE),
    ("InvalidLaunchTemplate", LaunchFailure.LAUNCH_TEMPLATE),
)
_PHRASES = (
    ("no spot capacity available", LaunchFailure.SPOT_CAPACITY),
    ("max spot instance count exceeded", LaunchFailure.SPOT_LIMIT),
    ("do not have sufficient", LaunchFailure.CAPACITY),
    ("vcpu capacity than your current vcpu limit", LaunchFailure.VCPU_QUOTA),
    ("instance limit", LaunchFailure.VCPU_QUOTA),
    ("the ami id", LaunchFailure.LAUNCH_TEMPLATE),
    ("image id", LaunchFailure.LAUNCH_TEMPLATE),
    ("launch template", LaunchFailure.LAUNCH_TEMPLATE),
)


def classify(code: str, message: str) -> LaunchFailure:
    """The kind of a failed launch from its EC2 error code (may be "") and message."""
    lowered = message.lower()
    if "no spot capacity available" in lowered:
        return LaunchFailure.SPOT_CAPACITY
    for prefix, kind in _CODES:
        if code.startswith(prefix):
            return kind
    return next((kind for phrase, kind in _PHRASES if phrase in lowered), LaunchFailure.OTHER)
