"""The plan report of docs/scenarios.md, as JSON-ready data and as a table for people."""

from __future__ import annotations

from typing import Any

from burst.core.model import Plan, PodDecision


def to_json(plan: Plan) -> dict[str, Any]:
    return {
        "scale_up": [
            {"node_group": s.node_group, "from": s.from_size, "to": s.to_size,
             **({"region": s.region} if s.region else {})}
            for s in plan.scale_ups
        ],
        "pods": [_pod(d) for d in plan.pods],
        "price_per_hour_added": round(plan.price_per_hour_added, 4),
    }


def _pod(decision: PodDecision) -> dict[str, Any]:
    entry: dict[str, Any] = {"pod": decision.pod, "outcome": decision.outcome.value}
    for key in ("node", "node_group", "board", "boards", "reason"):
        value = getattr(decision, key)
        if value is not None:
            entry[key] = value
    return entry


def to_table(plan: Plan) -> str:
    rows = [("POD", "OUTCOME", "WHERE", "BOARDS")]
    for d in plan.pods:
        where = d.node or d.node_group or "-"
        boards = f"{d.boards} x {d.board}" if d.board else "-"
        rows.append((d.pod, d.outcome.value, where, boards))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]
    lines.append("")
    if plan.scale_ups:
        lines.append("Scale up:")
        lines.extend(
            f"  {s.node_group}{f' ({s.region})' if s.region else ''}: {s.from_size} -> {s.to_size}"
            for s in plan.scale_ups
        )
    else:
        lines.append("Scale up: none")
    lines.append(f"Price per hour added: ${plan.price_per_hour_added:.2f}")
    reasons = [d for d in plan.pods if d.reason]
    if reasons:
        lines.append("")
        lines.append("Not helped:")
        lines.extend(f"  {d.pod}: {d.reason}" for d in reasons)
    return "\n".join(lines)
