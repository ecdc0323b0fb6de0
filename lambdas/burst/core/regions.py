"""AWS regions: which exist, where the FPGA instance types are offered, and what a node
group's region costs the planner on top of its price.

Pure data and small functions: the deployment config validates regions and offerings with
them at synth, and the planner adds a region's penalty to a group's price per hour.
"""

from __future__ import annotations

from collections.abc import Mapping

# Region codes by partition, from botocore's endpoints.json ("partitions[].regions") of
# botocore 1.43.11, the version boto3 1.43.11 (pinned in pyproject.toml) depends on. Only
# the partitions an account can sign up for; the isolated ones are left out.
PARTITION_REGIONS: Mapping[str, frozenset[str]] = {
    "aws": frozenset({
        "af-south-1", "ap-east-1", "ap-east-2", "ap-northeast-1", "ap-northeast-2",
        "ap-northeast-3", "ap-south-1", "ap-south-2", "ap-southeast-1", "ap-southeast-2",
        "ap-southeast-3", "ap-southeast-4", "ap-southeast-5", "ap-southeast-6",
        "ap-southeast-7", "ca-central-1", "ca-west-1", "eu-central-1", "eu-central-2",
        "eu-north-1", "eu-south-1", "eu-south-2", "eu-west-1", "eu-west-2", "eu-west-3",
        "il-central-1", "me-central-1", "me-south-1", "mx-central-1", "sa-east-1",
        "us-east-1", "us-east-2", "us-west-1", "us-west-2",
    }),
    "aws-cn": frozenset({"cn-north-1", "cn-northwest-1"}),
    "aws-us-gov": frozenset({"us-gov-east-1", "us-gov-west-1"}),
}
AWS_REGIONS: frozenset[str] = frozenset().union(*PARTITION_REGIONS.values())

_F2_REGIONS = frozenset({"us-east-1", "us-west-2", "eu-west-2", "ap-southeast-2"})
_F1_REGIONS = frozenset({"us-east-1", "us-west-2", "ap-southeast-2"})
# Where each FPGA instance type is offered, as far as a public source says; a pair not
# listed is refused at synth. F2: "available in multiple AWS Regions, including US East
# (N. Virginia), US West (Oregon), Europe (London), and Asia Pacific (Sydney)" in sizes
# f2.6xlarge, f2.12xlarge and f2.48xlarge (AWS HPC Blog, "Enabling Rapid Genomic and
# Multiomic Data Analysis with Illumina DRAGEN v4.4 on Amazon EC2 F2 Instances",
# 2025-07-15; read 2026-12-02). F1: US East (N. Virginia), US West (Oregon) and Asia
# Pacific (Sydney), the regions an AWS Quick Start on F1 supports; F1 is retired for new
# accounts anyway (README, "F2 nodes"). The authority is your account:
# `aws ec2 describe-instance-type-offerings --region R --filters Name=instance-type,Values=T`.
OFFERED_IN: Mapping[str, frozenset[str]] = {
    **{name: _F2_REGIONS for name in ("f2.6xlarge", "f2.12xlarge", "f2.48xlarge")},
    **{name: _F1_REGIONS for name in ("f1.2xlarge", "f1.4xlarge", "f1.16xlarge")},
}

# $/h per board added to a group's price when the planner weighs groups, for a region the
# policy gives no penalty (the home region included).
DEFAULT_REGION_PENALTY = 0.0


def partition(region: str) -> str:
    """The ARN partition of `region` ("aws" for one this module does not know)."""
    return next((p for p, regions in PARTITION_REGIONS.items() if region in regions), "aws")


def penalty(penalties: Mapping[str, float], region: str) -> float:
    """The $/h per board a group in `region` costs on top of its price."""
    return penalties.get(region, DEFAULT_REGION_PENALTY)
