"""What fpga-burst costs at rest: the synthesized template, the measured per-invocation
figures and the dated prices (burst.tools.idlecost.prices), made into the README's table.

At rest means no pending pods and no FPGA node: the schedules still run, the keys, alarms,
secrets and the rest are billed by the month. Counts come from the template (every resource
type in it is either priced here or listed as free, with why), the per-invocation figures
from `benchmarks/cpu/idle_cost.py --measure` (MEASURED), the prices from prices.py.
`benchmarks/cpu/idle_cost.py` prints the README section from this.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from burst.core.names import Metric
from burst.handlers.runtime import CREDENTIALS_TTL_SECONDS
from burst.tools.idlecost import prices as p

# Resource types billed by the month or per use at rest, each with its row(s) below.
PRICED = {
    "AWS::KMS::Key": "KMS keys",
    "AWS::CloudWatch::Alarm": "CloudWatch alarms",
    "AWS::CloudWatch::Dashboard": "CloudWatch dashboards",
    "AWS::Lambda::Function": "Lambda requests, compute; custom metrics, logs, secret reads",
    "AWS::Logs::LogGroup": "CloudWatch Logs",
    "AWS::ImageBuilder::Image": "node image snapshot",
}
# Resource types with no charge of their own at rest, and why.
FREE = {
    "AWS::AutoScaling::AutoScalingGroup": "no charge; its instances are (none at rest)",
    "AWS::AutoScaling::LifecycleHook": "no charge",
    "AWS::EC2::LaunchTemplate": "no charge",
    "AWS::EC2::SecurityGroup": "no charge",
    "AWS::Events::Rule": "schedules and AWS service events: no charge",
    "AWS::IAM::InstanceProfile": "no charge",
    "AWS::IAM::Policy": "no charge",
    "AWS::IAM::Role": "no charge",
    "AWS::ImageBuilder::Component": "no charge (Image Builder bills only what it runs)",
    "AWS::ImageBuilder::ImageRecipe": "no charge",
    "AWS::ImageBuilder::InfrastructureConfiguration": "no charge",
    "AWS::KMS::Alias": "no charge",
    "AWS::Lambda::EventInvokeConfig": "no charge",
    "AWS::Lambda::LayerVersion": "no charge (code storage is free, up to the account quota)",
    "AWS::Lambda::Permission": "no charge",
    "AWS::SNS::Topic": "at rest no message is published",
    "AWS::SNS::TopicPolicy": "no charge",
    "AWS::SQS::Queue": "at rest nobody sends or polls (requests are billed)",
    "AWS::SQS::QueuePolicy": "no charge",
    "AWS::SSM::Parameter": "standard tier: no charge",
}


@dataclass(frozen=True)
class Idle:
    """One idle invocation of a scheduled function, as measured (measure.py)."""

    # The custom metrics it publishes at least once an hour (dimension: service), so
    # billed every hour of the month.
    metrics: tuple[str, ...]
    log_bytes: float  # its own log lines and EMF documents
    # SecureString reads and writes (Parameter Store calls KMS once for each)
    kms_requests: float
    seconds: dict[str, float]  # run time by scaler mode


MEASURED_ON = "2026-12-07"
# `benchmarks/cpu/idle_cost.py --measure --ticks 30 --watch`, on this machine; the run
# times are README "Watch or poll"'s (benchmarks/cpu/scaler_minute.py --measure, 2026-12-02).
# The tokens function, run every 15 minutes of a clock for two hours, rotated its token
# once an hour (TokensRotated, a PutParameter, a 208-byte log line).
MEASURED = {
    "scaler": Idle(metrics=(Metric.CREDENTIALS_DAYS_LEFT,), log_bytes=782, kms_requests=0.0,
                   seconds={"poll": 1.15, "watch": 51.5}),
    "tokens": Idle(metrics=(Metric.TOKENS_ROTATED,), log_bytes=52, kms_requests=2.25,
                   seconds={"poll": 0.7, "watch": 0.7}),
}
# Lambda's own lines per invocation (JSON format: platform.start and platform.report, about
# 250 bytes each): not produced under the harness, so estimated.
PLATFORM_LOG_BYTES = 500
MODES = ("poll", "watch")
_RATE = re.compile(r"^rate\((\d+) (minute|minutes|hour|hours)\)$")


def _resources(template: Mapping[str, Any], kind: str) -> list[dict[str, Any]]:
    return [r for r in template["Resources"].values() if r["Type"] == kind]


def unclassified(template: Mapping[str, Any]) -> set[str]:
    """Resource types in the template this model neither prices nor lists as free."""
    return {r["Type"] for r in template["Resources"].values()} - set(PRICED) - set(FREE)


def alarm_metrics(template: Mapping[str, Any]) -> dict[str, int]:
    """Alarm metrics by resolution: an alarm on one metric is one, a metric-math alarm one
    per metric it reads; a period under 60 s is high resolution."""
    found = {"standard": 0, "high": 0}
    for alarm in _resources(template, "AWS::CloudWatch::Alarm"):
        props = alarm["Properties"]
        queries = props.get("Metrics")
        if queries:
            stats = [q["MetricStat"] for q in queries if "MetricStat" in q]
            found["high" if any(s["Period"] < 60 for s in stats) else "standard"] += len(stats)
        else:
            found["high" if props["Period"] < 60 else "standard"] += 1
    return found


def secrets(template: Mapping[str, Any]) -> set[str]:
    """The Secrets Manager secrets the stack's roles read (the functions' credentials, the
    nodes' VPN configuration): the operator creates them, the stack bills their reads."""
    found = set()
    for policy in _resources(template, "AWS::IAM::Policy"):
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            actions = statement["Action"]
            if "secretsmanager:GetSecretValue" not in (
                    actions if isinstance(actions, list) else [actions]):
                continue
            resources = statement["Resource"]
            for arn in resources if isinstance(resources, list) else [resources]:
                found.add(arn.removesuffix("-??????"))
    return found


def counts(template: Mapping[str, Any]) -> dict[str, int]:
    """The counted rows' quantities (the README test compares its table with these)."""
    alarms = alarm_metrics(template)
    return {
        "KMS keys": len(_resources(template, "AWS::KMS::Key")),
        "CloudWatch alarms, standard resolution": alarms["standard"],
        "CloudWatch alarms, high resolution": alarms["high"],
        "CloudWatch dashboards": len(_resources(template, "AWS::CloudWatch::Dashboard")),
        "Secrets Manager secrets": len(secrets(template)),
    }


def schedules(template: Mapping[str, Any]) -> dict[str, float]:
    """Scheduled function (its name's last word) -> minutes between its invocations."""
    names = {k: r["Properties"]["FunctionName"].rsplit("-", 1)[-1]
             for k, r in template["Resources"].items() if r["Type"] == "AWS::Lambda::Function"}
    found: dict[str, float] = {}
    for rule in _resources(template, "AWS::Events::Rule"):
        expression = rule["Properties"].get("ScheduleExpression")
        if not expression:
            continue
        match = _RATE.match(expression)
        if not match:
            raise ValueError(f"idlecost: cannot read schedule {expression!r}")
        minutes = int(match[1]) * (60 if match[2].startswith("hour") else 1)
        target = rule["Properties"]["Targets"][0]["Arn"]["Fn::GetAtt"][0]
        found[names[target]] = minutes
    return found


def secret_reads(minutes: float) -> float:
    """GetSecretValue calls per invocation of a function run every `minutes`: one per
    CREDENTIALS_TTL_SECONDS in a warm execution environment (measured: one in 30 ticks),
    one per invocation when they are further apart. A cold start reads once more."""
    return min(1.0, minutes * 60 / CREDENTIALS_TTL_SECONDS)


@dataclass(frozen=True)
class Row:
    item: str
    quantity: str
    price: p.Price
    usd: dict[str, float]  # by scaler mode

    def cells(self) -> list[str]:
        mark = "" if self.price.confirmed else " †"
        return [self.item, self.quantity, str(self.price),
                *(f"${self.usd[m]:.2f}" for m in MODES), f"<{self.price.source}>{mark}"]


def _same(usd: float) -> dict[str, float]:
    return dict.fromkeys(MODES, usd)


def rows(template: Mapping[str, Any]) -> list[Row]:
    """Every charge at rest, itemised; the counted rows first."""
    n = counts(template)
    every = schedules(template)
    runs = {f: p.HOURS_PER_MONTH * 60 / minutes for f, minutes in every.items()}
    memory_gb = {r["Properties"]["FunctionName"].rsplit("-", 1)[-1]:
                 r["Properties"]["MemorySize"] / 1024
                 for r in _resources(template, "AWS::Lambda::Function")}
    invocations = sum(runs.values())
    metrics = sorted({m for f in runs for m in MEASURED[f].metrics})
    log_gb = sum(runs[f] * (MEASURED[f].log_bytes + PLATFORM_LOG_BYTES) for f in runs) / 1e9
    retention = min(g["Properties"].get("RetentionInDays", 3653)
                    for g in _resources(template, "AWS::Logs::LogGroup"))
    gb_s = {m: sum(runs[f] * MEASURED[f].seconds[m] * memory_gb[f] for f in runs) for m in MODES}
    reads = sum(runs[f] * secret_reads(every[f]) for f in runs)
    kms_requests = sum(runs[f] * MEASURED[f].kms_requests for f in runs)
    found = [
        Row("KMS keys", str(n["KMS keys"]), p.KMS_KEY, _same(n["KMS keys"] * p.KMS_KEY.each)),
        *(Row(item, str(n[item]), price, _same(n[item] * price.each)) for item, price in (
            ("CloudWatch alarms, standard resolution", p.ALARM_STANDARD),
            ("CloudWatch alarms, high resolution", p.ALARM_HIGH_RESOLUTION))),
        Row("CloudWatch dashboards", str(n["CloudWatch dashboards"]), p.DASHBOARD,
            _same(n["CloudWatch dashboards"] * p.DASHBOARD.each)),
        Row("Secrets Manager secrets", str(n["Secrets Manager secrets"]), p.SECRET,
            _same(n["Secrets Manager secrets"] * p.SECRET.each)),
        Row("custom metrics published every hour at rest", f"{len(metrics)}: {', '.join(metrics)}",
            p.CUSTOM_METRIC, _same(len(metrics) * p.CUSTOM_METRIC.each)),
        Row("GetSecretValue calls", f"{reads:,.0f}/month", p.SECRET_CALL,
            _same(reads * p.SECRET_CALL.each)),
        Row("KMS requests (join parameter reads, writes)", f"{kms_requests:,.0f}/month",
            p.KMS_REQUEST, _same(kms_requests * p.KMS_REQUEST.each)),
        Row("Lambda requests (" + ", ".join(f"{f} {k:,.0f}" for f, k in sorted(runs.items()))
            + ")", f"{invocations:,.0f}/month", p.LAMBDA_REQUEST,
            _same(invocations * p.LAMBDA_REQUEST.each)),
        Row("Lambda compute", " / ".join(f"{gb_s[m]:,.0f} GB-s ({m})" for m in MODES),
            p.LAMBDA_GB_SECOND, {m: gb_s[m] * p.LAMBDA_GB_SECOND.each for m in MODES}),
        Row("CloudWatch Logs ingested", f"{log_gb * 1000:,.0f} MB/month", p.LOGS_INGESTED,
            _same(log_gb * p.LOGS_INGESTED.each)),
        Row(f"CloudWatch Logs stored ({retention} days kept)",
            f"{log_gb * 1000 * retention / 30:,.0f} MB", p.LOGS_STORED,
            _same(log_gb * retention / 30 * p.LOGS_STORED.each)),
        Row("EventBridge rules (" + str(len(_resources(template, "AWS::Events::Rule"))) + ")",
            f"{invocations:,.0f} events/month", p.EVENTBRIDGE_AWS_EVENTS, _same(0.0)),
        Row("SSM join parameter (standard tier)", "1 per region", p.SSM_STANDARD_PARAMETER,
            _same(0.0)),
    ]
    return found


def totals(found: list[Row]) -> dict[str, float]:
    return {m: sum(r.usd[m] for r in found) for m in MODES}


def image_gib(template: Mapping[str, Any]) -> int:
    """The root volume of the node image the stack builds (0: every group brings an AMI)."""
    if not _resources(template, "AWS::ImageBuilder::Image"):
        return 0
    return max(int(d["Ebs"]["VolumeSize"])
               for r in _resources(template, "AWS::ImageBuilder::ImageRecipe")
               for d in r["Properties"].get("BlockDeviceMappings", []))
