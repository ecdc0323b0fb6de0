"""Node templates from ASG tags, parsed as Cluster Autoscaler's AWS provider parses them."""

from __future__ import annotations

from decimal import Decimal

import pytest

from burst.core.asgtags import (
    extract_boards,
    extract_labels,
    extract_priority,
    extract_taints,
    node_template,
)
from burst.core.catalog import F1_BOARD, INSTANCE_TYPES
from burst.core.model import Taint
from burst.core.quantity import parse_count, parse_quantity

LABEL = "k8s.io/cluster-autoscaler/node-template/label/"
TAINT = "k8s.io/cluster-autoscaler/node-template/taint/"
RESOURCES = "k8s.io/cluster-autoscaler/node-template/resources/"

QUANTITIES = {
    "plain integer": ("2", Decimal(2)),
    "decimal kilo": ("2k", Decimal(2000)),
    "binary kibi": ("1Ki", Decimal(1024)),
    "binary gibi fraction": ("1.5Gi", Decimal(1610612736)),
    "milli": ("500m", Decimal("0.5")),
    "micro": ("3u", Decimal("0.000003")),
    "nano": ("5n", Decimal("0.000000005")),
    "exponent": ("1e3", Decimal(1000)),
    "negative exponent": ("25E-1", Decimal("2.5")),
    "bare E is exa, not an exponent": ("1E", Decimal(10) ** 18),
    "leading plus": ("+3", Decimal(3)),
    "leading dot": (".5", Decimal("0.5")),
    "trailing dot": ("5.", Decimal(5)),
    "negative": ("-2", Decimal(-2)),
}


@pytest.mark.parametrize(("text", "value"), QUANTITIES.values(), ids=QUANTITIES.keys())
def test_quantity_parses_like_apimachinery_parse_quantity(text: str, value: Decimal) -> None:
    assert parse_quantity(text) == value


BAD_QUANTITIES = {
    "empty": "",
    "trailing space": "2 ",
    "unknown suffix": "2x",
    "lowercase ki": "2ki",
    "exponent without digits": "1e",
    "two dots": "1.2.3",
    "sign only": "-",
}


@pytest.mark.parametrize("text", BAD_QUANTITIES.values(), ids=BAD_QUANTITIES.keys())
def test_quantity_refuses_what_parse_quantity_refuses(text: str) -> None:
    with pytest.raises(ValueError):
        parse_quantity(text)


COUNTS = {"integer": ("2", 2), "2000 milli is 2": ("2000m", 2), "2.0": ("2.0", 2)}


@pytest.mark.parametrize(("text", "count"), COUNTS.values(), ids=COUNTS.keys())
def test_board_count_accepts_whole_quantities(text: str, count: int) -> None:
    assert parse_count(text) == count


@pytest.mark.parametrize("text", ["1.5", "500m", "-1"], ids=["fraction", "milli", "negative"])
def test_board_count_refuses_fractional_or_negative_quantities(text: str) -> None:
    with pytest.raises(ValueError):
        parse_count(text)


def test_labels_come_from_label_tags_and_empty_names_are_skipped() -> None:
    tags = {
        LABEL + "fpga.example.com/board": "vu9p",
        LABEL + "node.kubernetes.io/lifecycle": "burst",
        LABEL: "no-name",
        "Name": "f1-4xlarge",
        "k8s.io/cluster-autoscaler/enabled": "true",
    }
    assert extract_labels(tags) == {
        "fpga.example.com/board": "vu9p",
        "node.kubernetes.io/lifecycle": "burst",
    }


TAINTS = {
    "value and NoSchedule": ("fpga-burst.io/burst", "true:NoSchedule", Taint(
        "fpga-burst.io/burst", "true", "NoSchedule")),
    "empty value": ("dedicated", ":NoExecute", Taint("dedicated", "", "NoExecute")),
    "PreferNoSchedule": ("spot", "yes:PreferNoSchedule", Taint("spot", "yes", "PreferNoSchedule")),
    "no effect: ignored like CA": ("dedicated", "fpga", None),
    "unknown effect: ignored like CA": ("dedicated", "fpga:Sometimes", None),
    "value with a colon: CA's split gives an invalid effect, skipped": (
        "dedicated", "a:b:NoSchedule", None),
    "empty key": ("", "true:NoSchedule", None),
}


@pytest.mark.parametrize(("key", "value", "taint"), TAINTS.values(), ids=TAINTS.keys())
def test_taint_tags_are_value_colon_effect_like_cluster_autoscaler(
    key: str, value: str, taint: Taint | None
) -> None:
    assert extract_taints({TAINT + key: value}) == ((taint,) if taint else ())


def test_resource_tags_give_board_counts_and_leave_out_native_and_unparsable_ones() -> None:
    tags = {
        RESOURCES + F1_BOARD: "2",
        RESOURCES + "xilinx/u250": "1k",
        RESOURCES + "cpu": "16",
        RESOURCES + "memory": "244Gi",
        RESOURCES + "hugepages-1Gi": "8Gi",
        RESOURCES + "example.com/broken": "two",
        RESOURCES + "example.com/half": "500m",
    }
    assert extract_boards(tags) == {F1_BOARD: 2, "xilinx/u250": 1000}


PRIORITIES = {"absent": ({}, 0), "set": ({"fpga-burst.io/priority": " 20 "}, 20),
              "negative": ({"fpga-burst.io/priority": "-5"}, -5),
              "not a number": ({"fpga-burst.io/priority": "high"}, 0)}


@pytest.mark.parametrize(("tags", "priority"), PRIORITIES.values(), ids=PRIORITIES.keys())
def test_priority_tag_is_an_integer_defaulting_to_zero(tags: dict[str, str], priority: int) -> None:
    assert extract_priority(tags) == priority


def test_boards_fall_back_to_the_instance_type_table_only_without_resource_tags() -> None:
    assert node_template({}, "f1.4xlarge", INSTANCE_TYPES).boards == {F1_BOARD: 2}
    tagged = {RESOURCES + F1_BOARD: "1"}
    assert node_template(tagged, "f1.4xlarge", INSTANCE_TYPES).boards == {F1_BOARD: 1}
    assert node_template({}, "m5.large", INSTANCE_TYPES).boards == {}
