#!/usr/bin/env python3
"""CDK entry point: `cdk synth | diff | deploy` (cdk.json runs `.venv/bin/python app.py`).

The configuration file is named by the context key `fpga-burst:config` (cdk.json, or
`-c fpga-burst:config=path`). A bad configuration ends here with one line naming the field.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

# Before jsii starts: its Node.js end-of-life banner says nothing about this app.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks

from burst.core.errors import ConfigError
from burst.tools.deploy.config import CONTEXT_KEY, DEFAULT_PATH, DeployConfig, load
from stacks.region import region_stacks
from stacks.stack import FpgaBurstStack


def build(app: cdk.App, config: DeployConfig) -> FpgaBurstStack:
    stack = FpgaBurstStack(app, config=config)
    # Other regions' node groups first (`cdk deploy --all`): their join key must exist
    # before the tokens function writes their copy of the join data.
    for regional in region_stacks(app, config):
        stack.add_dependency(regional)
    # cdk-nag 3 is a policy-validation plugin: synth fails on any unacknowledged finding.
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    return stack


def main() -> int:
    app = cdk.App()
    path = Path(app.node.try_get_context(CONTEXT_KEY) or DEFAULT_PATH)
    try:
        config = load(path)
    except ConfigError as exc:
        print(f"fpga-burst: invalid configuration {path}: {exc}", file=sys.stderr)
        return 1
    build(app, config)
    try:
        app.synth()
    except RuntimeError as exc:  # jsii re-raises the JavaScript error as RuntimeError
        if "ValidationFailed" not in str(exc):
            raise
        # cdk-nag has printed each finding with the construct path and the ID to acknowledge.
        print(
            f"fpga-burst: cdk-nag findings above must be fixed or acknowledged ({exc})",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
