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
import subprocess
import sys
import tempfile
from pathlib import Path

from burst.tools.deploy.config import CONTEXT_KEY, load

REPO = Path(__file__).resolve().parents[2]


def template(config: Path) -> dict[str, object]:
    """The home stack's template as `cdk synth -c fpga-burst:config=FILE` makes it: app.py
    run the way cdk.json's command runs it (stacks/ is the app's, not the package's)."""
    context = {**json.loads((REPO / "cdk.json").read_text())["context"], CONTEXT_KEY: str(config)}
    with tempfile.TemporaryDirectory() as out:
        env = {**os.environ, "CDK_CONTEXT_JSON": json.dumps(context), "CDK_OUTDIR": out}
        subprocess.run([sys.executable, "app.py"], cwd=REPO, env=env, check=True)
        found: dict[str, object] = json.loads(
            (Path(out) / f"{load(config).stack_name}.template.json").read_text())
        return found


def main() -> None:
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
