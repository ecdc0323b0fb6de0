"""Fast path equals slow path: each shortcut the planner takes for speed gives what the
plain way gives, on random inputs (hypothesis).

- the knapsack reads its choice back from back-pointers: same fill as carrying the chosen
  items along, as it did before;
- the pod-by-pod baseline puts a class's pods on an instance in one run: same instances
  as placing them one pod at a time, each by a best-fit search;
- first fit on registered capacity goes on from the slot the last pod took: same slots
  as searching from the first slot for every pod;
- the planner's best fit on registered and upcoming capacity finds slots in buckets by
  free boards: same slots as looking at every slot for every pod.
"""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import given, settings
from hypothesis import strategies as st

from burst.core.model import NodeGroup, Pod, PodDecision, PodOutcome, Taint, Toleration
from burst.core.scaleup.baseline import _Added, _Compat, _fill_registered, _first_fit, record
from burst.core.scaleup.bins import EPSILON, PodClass
from burst.core.scaleup.capacity import Slot, Template
from burst.core.scaleup.fit import Alternative, placement_problem
from burst.core.scaleup.packing import _knapsack
from burst.core.scaleup.planner import _place_on_slots

BOARDS = ("a", "b")


def reference_knapsack(
    capacity: int, runs: tuple[tuple[int, Alternative, int], ...], weights: dict[int, float]
) -> list[tuple[int, Alternative, int]]:
    """The knapsack as it was written first: every cell carries its chosen items."""
    units = [(ci, alt) for ci, alt, n in runs for _ in range(n)]
    best: list[tuple[float, int, tuple[int, ...]]] = [(0.0, 0, ())] * (capacity + 1)
    for index, (ci, alt) in enumerate(units):
        for c in range(capacity, alt.boards - 1, -1):
            weight, pods, chosen = best[c - alt.boards]
            candidate = (weight + weights[ci], pods - 1, (*chosen, index))
            a, b = candidate[:2], best[c][:2]
            if (a[0] > b[0]) if abs(a[0] - b[0]) > EPSILON else (a[1] > b[1]):
                best[c] = candidate
    counts: dict[tuple[int, Alternative], int] = {}
    for index in best[capacity][2]:
        counts[units[index]] = counts.get(units[index], 0) + 1
    return [(ci, alt, n) for (ci, alt), n in sorted(counts.items(), key=lambda kv: kv[0][0])]


@st.composite
def knapsacks(
    draw: st.DrawFn,
) -> tuple[int, tuple[tuple[int, Alternative, int], ...], dict[int, float]]:
    capacity = draw(st.integers(1, 8))
    classes = draw(st.integers(1, 6))
    # Few distinct weights, some equal and some within EPSILON: the tie rules get used.
    weights = {
        ci: draw(st.sampled_from([0.5, 1.0, 1.0 + EPSILON / 2, 1.65, 3.3, 2.0])) * (ci % 3 + 1)
        for ci in range(classes)
    }
    runs = tuple(
        (ci, Alternative("a", draw(st.integers(1, capacity))), draw(st.integers(1, capacity)))
        for ci in range(classes)
    )
    return capacity, runs, weights


@settings(max_examples=500, deadline=None)
@given(knapsacks())
def test_knapsack_read_back_from_back_pointers_equals_carrying_the_choice(
    case: tuple[int, tuple[tuple[int, Alternative, int], ...], dict[int, float]],
) -> None:
    capacity, runs, weights = case
    assert _knapsack(capacity, runs, weights) == reference_knapsack(capacity, runs, weights)


def template(index: int, boards: dict[str, int]) -> Template:
    group = NodeGroup(f"g{index}", "f1.2xlarge", 0, 100, 0)
    return Template(group, boards, price=1.0 + index, headroom=100)


@st.composite
def runs_of_pods(
    draw: st.DrawFn,
) -> tuple[list[Template], list[list[tuple[int, Template, Alternative]]], list[tuple[int, int]]]:
    templates = [
        template(i, {b: draw(st.integers(1, 8)) for b in draw(st.sets(st.sampled_from(BOARDS),
                                                                      min_size=1))})
        for i in range(draw(st.integers(1, 4)))
    ]
    hosts = []
    for _ in range(draw(st.integers(1, 5))):
        ti_board = [(ti, b) for ti, t in enumerate(templates) for b in t.boards]
        chosen = draw(st.lists(st.sampled_from(ti_board), min_size=1, max_size=3,
                               unique_by=lambda tb: tb[0]))
        hosts.append(sorted(
            (ti, templates[ti], Alternative(b, draw(st.integers(1, templates[ti].boards[b]))))
            for ti, b in chosen
        ))
    # A class's pods come together, as the baseline takes them; a class may come back.
    order = draw(st.lists(st.tuples(st.integers(0, len(hosts) - 1), st.integers(1, 20)),
                          min_size=1, max_size=8))
    return templates, hosts, order


def _state(added: _Added) -> tuple[object, ...]:
    levels = {key: list(q) for key, q in added.free.items() if q}
    return added.instances, levels


@settings(max_examples=400, deadline=None)
@given(runs_of_pods())
def test_placing_a_run_of_pods_equals_placing_them_one_by_one(
    case: tuple[list[Template], list[list[tuple[int, Template, Alternative]]],
                list[tuple[int, int]]],
) -> None:
    templates, hosts, order = case
    fast, slow = _Added(templates), _Added(templates)
    for ci, pods in order:
        ti, _, alt = hosts[ci][(ci + pods) % len(hosts[ci])]  # where a new one is opened
        done = 0
        while done < pods:
            got = fast.place(ci, hosts[ci], pods - done)
            done += got or fast.open(ti, ci, alt, pods - done)
        for _ in range(pods):
            # The plain rule: every pod by a best-fit search, nothing assumed.
            slow.full.clear()
            if not slow.place(ci, hosts[ci], 1):
                slow.open(ti, ci, alt, 1)
    assert _state(fast) == _state(slow)


@dataclass(frozen=True)
class Case:
    """Slots, a class of pods, and the pods of it to place."""

    slots: list[Slot]
    cls: PodClass
    pods: list[Pod]


def case(slots: list[Slot], cls: PodClass, count: int) -> Case:
    return Case(slots, cls, [Pod(f"ns/p{i:02}") for i in range(count)])


@st.composite
def slots_and_pods(draw: st.DrawFn) -> Case:
    slots = [
        Slot(f"n{i}", {b: draw(st.integers(0, 4)) for b in BOARDS}, {}, ())
        for i in range(draw(st.integers(0, 6)))
    ]
    alternatives = tuple(
        Alternative(b, draw(st.integers(1, 3)))
        for b in sorted(draw(st.sets(st.sampled_from(BOARDS), min_size=1)))
    )
    return case(slots, PodClass(alternatives, Pod("ns/sample")), draw(st.integers(1, 12)))


@settings(max_examples=300, deadline=None)
@given(slots_and_pods())
def test_first_fit_going_on_from_the_last_slot_equals_searching_from_the_first(
    case: Case,
) -> None:
    fast_slots = [s.copy() for s in case.slots]
    placed: dict[str, PodDecision] = {}
    fitted = _fill_registered(0, case.pods, fast_slots, _Compat([case.cls]), placed)
    slow_slots = [s.copy() for s in case.slots]
    where = []
    for _ in case.pods:
        found = _first_fit(0, slow_slots, _Compat([case.cls]), 0)
        if found is None:
            break
        where.append((slow_slots[found[0]].name, found[1].board, found[1].boards))
    assert fitted == len(where)
    assert [(d.node, d.board, d.boards) for d in placed.values()] == where
    assert [s.free for s in fast_slots] == [s.free for s in slow_slots]


def reference_best_fit(
    cls: PodClass, pods: list[Pod], slots: list[Slot], decisions: dict[str, PodDecision]
) -> None:
    """Best fit on registered capacity as it was written first: every pod looks at every
    (slot, alternative) pair."""
    candidates = [
        (slot, alt)
        for slot in slots
        if placement_problem(cls.sample, slot.labels, slot.taints) is None
        for alt in cls.alternatives
        if alt.board in slot.free
    ]
    placed = 0
    while placed < len(pods) and candidates:
        fitting = [(s, a) for s, a in candidates if s.free[a.board] >= a.boards]
        if not fitting:
            break
        slot, alt = min(
            fitting, key=lambda sa: (sa[0].free[sa[1].board] - sa[1].boards, sa[0].name)
        )
        slot.free[alt.board] -= alt.boards
        record(decisions, pods[placed], slot, alt, PodOutcome.FITS_UPCOMING)
        placed += 1
    del pods[:placed]


@st.composite
def slots_for_best_fit(draw: st.DrawFn) -> Case:
    """Slots of a few kinds (labels, taints), some boards absent, names in any order."""
    kinds = [({}, ()), ({"zone": "a"}, ()), ({}, (Taint("t", "x", "NoSchedule"),))]
    names = draw(st.permutations(range(draw(st.integers(0, 12)))))
    slots = []
    for i in names:
        labels, taints = kinds[draw(st.integers(0, len(kinds) - 1))]
        boards = draw(st.sets(st.sampled_from(BOARDS), min_size=1))
        slots.append(Slot(f"n{i:02}", {b: draw(st.integers(0, 6)) for b in sorted(boards)},
                          labels, taints))
    alternatives = tuple(
        Alternative(b, draw(st.integers(1, 3)))
        for b in draw(st.permutations(sorted(draw(st.sets(st.sampled_from(BOARDS),
                                                            min_size=1)))))
    )
    selector = draw(st.sampled_from([{}, {"zone": "a"}]))
    tolerations = draw(st.sampled_from([(), (Toleration("t", "Equal", "x", "NoSchedule"),)]))
    sample = Pod("ns/sample", node_selector=selector, tolerations=tolerations)
    return case(slots, PodClass(alternatives, sample), draw(st.integers(0, 30)))


@settings(max_examples=500, deadline=None)
@given(slots_for_best_fit())
def test_best_fit_from_buckets_equals_looking_at_every_slot_for_every_pod(
    case: Case,
) -> None:
    fast_slots, slow_slots = [s.copy() for s in case.slots], [s.copy() for s in case.slots]
    fast_pods, slow_pods = list(case.pods), list(case.pods)
    fast: dict[str, PodDecision] = {}
    slow: dict[str, PodDecision] = {}
    _place_on_slots(case.cls, fast_pods, fast_slots, PodOutcome.FITS_UPCOMING, fast)
    reference_best_fit(case.cls, slow_pods, slow_slots, slow)
    assert fast == slow
    assert fast_pods == slow_pods
    assert [s.free for s in fast_slots] == [s.free for s in slow_slots]
