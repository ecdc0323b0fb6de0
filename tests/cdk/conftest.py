"""Shared fixtures for the CDK tests: the app is synthesized once per session."""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
# jsii warns on every process start about the Node.js version; it is noise in test output.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

import pytest  # noqa: E402
from aws_cdk import App  # noqa: E402
from aws_cdk.assertions import Template  # noqa: E402

from burst.tools.deploy.config import DeployConfig, load  # noqa: E402
from stacks.stack import FpgaBurstStack  # noqa: E402  (`stacks`: pyproject's pytest pythonpath)

DEMO_CONFIG = REPO / "config" / "fpga-burst.yaml"


@pytest.fixture(scope="session")
def config() -> DeployConfig:
    return load(DEMO_CONFIG)


def cdk_app(tmp_path_factory: pytest.TempPathFactory) -> App:
    """An app with cdk.json's context, so the feature flags are those `cdk synth` uses."""
    context = json.loads((REPO / "cdk.json").read_text())["context"]
    return App(outdir=str(tmp_path_factory.mktemp("cdk.out")), context=context)


@pytest.fixture(scope="session")
def app_and_stack(
    config: DeployConfig, tmp_path_factory: pytest.TempPathFactory
) -> tuple[App, FpgaBurstStack]:
    """The demo configuration's app, built once; the layer comes from build/layer/ cache."""
    app = cdk_app(tmp_path_factory)
    return app, FpgaBurstStack(app, config=config)


@pytest.fixture(scope="session")
def template(app_and_stack: tuple[App, FpgaBurstStack]) -> Template:
    return Template.from_stack(app_and_stack[1])


@pytest.fixture(scope="session")
def dashboard_template(config: DeployConfig, tmp_path_factory: pytest.TempPathFactory) -> Template:
    """The demo configuration with `alarms.dashboard: true` (off by default)."""
    stack = FpgaBurstStack(cdk_app(tmp_path_factory), config=replace(config, dashboard=True))
    return Template.from_stack(stack)
