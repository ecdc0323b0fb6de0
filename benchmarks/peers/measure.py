"""Figures of one run, from its Record, and the side-by-side table as ratios to fpga-burst."""

from __future__ import annotations

from dataclasses import dataclass

from world import Group, Record


@dataclass(frozen=True)
class Figures:
    controller: str
    workload: str
    done: bool  # every pod ran (scale-down: and the burst capacity went back to 0)
    latencies: tuple[float, ...]  # pod created -> the next rise of desired capacity
    launched: int
    extra: int  # instances whose Node never ran a pod of the workload
    peak_price: float  # $/h of the desired capacity at its peak
    removal: float | None  # last job ended -> desired capacity 0 (scale-down workload)
    all_running: float | None  # first pod created -> the last of them running
    note: str = ""
    staged: bool = True  # False: the workload cannot be staged for this controller (note)

    def p(self, q: float) -> float | None:
        if not self.latencies:
            return None
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def figures(controller: str, workload: str, record: Record, groups: tuple[Group, ...],
            pods: set[str], done: bool, note: str = "") -> Figures:
    price = {g.name: g.price for g in groups}

    def asked(desired: dict[str, int]) -> int:  # of `groups` only
        return sum(n for g, n in desired.items() if g in price)

    rises = [t for (t, d), (_, before) in zip(record.desired[1:], record.desired, strict=False)
             if asked(d) > asked(before)]
    latencies = []
    for pod in sorted(pods & set(record.unschedulable)):
        created = record.created[pod]
        rise = next((t for t in rises if t >= created), None)
        if rise is not None:
            latencies.append(rise - created)
    used = {node for name, (_, node) in record.running.items() if name in pods}
    launched = record.launched
    extra = sum(1 for instance in launched if record.nodes.get(instance) not in used)
    peak = max((sum(price.get(g, 0.0) * n for g, n in d.items()) for _, d in record.desired),
               default=0.0)
    removal = None
    if record.finished and record.desired and sum(record.desired[-1][1].values()) == 0:
        last_end = max(record.finished.values())
        zero = next((t for t, d in record.desired if t >= last_end and sum(d.values()) == 0),
                    None)
        removal = None if zero is None else zero - last_end
    started = [record.running[name][0] for name in pods if name in record.running]
    all_running = max(started) - min(record.created[name] for name in pods) \
        if len(started) == len(pods) else None
    return Figures(controller, workload, done, tuple(latencies), len(launched), extra, peak,
                   removal, all_running, note)


def _num(value: float | None, unit: str = "") -> str:
    return "-" if value is None else f"{value:.1f}{unit}"


def _ratio(peer: float | None, ours: float | None) -> str:
    if peer is None or ours is None:
        return "-"
    if ours == 0:
        return "-" if peer == 0 else "inf"
    return f"{peer / ours:.1f}x"


def table(results: list[Figures]) -> str:
    """Markdown: each controller's figures, and in brackets its ratio to fpga-burst's on the
    same workload."""
    ours = {f.workload: f for f in results if f.controller == "fpga-burst"}
    lines = ["| workload | controller | did the job | unsched.->requested p50 / p99 (s) | "
             "all running after | instances launched / beyond need | $/h chosen | "
             "idle capacity removed after |",
             "|---|---|---|---|---|---|---|---|"]
    for f in results:
        base = ours.get(f.workload)
        ratio = base is not None and f is not base

        def with_ratio(value: float | None, of: float | None, unit: str = "s",
                       show: bool = ratio) -> str:
            text = _num(value, unit)
            return f"{text} ({_ratio(value, of)})" if show and value is not None else text

        lat = (f"{with_ratio(f.p(0.5), base.p(0.5) if base else None)} / "
               f"{with_ratio(f.p(0.99), base.p(0.99) if base else None)}")
        price = with_ratio(f.peak_price, base.peak_price if base else None, "")
        removal = with_ratio(f.removal, base.removal if base else None)
        if not f.staged:
            lines.append(f"| {f.workload} | {f.controller} | not run: {f.note} | - | - | - | - "
                         "| - |")
            continue
        did = "yes" if f.done else f"no{': ' + f.note if f.note else ''}"
        running = with_ratio(f.all_running, base.all_running if base else None)
        lines.append(f"| {f.workload} | {f.controller} | {did} | {lat} | {running} | "
                     f"{f.launched} / {f.extra} | {price} | {removal} |")
    return "\n".join(lines)
