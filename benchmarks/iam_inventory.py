"""The IAM action inventory: every AWS action the code calls, against the actions each
function's synthesized policy allows, and the calls the end-to-end suites saw each function
make under enforcement (tests/integration/iamenforce.py).

    FPGA_BURST_IAM_RECORD=$PWD/build/iam-calls.json FPGA_BURST_CONTROLPLANE_BIN=... \\
        .venv/bin/pytest tests/integration -q
    .venv/bin/python benchmarks/iam_inventory.py build/iam-calls.json

Columns: the functions whose policy allows the action; the adapter modules that call it
(static scan of lambdas/burst/adapters/aws); the functions seen calling it in the suites;
why a role holds it though no code of ours calls it (stacks/controller/grants.py).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# jsii warns on every start about the Node.js version; tests/cdk/conftest.py silences it too.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
for extra in ("", "lambdas", "tests/integration"):
    sys.path.insert(0, str(ROOT / extra))

from iamenforce import synthesized  # noqa: E402
from iaminventory import inventory, read_record, table  # noqa: E402

from stacks.controller.grants import CALLED_BY_AWS  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("record", nargs="?", type=Path,
                        help="the calls recorded by the suites ($FPGA_BURST_IAM_RECORD)")
    args = parser.parse_args()
    policies, _ = synthesized()
    record = read_record(args.record)
    rows = inventory(policies, record, CALLED_BY_AWS)
    print(table(rows))
    allowed = [r for r in rows if r.allowed_to]
    called = [r for r in allowed if r.in_code]
    unseen = [r for r in called if not set(r.allowed_to) & set(r.seen)]
    denied = sorted({(c["function"], c["action"]) for c in record if not c["allowed"]})
    print(f"\n{len(allowed)} actions allowed to a function: {len(called)} called by our code, "
          f"{len(allowed) - len(called)} called by AWS with the role (justified in grants.py)")
    if record:
        print(f"{len(record)} distinct (function, call, action) seen in the suites; "
              f"denied: {denied or 'none'}")
        print("allowed and called in code, but not reached by the suites: "
              + (", ".join(r.action for r in unseen) or "none"))
    return 1 if denied else 0


if __name__ == "__main__":
    sys.exit(main())
