"""The simulator's money, timings, baselines and trace formats (synthetic rows only)."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from simcli import SEED, simulate_cli

from burst.core.errors import ConfigError
from burst.tools.cli import main
from burst.tools.scenario import load as load_scenario
from burst.tools.sim import alibaba, generate, timing
from burst.tools.sim.baselines import baseline
from burst.tools.sim.billing import Account, Ledger
from burst.tools.sim.engine import PolicyResult, simulate
from burst.tools.sim.run import DEFAULT_COMPARE
from burst.tools.sim.site import Site
from burst.tools.sim.trace import Job
from burst.tools.sim.world import Timings

ROOT = Path(__file__).parents[2]
XGB4 = {"com.inaccel.xgboost.exact": 4}
SELECTOR = {"inaccel/fpga": "enabled"}
HEADER = (
    "name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,qos,pod_phase,"
    "creation_time,deletion_time,scheduled_time\n"
)


# -- billing ------------------------------------------------------------------------------


def test_a_launch_is_billed_from_running_with_a_60_second_minimum() -> None:
    short = Account(boards=2, price_per_hour=3.6, running_at=10.0)
    short.end(40.0)  # 30 s of running
    never = Account(boards=2, price_per_hour=3.6, running_at=10.0)
    never.end(5.0)  # terminated while pending
    ledger = Ledger({"a": short, "b": never})
    bill = ledger.bill(100.0)
    assert bill.cost == pytest.approx(3.6 * 60 / 3600)
    assert bill.paid == pytest.approx(2 * 60 / 3600)
    assert bill.minimum == pytest.approx(2 * 30 / 3600)
    # AND the one that never ran is not counted as an instance paid; no pod ran on the other
    assert (bill.launches, bill.unused) == (1, 1)


def test_paid_board_hours_split_into_used_booting_waiting_and_stranded() -> None:
    account = Account(boards=2, price_per_hour=1.0, running_at=0.0)
    account.advertise(100.0)  # booting: 2 boards x 100 s
    account.change(200.0, 1)  # 100 s empty (waiting for scale-down)
    account.change(500.0, 1)  # 300 s with one of two boards busy (one stranded)
    account.change(600.0, -2)  # 100 s full
    account.end(700.0)  # 100 s empty again
    bill = Ledger({"i": account}).bill(700.0)
    hours = 1 / 3600
    assert bill.booting == pytest.approx(200 * hours)
    assert bill.waiting == pytest.approx(400 * hours)
    assert bill.stranded == pytest.approx(300 * hours)
    assert bill.used == pytest.approx(500 * hours)
    parts = bill.used + bill.booting + bill.waiting + bill.stranded + bill.minimum
    assert bill.paid == pytest.approx(parts) == pytest.approx(1400 * hours)
    assert (bill.launches, bill.unused) == (1, 0)


def test_a_spot_instance_ec2_interrupts_in_its_first_hour_is_not_charged_later_ones_are() -> None:
    early = Account(boards=1, price_per_hour=0.66, running_at=0.0)
    early.interrupt(3599.0)
    late = Account(boards=1, price_per_hour=0.66, running_at=0.0)
    late.interrupt(5400.0)
    bill = Ledger({"early": early, "late": late}).bill(6000.0)
    assert bill.cost == pytest.approx(0.66 * 1.5)  # the late one's 90 minutes only
    assert bill.paid == pytest.approx(1.5)


def test_an_interruption_evicts_the_pods_which_start_over_and_every_job_still_ends() -> None:
    """One 30-minute job; instances interrupted about every 20 minutes: it keeps losing its
    work until an instance lives long enough, and the lost work is counted."""
    scenario = load_scenario(SEED)
    snap = scenario.snapshot
    jobs = tuple(
        Job(f"ml/xgb-{i}", 0.0, 1800.0, accelerators=XGB4, node_selector=SELECTOR)
        for i in (1, 2)
    )
    onprem = tuple(n for n in snap.nodes if n.node_group is None)

    def run(rate: float) -> PolicyResult:
        rates = {g.name: rate for g in snap.node_groups} if rate else {}
        site = Site(snap.node_groups, onprem, snap.catalog)
        return simulate("spot", site, scenario.policy, jobs,
                        Timings(interruption_rate=rates), seed=3)

    calm, stormy = run(0.0), run(3.0)
    assert calm.interruptions == calm.restarts == 0 and calm.lost == 0.0
    assert stormy.interruptions > 0 and stormy.restarts > 0 and stormy.lost > 0.0
    assert len(stormy.waits) == 2 and stormy.unfinished == 0  # every job ran to its end
    # the burst job waited for its lost runs too; the on-prem one was never interrupted
    assert max(stormy.waits) > max(calm.waits) and min(stormy.waits) == min(calm.waits) == 0.0


# -- timings ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "low", "high"),
    [("240", 240, 240), ("uniform:180,300", 180, 300), ("lognormal:240,0.25", 60, 1000)],
)
def test_distributions_draw_within_their_range_and_repeat_with_the_seed(
    text: str, low: float, high: float
) -> None:
    dist = timing.parse(text, "--boot")
    first = [dist.draw(random.Random(7)) for _ in range(50)]
    assert first == [dist.draw(random.Random(7)) for _ in range(50)]
    assert all(low <= x <= high for x in first)


@pytest.mark.parametrize("text", ["soon", "normal:1,2", "uniform:300,180", "lognormal:0,1", "-5"])
def test_a_bad_distribution_is_a_config_error_naming_the_flag(text: str) -> None:
    with pytest.raises(ConfigError) as caught:
        timing.parse(text, "--boot")
    assert caught.value.source == "--boot"


# -- controllers ---------------------------------------------------------------------------


def _run(kind: str, jobs: tuple[Job, ...], plugin: float = 60.0) -> PolicyResult:
    scenario = load_scenario(SEED)
    snap = scenario.snapshot
    onprem = tuple(n for n in snap.nodes if n.node_group is None)
    factory = {"ca": baseline("ca"), "karpenter": baseline("karpenter")}
    timings = Timings(device_plugin=timing.constant(plugin))
    args = (kind, Site(snap.node_groups, onprem, snap.catalog), scenario.policy, jobs, timings)
    if kind == "fpga-burst":
        return simulate(*args)
    return simulate(*args, controller=factory[kind])


def _jobs(count: int, duration: float = 1800.0) -> tuple[Job, ...]:
    return tuple(
        Job(f"ml/j{i}", 0.0, duration, accelerators=XGB4, node_selector=SELECTOR)
        for i in range(count)
    )


@pytest.mark.parametrize("kind", ["fpga-burst", "ca", "karpenter"])
def test_every_controller_runs_every_job_and_pays_for_what_it_used(kind: str) -> None:
    outcome = _run(kind, _jobs(3))
    assert len(outcome.waits) == 3 and outcome.unfinished == 0
    bill = outcome.bill
    assert bill.used == pytest.approx(2 * 2 * 0.5)  # two jobs on 2 VU9P boards, 30 min
    parts = bill.used + bill.booting + bill.waiting + bill.stranded + bill.minimum
    assert bill.paid == pytest.approx(parts)
    assert outcome.samples[-1].price_per_hour == 0.0  # everything went away


def test_ca_scales_up_again_while_boards_are_late_and_fpga_burst_and_karpenter_do_not() -> None:
    late = 600.0  # the device plugin advertises boards ten minutes after the node joins
    ca = _run("ca", _jobs(2), plugin=late)
    assert ca.scale_ups >= 2  # the registered node without boards counted as a node with none
    assert _run("karpenter", _jobs(2), plugin=late).scale_ups == 1
    assert _run("fpga-burst", _jobs(2), plugin=late).scale_ups == 1
    assert ca.cost > _run("fpga-burst", _jobs(2), plugin=late).cost


def test_karpenter_consolidates_an_empty_node_sooner_than_ca_removes_it() -> None:
    ca, karpenter = _run("ca", _jobs(2)), _run("karpenter", _jobs(2))
    assert karpenter.bill.waiting < ca.bill.waiting
    assert ca.bill.waiting >= 2 * 10 / 60 * 0.99  # 2 boards, at least CA's 10 idle minutes


# -- Alibaba trace ------------------------------------------------------------------------


def _alibaba(tmp_path: Path, rows: str) -> Path:
    path = tmp_path / "openb_pod_list_test.csv"
    path.write_text(HEADER + rows)
    return path


ROWS = (
    "p-cpu,4000,8192,0,0,,BE,Succeeded,0,100,0\n"  # no GPU: skipped
    "p-share,4000,8192,1,460,,LS,Running,10,1010,20\n"  # a shared GPU: one whole board
    "p-multi,8000,8192,4,1000,V100M32|T4,BE,Succeeded,30,630,\n"  # never scheduled: skipped
    "p-eight,8000,8192,8,1000,T4,BE,Succeeded,40,4040,40\n"
    "p-alive,8000,8192,2,1000,,LS,Running,50,,50\n"  # still running: skipped
)


def test_alibaba_rows_become_board_requests_with_the_rules_stated(tmp_path: Path) -> None:
    options = alibaba.Import({"": "xilinx/u250", "T4": "xilinx/aws-vu9p-f1"})
    imported = alibaba.load(_alibaba(tmp_path, ROWS), options)
    jobs = {j.name: j for j in imported.jobs}
    assert set(jobs) == {"alibaba/p-share", "alibaba/p-eight"}
    assert jobs["alibaba/p-share"].requests == {"xilinx/u250": 1}
    assert jobs["alibaba/p-share"].duration == 990.0  # deletion - scheduled
    assert jobs["alibaba/p-eight"].requests == {"xilinx/aws-vu9p-f1": 8}  # by GPU model
    assert imported.skipped == {
        "num_gpu 0": 1,
        "never scheduled": 1,
        "no deletion_time (still running)": 1,
    }


def test_an_accelerator_mapping_gives_replicas_and_the_busiest_window_shifts_to_zero(
    tmp_path: Path,
) -> None:
    rows = "".join(
        f"p{i},1,1,1,1000,,BE,Succeeded,{t},{t + d},{t}\n"
        for i, (t, d) in enumerate([(0, 10), (100000, 5000), (100500, 5000), (200000, 10)])
    )
    options = alibaba.Import({"": "com.inaccel.xgboost.exact"}, window="busiest:1h")
    jobs = alibaba.load(_alibaba(tmp_path, rows), options).jobs
    assert [j.submit for j in jobs] == [0.0, 500.0]
    assert jobs[0].accelerators == {"com.inaccel.xgboost.exact": 1}


@pytest.mark.parametrize(
    ("row", "where"),
    [
        ("p,1,1,two,1000,,BE,Succeeded,0,10,0\n", "row 2: column num_gpu: 'two' is not a number"),
        ("p,1,1,1,1000,T4,BE,Succeeded,0,-3,0\n", "row 2: column deletion_time: must not be"),
        ("p,1,1,1,1000,A100,BE,Succeeded,0,10,0\n", "row 2: column gpu_spec: GPU model 'A100'"),
        ("p,1,1,1\n", "row 2: column gpu_milli: is missing"),
    ],
)
def test_a_malformed_alibaba_row_fails_with_one_line_and_nothing_simulated(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], row: str, where: str
) -> None:
    path = _alibaba(tmp_path, row)
    assert simulate_cli(path, "--gpu-as", "T4=xilinx/u250") == 2
    captured = capsys.readouterr()
    assert captured.err == f"burst: error: {path}: {where}" + captured.err.split(where)[1]
    assert captured.err.count("\n") == 1 and captured.out == ""


def test_a_gpu_mapped_to_an_accelerator_the_catalog_does_not_know_is_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _alibaba(tmp_path, ROWS)
    assert simulate_cli(path, "--gpu-as", "com.x.nope") == 2
    assert "accelerator 'com.x.nope' is not in the scenario's catalog" in capsys.readouterr().err


# -- synthetic traces and the command ------------------------------------------------------


@pytest.mark.parametrize("kind", generate.KINDS)
def test_generated_traces_repeat_with_the_seed(kind: str) -> None:
    def make(seed: int) -> tuple[Job, ...]:
        return tuple(generate.generate(kind, 500, seed, [XGB4], SELECTOR))

    assert make(3) == make(3) != make(4)
    assert all(0 <= j.submit <= 86400 and j.duration > 0 for j in make(3))


def test_bursty_sends_hundreds_at_once_and_longtail_has_a_long_tail() -> None:
    bursty = generate.generate("bursty", 1000, 1, [XGB4], SELECTOR)
    at_once = max(sum(j.submit == t for j in bursty) for t in {j.submit for j in bursty})
    assert at_once >= 100
    tail = sorted(j.duration for j in generate.generate("longtail", 1000, 1, [XGB4], SELECTOR))
    assert tail[-10] > 10 * tail[len(tail) // 2]  # the top 1% run 10x the median


def test_compare_runs_fpga_burst_beside_both_baselines_and_prints_its_assumptions(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    trace = tmp_path / "diurnal.csv"
    code = main(
        [
            "trace",
            "generate",
            "--kind",
            "diurnal",
            "--jobs",
            "40",
            "--hours",
            "4",
            "--out",
            str(trace),
            "--demand",
            "com.inaccel.xgboost.exact=4",
            "--selector",
            "inaccel/fpga=enabled",
        ]
    )
    assert code == 0
    code = simulate_cli(trace, "--compare", "--boot", "lognormal:240,0.25",
                        "--device-plugin", "uniform:30,90")
    out = capsys.readouterr().out
    assert code == 0
    header = out.splitlines()[0].split()
    assert header == ["policy", *DEFAULT_COMPARE]
    for fact in (
        "idle: booting",
        "idle: waiting scale-down",
        "idle: stranded",
        "lognormal, median 240 s",
        "uniform 30-90 s",
        "60 s minimum",
        "ca: scan 10 s",
        "karpenter: batch ends 1 s after the last new pod",
        "jobs simulated: 40",
    ):
        assert fact in out
