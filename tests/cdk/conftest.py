"""Shared fixtures for the CDK tests: the app is synthesized once per session."""

from __future__ import annotations

import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
# `stacks` is a top-level package beside app.py, not installed: import it from the checkout.
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))
# jsii warns on every process start about the Node.js version; it is noise in test output.
os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")
