"""observe, continued: live Spot prices and the F vCPU quotas onto the Snapshot.

Neither is needed to act safely, so neither stops a tick: a price that cannot be read
leaves the group's configured one (or none: the group is not planned), a quota that cannot
be read leaves the plan unlimited by it, as before quotas were read; both say so in the log.
"""

from __future__ import annotations

from dataclasses import replace

from burst.core.errors import BurstError
from burst.core.model import Snapshot
from burst.loop.result import Log
from burst.ports.aws import SpotPrices, VcpuQuotas


def with_market(
    snapshot: Snapshot, prices: SpotPrices | None, quotas: VcpuQuotas | None, log: Log
) -> Snapshot:
    """`snapshot` with live Spot prices on the groups that ask for them, and the quotas."""
    if prices is not None:
        snapshot = _live_prices(snapshot, prices, log)
    if quotas is None:
        return snapshot
    managed = frozenset(i.instance_id for g in snapshot.node_groups for i in g.instances)
    vcpus = {name: t.vcpus for name, t in snapshot.catalog.instance_types.items() if t.vcpus}
    try:
        return replace(snapshot, vcpu_quota=quotas.vcpu_quota(managed, vcpus))
    except BurstError as exc:
        log.warning(f"F vCPU quotas not read, planning without them: {exc}",
                    extra={"decision": "no quota limit this tick", "error": type(exc).__name__})
        return snapshot


def _live_prices(snapshot: Snapshot, prices: SpotPrices, log: Log) -> Snapshot:
    live = [g for g in snapshot.node_groups if g.spot_price_live]
    if not live:
        return snapshot
    try:
        found = prices.spot_prices(sorted({g.instance_type for g in live}))
    except BurstError as exc:
        log.warning(f"live Spot prices not read, using the configured ones: {exc}",
                    extra={"decision": "configured Spot prices", "error": type(exc).__name__})
        return snapshot
    groups = tuple(
        replace(g, price_per_hour=found[g.instance_type])
        if g.spot_price_live and g.instance_type in found else g
        for g in snapshot.node_groups
    )
    return replace(snapshot, node_groups=groups)
