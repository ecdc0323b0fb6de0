"""The join data in every region where node groups live.

The tokens function rotates and publishes the join data in the home region
(burst.loop.rotation); nodes read the parameter of their own region, so each other
region's parameter gets a copy. Level-triggered: a region whose parameter differs from
the home one (missing, stale, unreadable) is written, one that matches is left alone, so
a region added later, or one that failed last time, catches up on the next run.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass

from burst.core.errors import BurstError
from burst.ports.aws import JoinStore

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Region:
    """Another region's join-data store and the KMS key its parameter is encrypted with."""

    store: JoinStore
    kms_key_id: str


def replicate(home: JoinStore, parameter: str, regions: Mapping[str, Region]) -> dict[str, str]:
    """Copies the home join data to each region's `parameter` where it differs.

    Returns region -> "published", "up to date" or "nothing to copy" (no home data yet).
    Every region is tried; then the first BurstError raised by one is raised again (its
    outcome is "failed"), so the failure reaches the alarms without stopping the others.
    """
    data = home.read_join_data(parameter)
    outcome: dict[str, str] = {}
    first: BurstError | None = None
    for name, region in sorted(regions.items()):
        if data is None:
            outcome[name] = "nothing to copy"
            continue
        try:
            if region.store.read_join_data(parameter) == data:
                outcome[name] = "up to date"
                continue
            region.store.publish_join_data(parameter, data, region.kms_key_id)
            outcome[name] = "published"
        except BurstError as exc:
            log.error("join data not copied to %s: %s", name, exc,
                      extra={"region": name, "parameter": parameter})
            outcome[name] = "failed"
            first = first or exc
    if first is not None:
        raise first
    return outcome
