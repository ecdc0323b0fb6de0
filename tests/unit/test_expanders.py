"""The expander chain decides (docs/scenarios.md): each chain's own choice, on cases where the
chains choose differently, at every place the planner compares candidates."""

from __future__ import annotations

from typing import Any

import pytest

from burst.core.model import NodeGroup, Pod, Policy, Snapshot
from burst.core.scaleup.bins import Caps, Opened, PodClass
from burst.core.scaleup.capacity import Template, build
from burst.core.scaleup.expanders import EXPANDERS, Chain, Option
from burst.core.scaleup.fit import Alternative
from burst.core.scaleup.improve import improve
from burst.core.scaleup.packing import fits_of
from burst.core.scaleup.planner import plan
from burst.tools.report import to_json
from burst.tools.scenario import parse

BOARD = "vendor/board"
# Prices not linear in boards, so that price per hour, idle boards and the bill over the
# jobs' lifetimes each point elsewhere.
TYPES = {
    "one": {"boards": {BOARD: 1}, "price_per_hour": 1.20},
    "three": {"boards": {BOARD: 3}, "price_per_hour": 3.30},
    "four": {"boards": {BOARD: 4}, "price_per_hour": 3.00},
}


def run(chain: list[str] | None, pods: int = 3, **group: Any) -> dict[str, Any]:
    doc = {
        "instance_types": TYPES,
        "node_groups": [
            {"name": f"g-{name}", "instance_type": name, "max_size": 10, **group.get(name, {})}
            for name in TYPES
        ],
        "pods": [{"name": f"ml/p{i}", "requests": {BOARD: 1}} for i in range(pods)],
        **({"policy": {"expanders": chain}} if chain is not None else {}),
    }
    scenario = parse(doc, "test.yaml")
    return to_json(plan(scenario.snapshot, scenario.policy))


def sizes(report: dict[str, Any]) -> dict[str, tuple[int, int]]:
    return {s["node_group"]: (s["from"], s["to"]) for s in report["scale_up"]}


@pytest.mark.parametrize(
    ("chain", "expected", "price"),
    [
        # One "four" ($3.00) holds all three pods, but it lives until the last of the three
        # jobs ends: 3.00 * H(3) = $5.50 expected, against $3.60 for three of their own.
        pytest.param(None, {"g-one": (0, 3)}, 3.60,
                     id="default-priority-lifetime-price-gives-each-pod-its-own-instance"),
        pytest.param(["price"], {"g-four": (0, 1)}, 3.00,
                     id="price-only-takes-the-least-price-per-hour-one-four-board-instance"),
        pytest.param(["least-waste"], {"g-three": (0, 1)}, 3.30,
                     id="least-waste-only-takes-the-instance-no-board-of-which-is-idle"),
        pytest.param(["lifetime"], {"g-one": (0, 3)}, 3.60, id="lifetime-only-as-the-default"),
        pytest.param(["least-waste", "price"], {"g-three": (0, 1)}, 3.30,
                     id="least-waste-then-price-still-no-idle-board"),
    ],
)
def test_the_chain_chooses_the_new_instances(
    chain: list[str] | None, expected: dict[str, tuple[int, int]], price: float
) -> None:
    report = run(chain)
    assert sizes(report) == expected
    assert report["price_per_hour_added"] == pytest.approx(price)
    assert {p["outcome"] for p in report["pods"]} == {"scale-up"}


@pytest.mark.parametrize(
    ("chain", "expected"),
    [
        pytest.param(None, {"g-four": (0, 1)},
                     id="default-never-splits-into-a-lower-priority-group"),
        pytest.param(["lifetime", "price"], {"g-one": (0, 3)},
                     id="without-priority-a-lower-priority-group-may-take-them"),
    ],
)
def test_only_the_priority_step_keeps_pods_out_of_lower_priority_groups(
    chain: list[str] | None, expected: dict[str, tuple[int, int]]
) -> None:
    # "three" cannot grow; "four" is preferred, "one" is not.
    report = run(chain, three={"max_size": 0}, four={"priority": 5}, one={"priority": 0})
    assert sizes(report) == expected


def templates(**priority: int) -> dict[str, Template]:
    groups = tuple(NodeGroup(f"g-{name}", name, 0, 10, 0, priority=priority.get(name, 0))
                   for name in TYPES)
    catalog = parse({"instance_types": TYPES, "pods": []}, "test.yaml").snapshot.catalog
    return {t.group.name: t for t in build(Snapshot(groups, (), (), catalog)).templates}


@pytest.mark.parametrize(
    ("chain", "expected"),
    [
        pytest.param(("price",), "g-four", id="price-least-price-per-demand"),
        pytest.param(("lifetime",), "g-four", id="lifetime-least-price-per-demand"),
        pytest.param(("least-waste",), "g-three", id="least-waste-no-idle-board-then-more-demand"),
        pytest.param(("priority", "lifetime", "price"), "g-one", id="default-priority-first"),
        pytest.param(("least-waste", "priority"), "g-one", id="least-waste-then-priority"),
    ],
)
def test_the_chain_picks_the_next_new_instance(chain: tuple[str, ...], expected: str) -> None:
    by_name = templates(one=5)
    alt = Alternative(BOARD, 1)
    options = [  # pods of one class, each worth $1 of demand
        Option(by_name["g-four"], ((0, alt, 3),), 3.0),  # $1.00 per $ of demand, 1 idle
        Option(by_name["g-three"], ((0, alt, 3),), 3.0),  # $1.10, none idle
        Option(by_name["g-one"], ((0, alt, 1),), 1.0),  # $1.20, none idle, priority 5
    ]
    assert Chain.of(chain).choose(options).template.group.name == expected


@pytest.mark.parametrize(
    ("chain", "copies", "expected"),
    [
        pytest.param(("price",), 1, [("g-four", 1)], id="price-keeps-it-on-the-cheaper-instance"),
        pytest.param(("price",), 2, [("g-four", 2)], id="price-weighs-one-instance-of-several"),
        pytest.param(("least-waste",), 1, [("g-three", 1)],
                     id="least-waste-moves-it-where-fewer-boards-are-idle"),
        pytest.param(("least-waste",), 2, [("g-three", 1), ("g-three", 1)],
                     id="least-waste-moves-each-instance"),
        pytest.param(("priority", "lifetime", "price"), 1, [("g-four", 1)],
                     id="default-as-price"),
    ],
)
def test_improvement_moves_an_instance_only_where_the_chain_judges_it_better(
    chain: tuple[str, ...], copies: int, expected: list[tuple[str, int]]
) -> None:
    # A 3-board pod on a "four" (1 board idle, $3.00); the only other group is "three" (none
    # idle, $3.30): a move the price forbids and idle boards ask for. Two such instances
    # cannot merge: no instance has 6 boards.
    by_name = templates()
    pod = Pod("ml/p0", requests={BOARD: 3})
    alt = Alternative(BOARD, 3)
    fits = fits_of([PodClass((alt,), pod)], [by_name["g-four"], by_name["g-three"]])
    four = fits.templates[0]
    opened = [Opened(four, ((0, alt, 1),), copies)]
    headroom = {0: four.headroom - copies, 1: fits.templates[1].headroom}
    improve(opened, fits.templates, fits.alternative, headroom, Caps(None, None), Chain.of(chain))
    assert [(o.template.group.name, o.copies) for o in opened] == expected


def test_every_registered_expander_can_be_named_in_a_policy_and_the_default_is_a_chain() -> None:
    for name in EXPANDERS:
        assert run([name])["scale_up"]
    assert set(Policy().expanders) <= set(EXPANDERS)
