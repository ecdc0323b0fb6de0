"""Scheduling rules the planner simulates: demand alternatives, tolerations, selectors."""

from __future__ import annotations

import pytest

from burst.core.errors import DemandError
from burst.core.model import Catalog, Pod, Taint, Toleration
from burst.core.scaleup.fit import Alternative, alternatives, selector_mismatch, untolerated

CATALOG = Catalog(
    accelerators={
        "x.exact": {"xilinx/u250": 4, "xilinx/aws-vu9p-f1": 2},
        "x.hist": {"xilinx/aws-vu9p-f1": 1},
    }
)


@pytest.mark.parametrize(
    ("pod", "expected"),
    [
        pytest.param(
            Pod("a/b", requests={"xilinx/u250": 2}), (Alternative("xilinx/u250", 2),), id="requests"
        ),
        pytest.param(
            Pod("a/b", accelerators={"x.exact": 5}),
            (Alternative("xilinx/aws-vu9p-f1", 3), Alternative("xilinx/u250", 2)),
            id="ceil-per-board",
        ),
        pytest.param(
            Pod("a/b", accelerators={"x.exact": 2, "x.hist": 1}),
            (Alternative("xilinx/aws-vu9p-f1", 2),),
            id="several-accelerators-share-common-boards",
        ),
        pytest.param(Pod("a/b"), (), id="no-demand"),
    ],
)
def test_alternatives(pod: Pod, expected: tuple[Alternative, ...]) -> None:
    assert alternatives(pod, CATALOG) == expected


def test_unknown_accelerator_is_a_demand_error_naming_it() -> None:
    with pytest.raises(DemandError, match="accelerator nope is not in the catalog"):
        alternatives(Pod("a/b", accelerators={"nope": 1}), CATALOG)


@pytest.mark.parametrize(
    ("toleration", "taint", "tolerated"),
    [
        (Toleration("k", "Equal", "v", "NoSchedule"), Taint("k", "v", "NoSchedule"), True),
        (Toleration("k", "Equal", "w", "NoSchedule"), Taint("k", "v", "NoSchedule"), False),
        (Toleration("k", "Exists"), Taint("k", "v", "NoExecute"), True),
        (Toleration("", "Exists"), Taint("any", "v", "NoSchedule"), True),
        (Toleration("k", "Exists", effect="NoExecute"), Taint("k", "v", "NoSchedule"), False),
    ],
    ids=[
        "equal",
        "value-differs",
        "exists-any-effect",
        "empty-key-exists-tolerates-all",
        "effect-differs",
    ],
)
def test_tolerations_follow_kubernetes_rules(
    toleration: Toleration, taint: Taint, tolerated: bool
) -> None:
    assert (untolerated((toleration,), (taint,)) is None) is tolerated


def test_prefer_no_schedule_taints_never_block() -> None:
    assert untolerated((), (Taint("k", "v", "PreferNoSchedule"),)) is None


def test_selector_mismatch_names_the_term() -> None:
    assert selector_mismatch({"a": "1", "b": "2"}, {"a": "1"}) == "node selector b=2 does not match"
    assert selector_mismatch({"a": "1"}, {"a": "1", "z": "9"}) is None
