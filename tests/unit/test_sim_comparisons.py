"""The simulator's comparisons: each comparator's settings, paired luck, the lower bound."""

from __future__ import annotations

from pathlib import Path

import pytest
from simcli import SEED, simulate_cli

from burst.core.catalog import F2_BOARD, default_catalog
from burst.core.errors import ConfigError
from burst.core.model import Catalog, Node, NodeGroup, Policy
from burst.tools.scenario import load as load_scenario
from burst.tools.sim import timing
from burst.tools.sim.compare import lower_bound
from burst.tools.sim.engine import PolicyResult, simulate
from burst.tools.sim.run import DEFAULT_COMPARE, parse_run
from burst.tools.sim.site import Site
from burst.tools.sim.trace import Job
from burst.tools.sim.world import Timings, World

XGB4 = {"com.inaccel.xgboost.exact": 4}
SELECTOR = {"inaccel/fpga": "enabled"}


def _seed_site() -> tuple[Site, Policy]:
    scenario = load_scenario(SEED)
    snap = scenario.snapshot
    onprem = tuple(n for n in snap.nodes if n.node_group is None)
    return Site(snap.node_groups, onprem, snap.catalog), scenario.policy


def _run(spec: str, jobs: tuple[Job, ...], plugin: float = 60.0) -> PolicyResult:
    site, base = _seed_site()
    policy, factory = parse_run(spec, base)
    timings = Timings(boot=timing.constant(240.0), device_plugin=timing.constant(plugin))
    return simulate(spec, site, policy, jobs, timings, controller=factory)


def _jobs(count: int, duration: float = 1800.0, at: float = 0.0) -> tuple[Job, ...]:
    return tuple(
        Job(f"ml/j{i}", at, duration, accelerators=XGB4, node_selector=SELECTOR)
        for i in range(count)
    )


# -- comparators ----------------------------------------------------------------------------


def test_ca_with_a_startup_taint_counts_nodes_awaiting_boards_as_upcoming() -> None:
    # GIVEN boards advertised ten minutes after the node joins
    late = 600.0
    # WHEN CA-like runs at its defaults, and with the startup-taint setup
    plain = _run("controller=ca", _jobs(2), plugin=late)
    tainted = _run("controller=ca,startup-taint=yes", _jobs(2), plugin=late)
    # THEN only the default double-scales; the startup-taint one asks once and pays less
    assert plain.scale_ups >= 2
    assert tainted.scale_ups == 1
    assert tainted.bill.launches < plain.bill.launches
    assert tainted.cost < plain.cost
    assert len(tainted.waits) == 2


def test_karpenter_ends_a_batch_one_second_after_the_last_new_pod() -> None:
    # GIVEN two pods created 2 s after a scan (one fits on-prem), boot 240 s, plugin 60 s
    outcome = _run("controller=karpenter", _jobs(2, at=2.0))
    # THEN the other's node was launched 1 s later (the batch's idle end), not at the next
    # 10-s scan
    assert sorted(outcome.waits) == [0.0, pytest.approx(1.0 + 240.0 + 60.0)]


def test_karpenter_batch_settings_are_its_own() -> None:
    # A longer idle end (5 s, before the next 10-s scan) makes the pod wait for it
    outcome = _run("controller=karpenter,batch-idle=5s", _jobs(2, at=2.0))
    assert sorted(outcome.waits) == [0.0, pytest.approx(5.0 + 240.0 + 60.0)]
    with pytest.raises(ConfigError, match="startup-taint is a setting of controller=ca"):
        parse_run("controller=karpenter,startup-taint=yes", Policy())
    with pytest.raises(ConfigError, match="batch-idle is a setting of controller=karpenter"):
        parse_run("batch-idle=1s", Policy())


def test_every_fixed_timer_runs_with_and_without_the_delay_after_add() -> None:
    for minutes in (1, 2, 5, 10, 30):
        assert f"unneeded={minutes}m,delay=10m" in DEFAULT_COMPARE
        assert f"unneeded={minutes}m,delay=0" in DEFAULT_COMPARE
    # AND without the delay a short job's instance goes a minute after it ends, not ten
    # minutes after the scale-up (give-back off: here the instance would be given back
    # while it boots, before either timer counts)
    with_delay = _run("unneeded=1m,delay=10m,give-back=off", _jobs(2, duration=120.0))
    without = _run("unneeded=1m,delay=0,give-back=off", _jobs(2, duration=120.0))
    assert without.cost < with_delay.cost
    assert without.bill.waiting < with_delay.bill.waiting


# -- paired luck ----------------------------------------------------------------------------


def test_the_same_launch_draws_the_same_boot_whatever_came_before() -> None:
    site, _ = _seed_site()
    boot = timing.parse("lognormal:240,0.5", "--boot")
    groups = [g.name for g in site.groups][:2]
    assert len(groups) == 2

    def boots(order: list[str]) -> dict[tuple[str, int], float]:
        world = World(site, Timings(boot=boot), seed=7)
        for name in order:
            world.raise_desired(name, world.groups[name].desired + 1)
        launched = {i.instance_id: (i.group, i.ordinal) for i in world.instances.values()}
        return {launched[iid]: when for when, what, iid in world.timers if what == "register"}

    # GIVEN two policies that launch in different orders, one launching once more
    first = boots([groups[0], groups[1], groups[0]])
    second = boots([groups[1], groups[1], groups[0]])
    # THEN the same group's same launch booted alike, and different launches did not
    assert first[(groups[1], 1)] == second[(groups[1], 1)]
    assert first[(groups[0], 1)] == second[(groups[0], 1)]
    assert first[(groups[0], 1)] != first[(groups[0], 2)]
    # AND another seed is other luck
    other = World(site, Timings(boot=boot), seed=8)
    other.raise_desired(groups[0], 1)
    assert other.timers[0][0] != first[(groups[0], 1)]


def test_a_true_boot_scaled_keeps_its_shape() -> None:
    assert timing.parse("240", "x").scaled(1.3).a == pytest.approx(312.0)
    assert timing.parse("uniform:30,90", "x").scaled(0.5) == timing.Distribution(
        "uniform", 15.0, 45.0)
    assert timing.parse("lognormal:240,0.25", "x").scaled(0.7) == timing.Distribution(
        "lognormal", 168.0, 0.25)


# -- lower bound ----------------------------------------------------------------------------


def test_lower_bound_is_demand_above_onprem_at_the_cheapest_board_hour() -> None:
    catalog = Catalog(accelerators={"gpu": {"xilinx/u250": 1, F2_BOARD: 1}},
                      instance_types=default_catalog().instance_types)
    groups = (NodeGroup("small", "f2.6xlarge", 0, 5, 0), NodeGroup("big", "f2.48xlarge", 0, 5, 0))
    site = Site(groups, (Node("onprem", allocatable={"xilinx/u250": 2}),), catalog)
    jobs = [
        Job("a/three", 0.0, 3600.0, accelerators={"gpu": 3}),  # 3 boards for an hour
        Job("a/one", 1800.0, 3600.0, accelerators={"gpu": 1}),  # 1 more from 0.5 h to 1.5 h
        Job("a/none", 0.0, 3600.0, accelerators={"unknown": 1}),  # nothing can run it
    ]
    bound = lower_bound(jobs, site)
    # 0-0.5 h: 3 asked, 2 on-prem -> 1 above; 0.5-1 h: 4 -> 2; 1-1.5 h: 1 -> 0
    assert bound.board_hours == pytest.approx(0.5 * 1 + 0.5 * 2)
    per_board = {
        t: catalog.instance_types[t].price_per_hour / sum(catalog.instance_types[t].boards.values())
        for t in ("f2.6xlarge", "f2.48xlarge")
    }
    assert bound.per_board_hour == pytest.approx(min(per_board.values()))
    assert bound.cost == pytest.approx(1.5 * min(per_board.values()))


def test_cli_prints_the_bound_and_the_default_against_the_cheapest_comparator(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    trace = tmp_path / "jobs.csv"
    trace.write_text(
        "submit_s,name,duration_s,demand,node_selector\n"
        "0,ml/a,600,com.inaccel.xgboost.exact=4,inaccel/fpga=enabled\n"
        "0,ml/b,600,com.inaccel.xgboost.exact=4,inaccel/fpga=enabled\n"
    )
    assert simulate_cli(trace, "--compare") == 0
    out = capsys.readouterr().out
    assert "cost ÷ lower bound" in out and "lower bound: " in out
    assert "base ÷ cheapest comparator (" in out
    assert "controller=ca,startup-taint=yes" in out
