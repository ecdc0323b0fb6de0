"""The list prices the idle-cost table uses: us-east-1, US dollars, each with its source.

`confirmed` says whether the figure was read on the service's own pricing page (or its
documentation) as stored by the search the prices were looked up with on PRICED; where it
was not (the stored copy of the page holds only its free tier, say), the figure is the one
a transcription or guide quotes and `note` names it. The README table prints both.
"""

from __future__ import annotations

from dataclasses import dataclass

PRICED = "2026-12-07"


@dataclass(frozen=True)
class Price:
    usd: float  # per `per` `unit`s
    unit: str
    source: str
    confirmed: bool = True
    note: str = ""
    per: int = 1

    @property
    def each(self) -> float:
        return self.usd / self.per

    def __str__(self) -> str:
        count = f"{self.per:,} " if self.per > 1 else ""
        return f"${self.usd:g} / {count}{self.unit}"


_KMS = "https://aws.amazon.com/kms/pricing/"
_CLOUDWATCH = "https://aws.amazon.com/cloudwatch/pricing/"
# A transcription of the CloudWatch page's paid tier, which the stored copy of the page
# itself does not hold (its free tier only).
_CLOUDWATCH_TRANSCRIBED = ("rate from a transcription of the page (github.com/"
                           "api-evangelist/cloudwatch, plans/cloudwatch-plans-pricing.yml)")
_SECRETS = "https://aws.amazon.com/secrets-manager/pricing/"
_LAMBDA = "https://aws.amazon.com/lambda/pricing/"

KMS_KEY = Price(1.00, "key-month", _KMS, note=(
    "each automatic (yearly) rotation adds $1/month: year 2 costs $2, year 3 $3 (AWS "
    "announced in 2024 that rotations after the second add nothing; not on the stored page)"))
KMS_REQUEST = Price(0.03, "requests", _KMS, per=10_000)
ALARM_STANDARD = Price(0.10, "alarm metric-month", _CLOUDWATCH, False, _CLOUDWATCH_TRANSCRIBED)
ALARM_HIGH_RESOLUTION = Price(0.30, "alarm metric-month", _CLOUDWATCH, False,
                              "rate from https://github.com/nishinoshake/aws-rough/issues/37")
DASHBOARD = Price(3.00, "dashboard-month", _CLOUDWATCH, False,
                  "rate from https://github.com/nishinoshake/aws-rough/issues/37")
CUSTOM_METRIC = Price(0.30, "metric-month (first 10,000)", _CLOUDWATCH, False,
                      _CLOUDWATCH_TRANSCRIBED)
LOGS_INGESTED = Price(0.50, "GB ingested", _CLOUDWATCH, False, _CLOUDWATCH_TRANSCRIBED)
LOGS_STORED = Price(0.03, "GB-month stored", _CLOUDWATCH, False, _CLOUDWATCH_TRANSCRIBED)
SECRET = Price(0.40, "secret-month", _SECRETS, False,
               "rate from a transcription of the page (github.com/api-evangelist/"
               "amazon-secrets-manager, plans/amazon-secrets-manager-plans-pricing.yml)")
SECRET_CALL = Price(0.05, "API calls", _SECRETS, False, SECRET.note, per=10_000)
# arm64; as README "Watch or poll" quotes them (read 2026-12-02).
LAMBDA_GB_SECOND = Price(13.3334, "GB-seconds (arm64)", _LAMBDA, per=1_000_000)
LAMBDA_REQUEST = Price(0.20, "requests", _LAMBDA, per=1_000_000)
SSM_STANDARD_PARAMETER = Price(
    0.0, "parameter-month (standard tier)",
    "https://docs.aws.amazon.com/systems-manager/latest/userguide/parameter-store-advanced-parameters.html")
EVENTBRIDGE_AWS_EVENTS = Price(
    0.0, "event (schedules, AWS service events)", "https://aws.amazon.com/eventbridge/pricing/",
    False, "AWS service events are free per https://www.wring.co/blog/aws-eventbridge-pricing-guide;"
    " schedule-rule events are AWS-generated (source aws.events)")
EBS_SNAPSHOT = Price(0.05, "GB-month (standard snapshot)", "https://aws.amazon.com/ebs/pricing/",
                     False, "not confirmed on the stored page")
NAT_GATEWAY_HOUR = Price(0.045, "NAT gateway-hour", "https://aws.amazon.com/vpc/pricing/", False,
                         "rate from https://rajesh.medampudi.com/blog/aws-nat-gateway-hidden-tax")
NAT_GATEWAY_GB = Price(0.045, "GB processed", NAT_GATEWAY_HOUR.source, False,
                       NAT_GATEWAY_HOUR.note)
INTERFACE_ENDPOINT_HOUR = Price(
    0.01, "endpoint-hour per AZ", "https://aws.amazon.com/privatelink/pricing/", False,
    "rate from https://www.zacfukuda.com/blog/aws-nat-gateway-vs-vpc-endpoint")

HOURS_PER_MONTH = 730
