"""cdk-nag (AwsSolutions), cfn-lint and `app.py` itself, as `cdk synth` runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from aws_cdk import App
from aws_cdk.assertions import Template
from cdk_nag import AwsSolutionsChecks

from stacks.stack import FpgaBurstStack

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def test_cdk_nag_aws_solutions_has_no_unacknowledged_finding(
    app_and_stack: tuple[App, FpgaBurstStack],
) -> None:
    app, _ = app_and_stack
    report = AwsSolutionsChecks(app).validate_scope(app)

    findings = [
        f"{v.rule_name}: {[r.construct_path for r in v.violating_resources]}"
        for v in report.violations
    ]
    assert report.success, "\n".join(findings)


def test_cfn_lint_reports_nothing(template: Template, tmp_path: Path) -> None:
    path = tmp_path / "FpgaBurst.template.json"
    path.write_text(json.dumps(template.to_json()))

    result = subprocess.run(
        [str(BIN / "cfn-lint"), "--format", "parseable", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )

    assert result.returncode == 0, result.stdout + result.stderr


def synth(tmp_path: Path, *context: str) -> subprocess.CompletedProcess[str]:
    """`app.py` as the CDK CLI runs it, with no AWS credentials or profile in reach."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AWS_", "CDK_"))
        and k not in ("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION",)
    }
    env.update(
        CDK_OUTDIR=str(tmp_path / "cdk.out"),
        AWS_EC2_METADATA_DISABLED="true",
        AWS_CONFIG_FILE="/dev/null",
        AWS_SHARED_CREDENTIALS_FILE="/dev/null",
    )
    if context:
        env["CDK_CONTEXT_JSON"] = json.dumps(dict(c.split("=", 1) for c in context))
    return subprocess.run(
        [sys.executable, "app.py"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_app_synthesizes_offline_without_credentials(tmp_path: Path) -> None:
    result = synth(tmp_path)

    assert result.returncode == 0, result.stderr
    template = json.loads((tmp_path / "cdk.out" / "FpgaBurst.template.json").read_text())
    assert "AWS::Lambda::Function" in {r["Type"] for r in template["Resources"].values()}
    assert "Node 20 is end-of-life" not in result.stderr


def test_bad_config_fails_synth_with_the_field_and_no_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    text = (REPO / "config" / "fpga-burst.yaml").read_text()
    bad.write_text(text.replace("instance_type: f2.12xlarge", "instance_type: f2.13xlarge"))

    result = synth(tmp_path, f"fpga-burst:config={bad}")

    assert result.returncode == 1
    assert "node_groups[1].instance_type: 'f2.13xlarge' is not a known FPGA instance type" in (
        result.stderr
    )
    assert "Traceback" not in result.stderr
    assert "jsii" not in result.stderr


CHECKOV = REPO / "build" / "checkov" / "bin" / "checkov"  # `make checkov` (its own venv)


def test_checkov_cloudformation_has_no_failed_check_and_every_skip_says_why(
    template: Template, tmp_path: Path,
) -> None:
    assert CHECKOV.exists(), f"{CHECKOV} is missing: `make checkov` installs it"
    path = tmp_path / "FpgaBurst.template.json"
    path.write_text(json.dumps(template.to_json()))

    result = subprocess.run(
        # --skip-download: the Bridgecrew platform's extra checks stay out (offline, pinned).
        [str(CHECKOV), "--framework", "cloudformation", "--file", str(path), "--output",
         "json", "--skip-download", "--compact"],
        capture_output=True, text=True, timeout=600, check=False,
        env={**os.environ, "BC_SKIP_MAPPING": "TRUE", "CHECKOV_RUN_SCA_PACKAGE_SCAN_V2": ""},
    )

    report = json.loads(result.stdout)
    results = report["results"]
    failed = [f"{c['check_id']} {c['resource']}: {c['check_name']}"
              for c in results["failed_checks"]]
    assert not failed, "\n".join(failed)
    assert report["summary"]["passed"] > 0  # it did check something
    unexplained = [f"{c['check_id']} {c['resource']}" for c in results["skipped_checks"]
                   if not (c["check_result"].get("suppress_comment") or "").strip()]
    assert not unexplained, unexplained
