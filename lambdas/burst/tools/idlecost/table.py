"""The README's "What it costs at rest" tables, as markdown, from model.py's rows."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from burst.tools.idlecost import model
from burst.tools.idlecost import prices as p

HEAD = ("| item | quantity | list price | poll $/month | watch $/month | source |\n"
        "|---|---|---|---|---|---|")
# The AWS APIs the functions call from their subnets, each needing a NAT gateway or an
# interface endpoint (burst/adapters/aws/; Service Quotas on every tick).
ENDPOINT_SERVICES = ("autoscaling", "ec2", "secretsmanager", "ssm", "servicequotas")


def _line(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def table(template: Mapping[str, Any]) -> str:
    rows = model.rows(template)
    total = model.totals(rows)
    lines = [HEAD, *(_line(r.cells()) for r in rows),
             _line(["**total**", "", "", *(f"**${total[m]:.2f}**" for m in model.MODES), ""])]
    gib = model.image_gib(template)
    if gib:
        most = gib * p.EBS_SNAPSHOT.usd
        lines.append(_line([
            "node image snapshot (a group without `ami_id`)", f"≤ {gib} GiB",
            str(p.EBS_SNAPSHOT), f"≤ ${most:.2f}",
            f"≤ ${most:.2f}", f"<{p.EBS_SNAPSHOT.source}> †"]))
    return "\n".join(lines)


def notes(template: Mapping[str, Any]) -> str:
    """What the † marks and the rows' assumptions say."""
    used = {r.price for r in model.rows(template)} | {p.EBS_SNAPSHOT}
    marked = sorted({f"{x.source}: {x.note}" for x in used if not x.confirmed})
    lines = [f"Per-invocation figures measured {model.MEASURED_ON}. Prices: us-east-1 list "
             f"prices read {p.PRICED}; † marks a price the stored copy of the service's own "
             "page did not show, with where the figure is from:"]
    lines += [f"- {m}" for m in marked]
    lines.append(f"- {p.KMS_KEY.source}: {p.KMS_KEY.note}.")
    return "\n".join(lines)


def networking(azs: int) -> str:
    """What the functions' subnets need to reach AWS's APIs, one NAT gateway or interface
    endpoints in `azs` zones: the user's choice, priced apart."""
    nat = p.NAT_GATEWAY_HOUR.usd * p.HOURS_PER_MONTH
    endpoint = p.INTERFACE_ENDPOINT_HOUR.usd * p.HOURS_PER_MONTH
    services = ", ".join(ENDPOINT_SERVICES)
    return "\n".join([
        "| networking you add (not in the totals) | quantity | list price | $/month | source |",
        "|---|---|---|---|---|",
        _line(["NAT gateway", "1 (one AZ)", f"${p.NAT_GATEWAY_HOUR.usd} / hour + "
               f"${p.NAT_GATEWAY_GB.usd} / GB", f"${nat:.2f} + data",
               f"<{p.NAT_GATEWAY_HOUR.source}> †"]),
        _line([f"or interface endpoints ({services})",
               f"{len(ENDPOINT_SERVICES)} in each of {azs} AZs",
               str(p.INTERFACE_ENDPOINT_HOUR),
               f"${len(ENDPOINT_SERVICES) * azs * endpoint:.2f} "
               f"(${len(ENDPOINT_SERVICES) * endpoint:.2f} in one AZ)",
               f"<{p.INTERFACE_ENDPOINT_HOUR.source}> †"]),
        _line(["the VPN to the on-prem network", "yours", "its own service's", "-", "-"]),
    ])


BEGIN = ("<!-- idle-cost: printed by `.venv/bin/python benchmarks/cpu/idle_cost.py`; "
         "tests/cdk/test_idle_cost.py holds it to the template -->")
END = "<!-- /idle-cost -->"


def section(template: Mapping[str, Any], azs: int) -> str:
    """The README's generated block: the table, its notes, the networking table."""
    return "\n\n".join([BEGIN, table(template), notes(template), networking(azs), END])


def readme_block(readme: str) -> str:
    """The generated block as the README holds it (ValueError if it has none)."""
    start, end = readme.index(BEGIN), readme.index(END)
    return readme[start:end + len(END)]


def readme_quantities(block: str) -> dict[str, str]:
    """item -> quantity, from the block's first table."""
    found = {}
    for line in block.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("| ") and len(cells) == 6 and cells[0] != "item":
            found[cells[0]] = cells[1]
    return found
