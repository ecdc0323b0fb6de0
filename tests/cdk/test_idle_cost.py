"""The README's "What it costs at rest" is the cost model's output for the demo template.

Its counted rows (KMS keys, alarms by resolution, dashboards, secrets) are read back from
the README and compared with the synthesized template, every resource type in the template
is either priced or listed as free, and the whole block is what benchmarks/cpu/idle_cost.py
prints: a new alarm, key or resource type fails here until the table is printed again.
"""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk.assertions import Template
from conftest import REPO

from burst.tools.deploy.config import DeployConfig
from burst.tools.idlecost import measure, model, table

README = REPO / "README.md"
REPRINT = "reprint it: .venv/bin/python benchmarks/cpu/idle_cost.py"


@pytest.fixture(scope="module")
def synthesized(template: Template) -> dict[str, Any]:
    return dict(template.to_json())


def test_every_resource_type_in_the_template_is_priced_or_free(
    synthesized: dict[str, Any],
) -> None:
    assert model.unclassified(synthesized) == set(), "add it to PRICED or FREE in model.py"


@pytest.mark.parametrize("item", sorted(model.counts({"Resources": {}})), ids=str)
def test_the_readme_counts_what_the_template_holds(
    synthesized: dict[str, Any], item: str
) -> None:
    quantities = table.readme_quantities(table.readme_block(README.read_text()))
    assert quantities[item] == str(model.counts(synthesized)[item]), REPRINT


def test_the_readme_block_is_the_models_output(
    synthesized: dict[str, Any], config: DeployConfig
) -> None:
    azs = len({s.availability_zone for s in config.subnets})
    assert table.readme_block(README.read_text()) == table.section(synthesized, azs), REPRINT


def test_the_counts_read_alarms_by_metric_and_resolution() -> None:
    alarm = {"Type": "AWS::CloudWatch::Alarm"}
    stat = {"MetricStat": {"Period": 60}}
    found = model.alarm_metrics({"Resources": {
        "a": {**alarm, "Properties": {"Period": 60}},
        "b": {**alarm, "Properties": {"Period": 10}},
        "c": {**alarm, "Properties": {"Metrics": [stat, stat, {"Expression": "m1+m2"}]}},
    }})
    assert found == {"standard": 3, "high": 1}


def test_an_emf_line_counts_one_metric_per_name_and_dimension_set() -> None:
    line = ('{"_aws": {"Timestamp": 1, "CloudWatchMetrics": [{"Namespace": "fpga-burst", '
            '"Dimensions": [["service"]], "Metrics": [{"Name": "A"}, {"Name": "B"}]}]}, '
            '"service": "fpga-burst", "A": [1], "B": [0]}')
    assert measure.emf_metrics(line) == [
        ("fpga-burst", "A", (("service", "fpga-burst"),)),
        ("fpga-burst", "B", (("service", "fpga-burst"),)),
    ]
    assert measure.emf_metrics('{"level": "INFO", "message": "no change"}') == []
