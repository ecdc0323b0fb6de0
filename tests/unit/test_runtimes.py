"""Run times learned from the cluster: pods seen running, their ends, the Kaplan-Meier
estimate of the chance that a pod of some age ends soon."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from burst.core.catalog import F2_BOARD
from burst.core.model import Node, Pod, Snapshot
from burst.core.scaledown import runtimes
from burst.core.scaledown.runtimes import MIN_AT_RISK, Runs, survival

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
T = NOW.timestamp()


def _running(name: str, started: datetime, node: str = "onprem-1", **extra: object) -> Pod:
    return Pod(f"ml/{name}", node=node, requests={F2_BOARD: 1}, started=started,
               **extra)  # type: ignore[arg-type]


def _snapshot(*pods: Pod) -> Snapshot:
    return Snapshot(nodes=(Node("onprem-1", allocatable={F2_BOARD: 4}),), pods=pods)


def test_running_fpga_pods_are_noted_and_a_pod_gone_by_the_next_look_has_ended() -> None:
    # GIVEN a running FPGA pod, a pending one, and a DaemonSet pod
    first = runtimes.observe(
        Runs(),
        _snapshot(_running("a", NOW - timedelta(minutes=3)),
                  Pod("ml/b", requests={F2_BOARD: 1}),
                  _running("ds", NOW - timedelta(hours=1), daemonset=True)),
        NOW,
    )
    # THEN only the running FPGA pod is noted, from its status.startTime
    assert first.running == {"ml/a": (T - 180, T)}
    assert first.ended == ()
    # WHEN it is gone 20 s later
    later = runtimes.observe(first, _snapshot(), NOW + timedelta(seconds=20))
    # THEN it ran from its start to midway between the two looks
    assert later.running == {}
    assert later.ended == (190.0,)


def test_an_end_after_a_long_gap_is_placed_at_most_a_minute_after_the_pod_was_last_seen() -> None:
    seen = Runs({"ml/a": (T - 100, T)})
    after = runtimes.observe(seen, _snapshot(), NOW + timedelta(hours=2))
    assert after.ended == (160.0,)


def test_a_pod_without_a_start_time_counts_from_when_it_was_first_seen_running() -> None:
    pod = Pod("ml/a", node="onprem-1", requests={F2_BOARD: 1})
    first = runtimes.observe(Runs(), _snapshot(pod), NOW)
    second = runtimes.observe(first, _snapshot(pod), NOW + timedelta(seconds=30))
    assert second.running["ml/a"] == (T, T + 30)


def test_ended_runs_are_bounded_keeping_the_newest() -> None:
    many = Runs({"ml/a": (T - 5, T)}, tuple(float(i) for i in range(runtimes.MAX_ENDED)))
    after = runtimes.observe(many, _snapshot(), NOW)
    assert len(after.ended) == runtimes.MAX_ENDED
    assert after.ended[0] == 1.0 and after.ended[-1] == 5.0


def test_kaplan_meier_with_ended_runs_only_is_the_empirical_distribution() -> None:
    # GIVEN ten runs of 1..10 minutes, all ended
    runs = Runs({}, tuple(60.0 * k for k in range(1, 11)))
    estimate = survival(runs, NOW)
    # THEN 70 % outlast 3 min; of the 8 that outlast 2 min, 3 end within the next 3 min
    assert estimate.share_beyond(180) == 0.7
    assert abs(estimate.ends_within(120, 180) - 3 / 8) < 1e-9  # type: ignore[operator]
    # AND nothing is said of an age fewer than MIN_AT_RISK runs reached
    assert estimate.ends_within(60.0 * (10 - MIN_AT_RISK + 1), 60) is not None
    assert estimate.ends_within(60.0 * (10 - MIN_AT_RISK + 1) + 1, 60) is None


def test_runs_still_going_keep_long_pods_from_looking_about_to_end() -> None:
    # GIVEN 10 short runs that ended, and 10 pods running for an hour already
    short = tuple(60.0 for _ in range(10))
    going = {f"ml/p{i}": (T - 3600, T) for i in range(10)}
    with_going = survival(Runs(going, short), NOW)
    # THEN a pod of 30 min is not known to end soon: the ones that lasted that long go on
    assert with_going.ends_within(1800, 60) == 0.0
    # AND without the running ones there would be nothing to say at all
    assert survival(Runs({}, short), NOW).ends_within(1800, 60) is None


def test_the_running_ones_are_at_risk_at_each_end_up_to_their_age_whenever_asked() -> None:
    # GIVEN runs that ended at 1, 2 and 3 minutes (twice at 2) and two pods running
    ended = (120.0, 60.0, 180.0, 120.0)
    going = {"ml/a": (T - 120, T), "ml/b": (T - 150, T)}
    estimate = survival(Runs(going, ended), NOW)
    # THEN at 1 min all 6 are at risk, at 2 min 5 (a pod aged exactly 2 min among them),
    # at 3 min 1 (both pods are younger)
    assert estimate.times == (60.0, 120.0, 180.0)
    assert estimate.surviving == (5 / 6, 5 / 6 * (1 - 2 / 5), 0.0)
    # AND the same record asked a minute later counts the pods at their new ages
    later = survival(Runs(going, ended), NOW + timedelta(minutes=1))
    assert later.surviving == (5 / 6, 5 / 6 * (1 - 2 / 5), 5 / 6 * (1 - 2 / 5) * (1 - 1 / 3))
    assert later.lengths == (60.0, 120.0, 120.0, 180.0, 180.0, 210.0)


@given(st.lists(st.floats(min_value=1, max_value=1e5), min_size=1, max_size=60),
       st.lists(st.floats(min_value=0, max_value=1e5), max_size=30),
       st.floats(min_value=0, max_value=1e5), st.floats(min_value=0, max_value=1e4))
def test_chances_are_probabilities_and_grow_with_the_window(
    ended: list[float], ages: list[float], age: float, within: float
) -> None:
    going = {f"p{i}": (T - a, T) for i, a in enumerate(ages)}
    estimate = survival(Runs(going, tuple(ended)), NOW)
    shares = [estimate.share_beyond(t) for t in sorted([*ended, age])]
    assert all(0.0 <= s <= 1.0 for s in shares)
    assert shares == sorted(shares, reverse=True)  # never rises
    near, far = estimate.ends_within(age, within), estimate.ends_within(age, within * 2)
    if near is not None and far is not None:
        assert 0.0 <= near <= far <= 1.0


def test_a_new_run_outlasts_the_longest_remaining_one_as_the_distribution_says() -> None:
    # GIVEN runs of 1..100 minutes, all ended: a new run lasts 50.5 min on average
    estimate = survival(Runs({}, tuple(60.0 * k for k in range(1, 101))), NOW)
    alone = estimate.outlasting([])
    assert alone is not None and abs(alone[0] - alone[1]) < 1e-6
    assert abs(alone[1] - 50.5 * 60) < 1e-6
    # WHEN beside one run of 50 minutes (the rest uniform on 0..50 min):
    # E[max(0, R - L)] = E[(100 - L)^2] / 200 min = 29.2 min
    beside = estimate.outlasting([50 * 60.0])
    assert beside is not None and abs(beside[0] / 60 - 29.17) < 0.01 * 29.17
    # AND beside one fresh run, E|R - L| / 2: (100^2 - 1) / 300 / 2 min = 16.7 min
    fresh = estimate.outlasting([0.0])
    assert fresh is not None and abs(fresh[0] / 60 - 16.67) < 0.01 * 16.67
    # AND beside eight fresh runs it rarely outlasts all of them
    crowd = estimate.outlasting([0.0] * 8)
    assert crowd is not None and crowd[0] < beside[0] / 5
    # AND beside a run older than all but a few on record, not at all, as far as it knows
    assert estimate.outlasting([60.0 * (100 - MIN_AT_RISK + 2)]) == (0.0, alone[1])


def test_nothing_is_said_of_outlasting_before_enough_runs_are_known() -> None:
    assert survival(Runs({}, (60.0,) * (MIN_AT_RISK - 1)), NOW).outlasting([0.0]) is None
    going = {f"p{i}": (T - 60, T) for i in range(MIN_AT_RISK)}
    assert survival(Runs(going, ()), NOW).outlasting([0.0]) is None  # none ended yet


def test_the_record_round_trips_and_garbage_reads_as_empty() -> None:
    runs = Runs({"ml/a": (T - 100, T)}, (60.0, 3600.0))
    assert runtimes.from_data(runtimes.to_data(runs)) == runs
    for bad in (None, "", "{", "[]", '{"running": {"a": [1]}}', '{"ended": "x"}'):
        assert runtimes.from_data(bad) == Runs()
