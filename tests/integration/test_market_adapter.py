"""Spot prices and F vCPU quotas through the adapter (burst.adapters.aws.market), on moto.

moto 5.2.1 answers DescribeSpotPriceHistory (a canned price per type and AZ) and
DescribeInstances; it knows no EC2 quota values (GetServiceQuota has none for the F codes,
GetAWSDefaultServiceQuota is not implemented), so for Service Quotas only a Stubber stands in.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from burst.adapters.aws.adapter import Aws, AwsSettings
from burst.core.errors import AwsError
from burst.core.model import VcpuQuota

REGION = "us-east-1"


@pytest.fixture
def aws() -> Iterator[Aws]:
    with mock_aws():
        yield Aws(boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing",
                                region_name=REGION), AwsSettings(region=REGION))


def quota(code: str, value: float) -> dict[str, Any]:
    return {"Quota": {"ServiceCode": "ec2", "QuotaCode": code, "Value": value,
                      "QuotaName": "quota", "Adjustable": True}}


def launch(aws: Aws, instance_type: str, spot: bool = False) -> str:
    extra: dict[str, Any] = {"InstanceMarketOptions": {"MarketType": "spot"}} if spot else {}
    reply = aws.client("ec2").run_instances(ImageId="ami-03cf127a", InstanceType=instance_type,
                                            MinCount=1, MaxCount=1, **extra)
    return str(reply["Instances"][0]["InstanceId"])


def test_spot_prices_are_the_highest_current_price_per_type_and_unknown_types_left_out(
    aws: Aws,
) -> None:
    raw = aws.client("ec2").describe_spot_price_history(
        InstanceTypes=["f2.6xlarge"], ProductDescriptions=["Linux/UNIX"])["SpotPriceHistory"]
    assert raw, "moto has a price for f2.6xlarge"
    prices = aws.market.spot_prices(["f2.6xlarge", "no.such"])
    assert prices == {"f2.6xlarge": max(float(p["SpotPrice"]) for p in raw)}
    assert aws.market.spot_prices([]) == {}


def test_the_quota_counts_f_instances_outside_the_managed_groups_by_capacity_type(
    aws: Aws,
) -> None:
    # GIVEN one F instance of ours, one on-demand and one Spot F instance of someone else,
    # and an m5 that no F quota counts
    ours = launch(aws, "f1.4xlarge")
    launch(aws, "f1.2xlarge")
    launch(aws, "f1.16xlarge", spot=True)
    launch(aws, "m5.large")
    stub = Stubber(aws.client("service-quotas"))
    stub.add_client_error("get_service_quota", "NoSuchResourceException", "no applied value")
    stub.add_response("get_aws_default_service_quota", quota("L-74FC7D96", 128.0),
                      {"ServiceCode": "ec2", "QuotaCode": "L-74FC7D96"})
    stub.add_response("get_service_quota", quota("L-88CF9481", 64.0),
                      {"ServiceCode": "ec2", "QuotaCode": "L-88CF9481"})
    # WHEN read, with our instance's id known
    with stub:
        found = aws.market.vcpu_quota(frozenset({ours}), {"f1.2xlarge": 8, "f1.16xlarge": 64})
    # THEN the default stands in where no value was applied, and only the others count
    assert found == VcpuQuota(limits={"on-demand": 128, "spot": 64},
                              used_elsewhere={"on-demand": 8, "spot": 64})
    stub.assert_no_pending_responses()


def test_a_denied_quota_read_is_a_typed_error_the_loop_can_plan_around(aws: Aws) -> None:
    stub = Stubber(aws.client("service-quotas"))
    stub.add_client_error("get_service_quota", "AccessDeniedException", "not allowed", 400)
    with stub, pytest.raises(AwsError):
        aws.market.vcpu_quota(frozenset(), {})
