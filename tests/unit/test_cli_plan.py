"""`burst plan`: the report on stdout, and clear errors for malformed scenarios."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from burst.tools.cli import main

ROOT = Path(__file__).parents[2]
SEED = ROOT / "examples" / "seed-evaluation.yaml"


def test_plan_json_for_the_seed_scenario(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", "--scenario", str(SEED), "--output", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["scale_up"] == [{"node_group": "f1-4xlarge", "from": 0, "to": 1}]
    assert [p["outcome"] for p in report["pods"]] == ["fits-existing", "scale-up"]


def test_plan_table_is_readable(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", "--scenario", str(SEED)]) == 0
    out = capsys.readouterr().out
    assert "default/xgboost-job-2  scale-up       f1-4xlarge  2 x xilinx/aws-vu9p-f1" in out
    assert "f1-4xlarge: 0 -> 1" in out and "$3.30" in out


GOOD_POD = "pods:\n  - name: ml/a\n    requests: {xilinx/u250: 1}\n"
GROUP = "node_groups:\n  - {name: g, instance_type: f1.4xlarge, max_size: 2}\n"


@pytest.mark.parametrize(
    ("text", "field", "problem"),
    [
        pytest.param("pods: [", "line 1, column 8", "not valid YAML", id="bad-yaml"),
        pytest.param("- 1\n", "(top level)", "must be a mapping", id="not-a-mapping"),
        pytest.param("podz: []\n", "podz", "unknown key; did you mean `pods`?",
                     id="unknown-top-field"),
        pytest.param(
            "pods:\n  - name: nonamespace\n", "pods[0].name", "namespace/name", id="pod-name"
        ),
        pytest.param(
            "pods:\n  - name: ml/a\n    requests: {xilinx/u250: two}\n",
            "pods[0].requests.xilinx/u250",
            "whole number",
            id="request-not-int",
        ),
        pytest.param(
            "pods:\n  - name: ml/a\n    node: ghost\n",
            "pods[0].node",
            "names no node",
            id="dangling-node",
        ),
        pytest.param(
            "pods:\n  - name: ml/a\n    accelerators: {nope: 1}\n",
            "pods[0].accelerators.nope",
            "not in catalog",
            id="unknown-accelerator",
        ),
        pytest.param(
            "node_groups:\n  - {name: g, instance_type: f9.big, max_size: 1}\n",
            "node_groups[0].instance_type",
            "unknown 'f9.big'",
            id="unknown-instance-type",
        ),
        pytest.param(
            "node_groups:\n  - {name: g, instance_type: f1.4xlarge, max_size: 1, desired: 3}\n",
            "node_groups[0].desired",
            "outside min_size..max_size",
            id="desired-above-max",
        ),
        pytest.param(
            "node_groups:\n  - {name: g, instance_type: f1.4xlarge}\n",
            "node_groups[0].max_size",
            "is required",
            id="missing-max",
        ),
        pytest.param(
            GROUP + "  - {name: g, instance_type: f1.2xlarge, max_size: 1}\n",
            "node_groups[1].name",
            "duplicate",
            id="duplicate-group",
        ),
        pytest.param(
            GROUP + "nodes:\n  - {name: n, node_group: h}\n",
            "nodes[0].node_group",
            "names no node group",
            id="dangling-group",
        ),
        pytest.param(
            GROUP + "nodes:\n  - {name: n, taints: [{key: k, effect: Never}]}\n",
            "nodes[0].taints[0].effect",
            "must be one of",
            id="bad-taint-effect",
        ),
        pytest.param(
            GOOD_POD + "policy: {max_boards: -1}\n",
            "policy.max_boards",
            "must be >= 1",
            id="negative-cap",
        ),
        pytest.param(
            GOOD_POD + "policy: {expanders: [cheapest]}\n",
            "policy.expanders",
            "unknown expander 'cheapest'",
            id="unknown-expander",
        ),
        pytest.param(
            "instance_types:\n  f9.big: {boards: {x/y: 1}}\n",
            "instance_types.f9.big",
            "needs boards and price_per_hour",
            id="incomplete-instance-type",
        ),
    ],
)
def test_malformed_scenario_names_file_field_and_problem_without_traceback(
    tmp_path: Path, text: str, field: str, problem: str
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    proc = subprocess.run(
        [sys.executable, "-m", "burst.tools.cli", "plan", "--scenario", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr.startswith(f"burst: error: {path}: {field}: ")
    assert problem in proc.stderr
    assert "Traceback" not in proc.stderr


def test_missing_scenario_file_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["plan", "--scenario", str(tmp_path / "nope.yaml")]) == 2
    assert f"{tmp_path / 'nope.yaml'}: cannot read" in capsys.readouterr().err
