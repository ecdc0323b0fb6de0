"""The same story on the simulator, for machines where the control plane cannot be built.

`burst simulate`'s engine (the controller's planner and scale-down through its shell, on
virtual time) with the seed scenario (seed-evaluation.yaml here; examples/ in the
repository links to it) and a two-job trace: job 1 at t=0, job 2 a minute later, each
4 x com.inaccel.xgboost.exact for 10 minutes.
"""

from __future__ import annotations

from pathlib import Path

from burst.tools import scenario
from burst.tools.demo.chart import write_chart
from burst.tools.sim.engine import PolicyResult, simulate
from burst.tools.sim.run import table
from burst.tools.sim.site import Site
from burst.tools.sim.trace import Job
from burst.tools.sim.world import Timings

SCENARIO = Path(__file__).with_name("seed-evaluation.yaml")  # package data
XGBOOST = {"com.inaccel.xgboost.exact": 4}
SELECTOR = {"inaccel/fpga": "enabled"}
TRACE = (
    Job("default/xgboost-job-1", 0.0, 600.0, accelerators=XGBOOST, node_selector=SELECTOR),
    Job("default/xgboost-job-2", 60.0, 600.0, accelerators=XGBOOST, node_selector=SELECTOR),
)


def run(report: Path, why: str) -> PolicyResult:
    loaded = scenario.load(SCENARIO)
    outcome = simulate("seed evaluation (simulated)", Site.of(loaded.snapshot), loaded.policy,
                       TRACE, Timings())
    report.mkdir(parents=True, exist_ok=True)
    write_chart(outcome.samples, report / "timeline.png",
                "fpga-burst demo on the simulator (no control plane)", 60.0, "minutes")
    text = table([outcome])
    (report / "summary.md").write_text("\n".join([
        "# fpga-burst demo: the seed tutorial's evaluation, simulated",
        "",
        f"The real control plane could not be used here: {why}",
        "This is the same story on `burst simulate`'s engine: the controller's planner and "
        "scale-down through its shell, on virtual time, with "
        "`examples/seed-evaluation.yaml` and two jobs of 4 x com.inaccel.xgboost.exact "
        "(job 1 at 0 s, job 2 at 60 s, 10 min each). Boot 240 s, device plugin +60 s.",
        "",
        "```", text, "```",
        "",
        "Chart: `timeline.png`.",
        "",
    ]))
    print(text)
    return outcome
