"""The report folder of a real run: summary.md, timeline.png, timeline.txt, invocations.json
(every handler summary, as Lambda returned it) and handlers.log (their JSON log lines)."""

from __future__ import annotations

import json
from pathlib import Path

from burst.loop.lifecycle import LAUNCH_HOOK
from burst.tools.demo.chart import write_chart
from burst.tools.demo.story import Story


def write(story: Story, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    write_chart(story.samples, folder / "timeline.png",
                "fpga-burst demo: the seed evaluation on a real control plane + moto")
    (folder / "timeline.txt").write_text("".join(e.line() + "\n" for e in story.timeline.entries))
    (folder / "invocations.json").write_text(json.dumps(
        [{"t": round(t, 2), "function": f, "summary": s} for t, f, s in story.summaries],
        indent=1, default=str))
    (folder / "summary.md").write_text(summary(story))


def _at(story: Story, kind: str, text: str) -> str:
    t = story.timeline.first(kind, text)
    return "—" if t is None else f"{t:.1f} s"


def summary(story: Story) -> str:
    t = story.timings
    big = story.groups.get("f1-4xlarge", "")
    burst_seconds = sum(((m.terminated if m.terminated is not None else story.wall) - m.launched)
                        for m in story.fleet.values())
    price = sum(m.price for m in story.fleet.values())
    cost = sum(m.price * (((m.terminated or story.wall) - m.launched) / 3600)
               for m in story.fleet.values())
    moments = [
        ("job 1 bound to the on-prem U250", _at(story, "job", "xgboost-job-1 running")),
        ("job 2 pending (no free VU9P boards)", _at(story, "event", "xgboost-job-2: Failed")),
        (f"scale-up {big} 0 -> 1", _at(story, "aws", "SetDesiredCapacity")),
        ("burst node joined, no boards yet", _at(story, "node", "joined")),
        ("its device plugin advertised 2 boards", _at(story, "node", "device plugin advert")),
        ("job 2 running on the burst node", _at(story, "job", "xgboost-job-2 running")),
        ("launch hook completed (CONTINUE)", _at(story, "aws", f"CompleteLifecycleAction "
                                                               f"{LAUNCH_HOOK}")),
        ("job 2 done", _at(story, "job", "xgboost-job-2 succeeded")),
        ("burst node tainted to-be-deleted", _at(story, "scaler", "taint fpga-burst.io")),
        ("terminated with decrement", _at(story, "aws", "TerminateInstance")),
        ("drained, Node deleted, hook completed", _at(story, "lifecycle", "terminate")),
    ]
    decisions = [e.line() for e in story.timeline.entries if e.kind in ("scaler", "lifecycle")]
    aws = [e.line() for e in story.timeline.entries if e.kind == "aws"]
    placed = ", ".join(f"{job} on {node}" for job, node in sorted(story.ran_on.items()))
    ups = [f"{g} {a} -> {b}" for _, g, a, b in story.calls.desired]
    lines = [
        "# fpga-burst demo: the seed tutorial's evaluation",
        "",
        "A real kube-apiserver, etcd and kube-scheduler; moto for AWS with the node groups of "
        "`demo.yaml`, tagged as the CDK tags them; the scaler, lifecycle and tokens "
        "handlers invoked as EventBridge would (the scaler on a schedule, the lifecycle "
        "function on each lifecycle action). moto has no lifecycle hooks: the demo plays them "
        "(Pending:Wait, Terminating:Wait, CompleteLifecycleAction; marked *emulated*).",
        "",
        f"**{'Finished' if story.finished else 'DID NOT FINISH'}** in {story.wall:.1f} s. "
        f"Jobs: {placed or 'none ran'}. Desired capacity changes: {', '.join(ups) or 'none'}. "
        f"Desired at the end: "
        + ", ".join(f"{g} {d}" for g, d in sorted(story.desired.items())) + ".",
        "",
        "## The story",
        "",
        "| moment | at |",
        "|---|---|",
        *(f"| {what} | {when} |" for what, when in moments),
        "",
        "## Price",
        "",
        f"Burst capacity added: ${price:.2f} per hour while it ran "
        f"({len(story.fleet)} instance(s), {burst_seconds:.0f} s in all: "
        f"${cost:.4f} for this demo). On AWS the same story takes minutes, not seconds: "
        "instances boot in ~4 min, and an idle one is kept only while an FPGA pod is "
        "expected for it sooner than a boot.",
        "",
        "## Timings",
        "",
        f"Scaler tick {t.tick:g} s (AWS: 1 min), boot {t.boot:g} s, device plugin "
        f"+{t.device_plugin:g} s, jobs {t.job:g} s.",
        "",
        "## Decisions",
        "",
        "```", *decisions, "```",
        "",
        "## AWS calls",
        "",
        "```", *aws, "```",
        "",
        "## Full timeline",
        "",
        "See `timeline.txt`; every handler's returned summary is in `invocations.json`, their "
        "log lines in `handlers.log`. Chart: `timeline.png`.",
        "",
    ]
    return "\n".join(lines)
