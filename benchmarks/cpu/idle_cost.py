"""What fpga-burst costs at rest: prints the README's "What it costs at rest" block.

Synthesizes the stack for a deployment config (default: config/fpga-burst.yaml, the one the
README's table is for) and hands the template to burst.tools.idlecost, which adds the
measured per-invocation figures and the dated prices. `--measure` first measures those
figures again (the test control plane and a moto_server; `FPGA_BURST_CONTROLPLANE_BIN`)
and prints them, to compare with burst.tools.idlecost.model.MEASURED.

    .venv/bin/python benchmarks/cpu/idle_cost.py [--config FILE] [--measure [--watch]]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))  # stacks/ lives beside the package, as app.py finds it
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")


def template(config: Path) -> dict[str, object]:
    from aws_cdk import App
    from aws_cdk.assertions import Template

    from burst.tools.deploy.config import load
    from stacks.stack import FpgaBurstStack

    context = json.loads((REPO / "cdk.json").read_text())["context"]
    with tempfile.TemporaryDirectory() as out:
        app = App(outdir=out, context=context)
        return dict(Template.from_stack(FpgaBurstStack(app, config=load(config))).to_json())


def main() -> None:
    from burst.tools.deploy.config import load
    from burst.tools.idlecost import table
    from burst.tools.idlecost.measure import measure

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=REPO / "config" / "fpga-burst.yaml")
    parser.add_argument("--measure", action="store_true")
    parser.add_argument("--watch", action="store_true", help="--measure a watch tick too")
    parser.add_argument("--ticks", type=int, default=30)
    args = parser.parse_args()
    if args.measure:
        found = measure(args.ticks, args.watch)
        print(json.dumps({k: v.per_invocation() for k, v in found.items()}, indent=1))
    azs = len({s.availability_zone for s in load(args.config).subnets})
    print(table.section(template(args.config), azs))


if __name__ == "__main__":
    main()
