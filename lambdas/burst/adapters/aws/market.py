"""Spot prices and the F-instance vCPU quotas: what capacity costs and how much may be had.

- DescribeSpotPriceHistory with StartTime now gives the price in effect now, per AZ
  ("Spot Instance pricing history", Amazon EC2 User Guide). A group's instances may land in
  any of its AZs, so a type's price is the highest of them.
- Service Quotas GetServiceQuota reads the applied value of the two F quotas
  (burst.core.quota), falling back to GetAwsDefaultServiceQuota where no value is applied
  (NoSuchResourceException, as for accounts that never changed it).
- DescribeInstances counts the F instances outside the managed groups: pending and running
  ones, by InstanceLifecycle ("spot" or absent: on-demand).

Read-only; errors are translated (burst.adapters.aws.session.calling).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from burst.adapters.aws.session import Clients, calling
from burst.core.model import VcpuQuota
from burst.core.quota import QUOTA_CODES, is_f
from burst.core.spot import ON_DEMAND, SPOT

PRODUCT = "Linux/UNIX"


class Ec2Market:
    """The SpotPrices and VcpuQuotas ports over EC2 and Service Quotas."""

    def __init__(self, clients: Clients) -> None:
        self.clients = clients

    def spot_prices(self, instance_types: Sequence[str]) -> Mapping[str, float]:
        if not instance_types:
            return {}
        paginator = self.clients.client("ec2").get_paginator("describe_spot_price_history")
        latest: dict[tuple[str, str], tuple[datetime, float]] = {}
        with calling("DescribeSpotPriceHistory"):
            for page in paginator.paginate(
                InstanceTypes=sorted(instance_types), ProductDescriptions=[PRODUCT],
                StartTime=datetime.now(UTC),
            ):
                for entry in page.get("SpotPriceHistory", []):
                    key = (entry["InstanceType"], entry.get("AvailabilityZone", ""))
                    seen = (entry["Timestamp"], float(entry["SpotPrice"]))
                    if key not in latest or seen[0] > latest[key][0]:
                        latest[key] = seen
        prices: dict[str, float] = {}
        for (instance_type, _), (_, price) in latest.items():
            prices[instance_type] = max(price, prices.get(instance_type, 0.0))
        return prices

    def vcpu_quota(self, managed: frozenset[str], vcpus: Mapping[str, int]) -> VcpuQuota:
        limits = {kind: self._quota(code) for kind, code in QUOTA_CODES.items()}
        used = {ON_DEMAND: 0, SPOT: 0}
        for instance in self._f_instances():
            if instance["InstanceId"] in managed:
                continue
            kind = SPOT if instance.get("InstanceLifecycle") == "spot" else ON_DEMAND
            used[kind] += vcpus.get(instance["InstanceType"]) or _cpu_options(instance)
        return VcpuQuota(limits=limits, used_elsewhere=used)

    def _quota(self, code: str) -> int:
        return ec2_quota(self.clients.client("service-quotas"), code)

    def _f_instances(self) -> list[dict[str, Any]]:
        paginator = self.clients.client("ec2").get_paginator("describe_instances")
        # The family is picked here, not by an `instance-type` filter: filter wildcards are
        # AWS's, not every endpoint's (moto 5.2.1 returned nothing for "f1.*"); a miscount here
        # would let the planner ask beyond the quota.
        filters = [{"Name": "instance-state-name", "Values": ["pending", "running"]}]
        found: list[dict[str, Any]] = []
        with calling("DescribeInstances"):
            for page in paginator.paginate(Filters=filters):
                for reservation in page.get("Reservations", []):
                    found.extend(i for i in reservation.get("Instances", [])
                                 if is_f(i.get("InstanceType", "")))
        return found


def ec2_quota(client: Any, code: str) -> int:
    """An EC2 quota's applied value, else its AWS default (an account that never changed
    it has no applied value: NoSuchResourceException)."""
    with calling("GetServiceQuota"):
        try:
            reply = client.get_service_quota(ServiceCode="ec2", QuotaCode=code)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "NoSuchResourceException":
                raise
            reply = client.get_aws_default_service_quota(ServiceCode="ec2", QuotaCode=code)
    return int(reply["Quota"]["Value"])


def _cpu_options(instance: Mapping[str, Any]) -> int:
    # A type the catalog does not know: its vCPUs are cores x threads per core.
    options = instance.get("CpuOptions", {})
    return int(options.get("CoreCount", 0)) * int(options.get("ThreadsPerCore", 1))
