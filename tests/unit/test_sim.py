"""The simulator: traces, policies, and the seed story on virtual time."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from simcli import SEED, simulate_cli

from burst.core.errors import ConfigError
from burst.core.model import Policy, ScaleDown
from burst.tools.scenario import load as load_scenario
from burst.tools.sim.engine import PolicyResult, simulate
from burst.tools.sim.run import parse_run, policy_from_spec
from burst.tools.sim.site import Site
from burst.tools.sim.timing import constant
from burst.tools.sim.trace import Job, load
from burst.tools.sim.world import Timings

XGB4 = {"com.inaccel.xgboost.exact": 4}
SELECTOR = {"inaccel/fpga": "enabled"}


def seed_jobs(duration: float = 1800.0) -> tuple[Job, ...]:
    return tuple(
        Job(f"ml/xgb-{i}", 0.0, duration, accelerators=XGB4, node_selector=SELECTOR) for i in (1, 2)
    )


def run_seed(policy: Policy | None = None, **timings: Any) -> PolicyResult:
    """The seed scenario's two jobs; billing from launch (pending 0) unless told."""
    timings.setdefault("pending_s", 0.0)
    scenario = load_scenario(SEED)
    snap = scenario.snapshot
    onprem = tuple(n for n in snap.nodes if n.node_group is None)
    return simulate(
        "seed",
        Site(snap.node_groups, onprem, snap.catalog),
        policy or scenario.policy,
        seed_jobs(),
        Timings(**timings),
    )


def test_seed_story_one_job_on_the_u250_the_other_on_one_new_f1_4xlarge_then_it_goes() -> None:
    outcome = run_seed(boot=constant(240.0), device_plugin=constant(60.0))
    assert len(outcome.waits) == 2 and outcome.unfinished == 0
    waits = sorted(outcome.waits)
    assert waits[0] == 0.0  # the idle U250 takes one job at once
    # the other waits for the instance to boot and its device plugin, and not much more
    assert 300.0 <= waits[1] <= 300.0 + 2 * 60.0
    assert outcome.scale_ups == 1  # 0 -> 1, never again while boards were late
    assert outcome.fpga_hours_used == pytest.approx(2 * 0.5)  # 2 VU9P boards, 30 minutes
    assert outcome.samples[-1].nodes.get("f1-4xlarge", 0) == 0  # removed when idle
    assert outcome.samples[-1].price_per_hour == 0.0
    hours_paid = outcome.fpga_hours_paid / 2
    assert outcome.cost == pytest.approx(3.30 * hours_paid)


@pytest.mark.parametrize(("submit", "mode", "wait"), [
    (5.0, "watch", 301.0),  # the watch acts 1 s after the pod settles
    (5.0, "poll", 355.0),  # the next tick, at 60 s
    (55.0, "watch", 305.0),  # the last 8 s before a tick: the watch has ended, the tick acts
    (125.0, "watch", 301.0),
])
def test_watch_mode_scales_up_within_a_second_of_a_new_pod_except_just_before_a_tick(
    submit: float, mode: str, wait: float
) -> None:
    scenario = load_scenario(SEED)
    snap = scenario.snapshot
    onprem = tuple(n for n in snap.nodes if n.node_group is None)
    # the U250 runs the first job for an hour: the second needs an instance
    jobs = (Job("ml/first", 0.0, 3600.0, accelerators=XGB4, node_selector=SELECTOR),
            Job("ml/second", submit, 600.0, accelerators=XGB4, node_selector=SELECTOR))
    _, factory = parse_run("base", scenario.policy, mode)
    site = Site(snap.node_groups, onprem, snap.catalog)
    outcome = simulate("seed", site, scenario.policy, jobs,
                       Timings(boot=constant(240.0), device_plugin=constant(60.0)),
                       controller=factory)
    assert sorted(outcome.waits) == pytest.approx([0.0, wait])


def test_a_shorter_unneeded_time_pays_for_fewer_idle_board_hours() -> None:
    scenario = load_scenario(SEED)
    fixed = replace(scenario.policy, scale_down=ScaleDown.FIXED)
    quick = run_seed(replace(fixed, scale_down_unneeded_time=timedelta(minutes=2)))
    slow = run_seed(replace(fixed, scale_down_unneeded_time=timedelta(minutes=30)))
    assert quick.fpga_hours_used == slow.fpga_hours_used
    assert quick.fpga_hours_paid < slow.fpga_hours_paid
    assert quick.cost < slow.cost


def test_launch_failures_back_the_group_off_and_another_group_takes_the_pod(tmp_path: Path) -> None:
    scenario = load_scenario(SEED)
    snap = scenario.snapshot
    big = replace(snap.node_groups[1], name="f1-16xlarge", instance_type="f1.16xlarge")
    groups = (*snap.node_groups, big)
    onprem = tuple(n for n in snap.nodes if n.node_group is None)
    outcome = simulate(
        "failing",
        Site(groups, onprem, snap.catalog),
        scenario.policy,
        seed_jobs(),
        Timings(failure_rate={"f1-4xlarge": 1.0}),
    )
    assert outcome.failed_launches >= 1
    assert outcome.unfinished == 0 and len(outcome.waits) == 2


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "trace.csv"
    path.write_text(text)
    return path


def test_trace_is_read_sorted_with_boards_and_accelerators(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "submit_s,name,duration_s,demand,node_selector\n"
        "60,ml/b,30,xilinx/u250=1,zone=a\n"
        "0,ml/a,90,com.inaccel.xgboost.exact=4;other=1,\n",
    )
    jobs = load(path)
    assert [j.name for j in jobs] == ["ml/a", "ml/b"]
    assert jobs[0].accelerators == {"com.inaccel.xgboost.exact": 4, "other": 1}
    assert jobs[1].requests == {"xilinx/u250": 1} and jobs[1].node_selector == {"zone": "a"}


@pytest.mark.parametrize(
    ("text", "field", "problem"),
    [
        pytest.param("submit_s,name\n1,ml/a\n", "row 1", "columns must be", id="columns"),
        pytest.param(
            "submit_s,name,duration_s,demand\nsoon,ml/a,1,x=1\n",
            "row 2: column submit_s",
            "not a number",
            id="submit",
        ),
        pytest.param(
            "submit_s,name,duration_s,demand\n1,a,1,x=1\n",
            "row 2: column name",
            "namespace/name",
            id="name",
        ),
        pytest.param(
            "submit_s,name,duration_s,demand\n1,ml/a,1,x\n",
            "row 2: column demand",
            "not key=value",
            id="demand",
        ),
        pytest.param(
            "submit_s,name,duration_s,demand\n1,ml/a,1,x=0\n",
            "row 2: column demand",
            "at least 1",
            id="zero",
        ),
        pytest.param(
            "submit_s,name,duration_s,demand\n1,ml/a,1,x=1\n2,ml/a,1,x=1\n",
            "row 3: column name",
            "duplicate",
            id="duplicate",
        ),
        pytest.param("submit_s,name,duration_s,demand\n", "", "has no jobs", id="empty"),
    ],
)
def test_bad_trace_names_file_line_and_column(
    tmp_path: Path, text: str, field: str, problem: str
) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load(path)
    assert caught.value.source == str(path)
    assert caught.value.field == field
    assert problem in caught.value.problem


@pytest.mark.parametrize(
    ("spec", "check"),
    [
        ("unneeded=2m", lambda p: p.scale_down_unneeded_time == timedelta(minutes=2)),
        (
            "delay=90s,max_boards=8",
            lambda p: p.scale_down_delay_after_add.seconds == 90 and p.max_boards == 8,
        ),
        ("expanders=price+least-waste", lambda p: p.expanders == ("price", "least-waste")),
        ("defer=0", lambda p: p.defer_scale_up == timedelta(0)),
        ("defer=2m", lambda p: p.defer_scale_up == timedelta(minutes=2)),
    ],
)
def test_policy_specs(spec: str, check) -> None:  # type: ignore[no-untyped-def]
    assert check(policy_from_spec(spec, Policy()))


@pytest.mark.parametrize("spec", ["unneeded=soon", "colour=red", "expanders=cheapest", "x",
                                  "defer=-1"])
def test_bad_policy_spec_is_a_config_error(spec: str) -> None:
    with pytest.raises(ConfigError):
        policy_from_spec(spec, Policy())


def test_cli_compares_policies_side_by_side_and_writes_a_png(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    trace = _write(
        tmp_path,
        "submit_s,name,duration_s,demand,node_selector\n"
        "0,ml/a,600,com.inaccel.xgboost.exact=4,inaccel/fpga=enabled\n"
        "0,ml/b,600,com.inaccel.xgboost.exact=4,inaccel/fpga=enabled\n",
    )
    chart = tmp_path / "chart.png"
    code = simulate_cli(trace, "--policy", "unneeded=1m", "--policy", "unneeded=20m",
                        "--compare", "--chart", str(chart))
    out = capsys.readouterr().out
    assert code == 0
    assert "unneeded=1m" in out and "unneeded=20m" in out and "wait p95" in out
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cli_bad_trace_exits_2_with_the_file_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    trace = _write(tmp_path, "submit_s,name,duration_s,demand\n1,ml/a,x,y=1\n")
    assert simulate_cli(trace) == 2
    assert f"{trace}: row 2: column duration_s: " in capsys.readouterr().err
