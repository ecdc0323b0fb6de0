"""`burst demo --fast` end to end: the seed evaluation on a real control plane (its own,
started by the demo), moto and the three handlers, with the outcomes the README promises.

The demo starts and stops its own kube-apiserver, etcd and kube-scheduler: its on-prem node
and jobs must not show up in the other tests' cluster.
"""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from burst.loop.lifecycle import LAUNCH_HOOK, TERMINATE_HOOK
from burst.tools.cli import main
from burst.tools.demo import report, story

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def told(tmp_path_factory: pytest.TempPathFactory) -> tuple[story.Story, Path]:
    folder = tmp_path_factory.mktemp("report")
    result = story.run(folder, story.FAST)
    report.write(result, folder)
    return result, folder


def test_the_story_finishes_with_desired_capacity_back_at_zero(
    told: tuple[story.Story, Path],
) -> None:
    result, _ = told
    assert result.finished
    assert result.desired == {result.groups["f1-2xlarge"]: 0, result.groups["f1-4xlarge"]: 0}


def test_f1_4xlarge_goes_0_to_1_exactly_once_while_the_boards_are_late(
    told: tuple[story.Story, Path],
) -> None:
    result, _ = told
    big = result.groups["f1-4xlarge"]
    assert [(group, a, b) for _, group, a, b in result.calls.desired] == [(big, 0, 1)]
    raised = [up for _, function, summary in result.summaries if function == "scaler"
              for part in [summary.get("first", {}), *summary.get("watched", [])]
              for up in part.get("scaleUps", [])]
    assert raised == [{"nodeGroup": big, "from": 0, "to": 1}]
    # The planner saw the registered node without boards and counted it as on its way.
    assert any("fits-upcoming" in e.text for e in result.timeline.entries if e.kind == "scaler")


def test_job_1_runs_on_prem_and_job_2_on_the_burst_node(told: tuple[story.Story, Path]) -> None:
    result, _ = told
    assert result.ran_on["xgboost-job-1"] == story.ONPREM
    burst_node = result.ran_on["xgboost-job-2"]
    assert result.node_groups[burst_node] == result.groups["f1-4xlarge"]


def test_the_burst_node_is_drained_deleted_and_its_hooks_completed(
    told: tuple[story.Story, Path],
) -> None:
    result, _ = told
    (instance,) = result.fleet
    assert [i for _, i in result.calls.terminated] == [instance]
    # tainted and terminated by one reconcile, not one tick apart
    reconciles = [part for _, function, summary in result.summaries if function == "scaler"
                  for part in [summary.get("first", {}), *summary.get("watched", [])]]
    both = [r for r in reconciles
            if r.get("scaleDown", {}).get("tainted") and r.get("terminated") == [instance]]
    assert len(both) == 1
    assert not any(r.get("scaleDown", {}).get("tainted") for r in reconciles if r not in both)
    assert [(hook, i, r) for _, hook, i, r in result.calls.completed] == [
        (LAUNCH_HOOK, instance, "CONTINUE"), (TERMINATE_HOOK, instance, "CONTINUE")]
    assert result.fleet[instance].terminated is not None
    assert any(e.kind == "node" and e.text.endswith("left the cluster (Node deleted)")
               for e in result.timeline.entries)


def test_the_report_has_a_summary_and_a_png_chart(told: tuple[story.Story, Path]) -> None:
    _, folder = told
    assert "f1-4xlarge 0 -> 1" in (folder / "summary.md").read_text()
    data = (folder / "timeline.png").read_bytes()
    assert data[:8] == PNG_SIGNATURE
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    assert width > 0 and height > 0


def test_no_join_or_cluster_token_reaches_the_timeline_or_the_report(
    told: tuple[story.Story, Path],
) -> None:
    result, folder = told
    written = "\n".join(e.line() for e in result.timeline.entries)
    written += "".join((folder / name).read_text()
                       for name in ("summary.md", "invocations.json", "handlers.log"))
    assert "eyJ" not in written  # a ServiceAccount token (JWT) starts with it
    assert ".<secret>" in written  # the bootstrap token is shown by its public id only


def test_without_a_control_plane_the_same_story_runs_on_the_simulator(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("FPGA_BURST_CONTROLPLANE_BIN", str(tmp_path / "no-binaries"))
    assert main(["demo", "--fast", "--report", str(tmp_path / "report")]) == 0
    said = capsys.readouterr().out
    assert "the test control plane cannot run here" in said
    assert "on the simulator instead" in said
    summary = (tmp_path / "report" / "summary.md").read_text()
    assert "simulated" in summary
    assert "scale-ups" in summary
    assert (tmp_path / "report" / "timeline.png").read_bytes()[:8] == PNG_SIGNATURE
