"""The operator's policy: one parser for every place a policy is written.

The deployment config (burst/tools/deploy/config.py), the functions' FPGA_BURST_CONFIG
(burst.loop.config), scenario files and the simulator's `--policy` specs all hand a
mapping of the fields below to `parse_policy`, so a value one of them accepts, the others
accept too. `policy_document` is its inverse: what the CDK writes for the functions.

    max_boards                          whole number >= 1, or null: no limit
    max_price_per_hour                  number > 0, or null: no limit
    expanders                           a chain of the expanders registered in
                                        burst.core.scaleup.expanders, each at most once
    scale_down                          adaptive (default) or fixed
    scale_down_unneeded_time_seconds    number >= 0 (fixed: idle this long, then removed)
    scale_down_delay_after_add_seconds  number >= 0 (fixed: no removal this soon after a
                                        scale-up of the group)
    boot_estimate_seconds               number > 0 (adaptive: launch to boards advertised)
    max_idle_time_seconds               number >= 0 (adaptive: never kept idle longer)
    arrival_window_seconds              number > 0 (adaptive: arrivals learned over it)
    defer_scale_up_seconds              number >= 0 (a pod waits at most this long for a
                                        board a running pod is likely to free; 0: never)
    give_back_launching                 true (default) or false: terminate with decrement an
                                        instance still launching that no pending pod is
                                        planned onto (burst.core.scaledown.surplus)
    token_ttl_seconds                   whole number, MIN_TOKEN_TTL..MAX_TOKEN_TTL
    region_penalty_per_board_hour       {AWS region: number >= 0}: $/h per board added to
                                        a group's price in that region when groups are
                                        weighed (burst.core.regions)

Defaults are `Policy`'s (burst.core.model); the timings the rules depend on are here.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import timedelta
from typing import Any

from burst.core.errors import ConfigError, UnknownKeyError
from burst.core.model import Policy, ScaleDown
from burst.core.regions import AWS_REGIONS
from burst.core.scaleup.expanders import validate_chain

# How often the tokens function runs (the CDK schedule).
TOKEN_PERIOD = timedelta(minutes=15)
# How often the scaler runs (the CDK schedule); an invocation ends before the next is due.
SCALER_PERIOD = timedelta(minutes=1)
# Lifecycle-hook heartbeat timeouts: the CDK creates the hooks with them and the lifecycle
# handler's deadlines follow them. Launch: time for the VPN, `kubeadm join` and the FPGA
# device plugin to advertise boards before the hook ABANDONs. Terminate: time for a
# PDB-aware drain before the hook CONTINUEs anyway.
LAUNCH_HOOK_TIMEOUT = timedelta(minutes=15)
TERMINATE_HOOK_TIMEOUT = timedelta(minutes=10)
# A join token must outlive one rotation period plus a launch-hook timeout, or a node that
# read it just before a rotation could fail to join; a day bounds a leaked token's use.
MIN_TOKEN_TTL = TOKEN_PERIOD + LAUNCH_HOOK_TIMEOUT
MAX_TOKEN_TTL = timedelta(days=1)
# Longer is surely a mistake (and timedelta overflows on absurd values).
_MAX_SECONDS = int(timedelta(days=365).total_seconds())


class _Field:
    """One field's reads, errors naming `source` and `path.key`."""

    def __init__(self, source: str, path: str, key: str) -> None:
        self.source = source
        self.where = f"{path}.{key}" if path else key

    def error(self, problem: str) -> ConfigError:
        return ConfigError(self.source, self.where, problem)

    def number(self, value: Any, *, whole: bool = False) -> float:
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
        ):
            raise self.error(f"must be a number, got {value!r}")
        if whole and not isinstance(value, int):
            raise self.error(f"must be a whole number, got {value!r}")
        return value


def _max_boards(f: _Field, value: Any) -> dict[str, Any]:
    if value is not None and f.number(value, whole=True) < 1:
        raise f.error(f"must be >= 1 (or null for no limit), got {value}")
    return {"max_boards": value}


def _max_price(f: _Field, value: Any) -> dict[str, Any]:
    if value is not None and f.number(value) <= 0:
        raise f.error(f"must be positive (or null for no limit), got {value}")
    return {"max_price_per_hour": None if value is None else float(value)}


def _expanders(f: _Field, value: Any) -> dict[str, Any]:
    if not isinstance(value, list | tuple) or not all(isinstance(n, str) for n in value):
        raise f.error(f"must be a list of expander names, got {value!r}")
    return {"expanders": validate_chain(value, f.source, f.where)}


def duration(value: Any, source: str, field: str) -> timedelta:
    """A duration given in seconds: a finite number >= 0 (every config's `..._seconds`)."""
    f = _Field(source, "", field)
    if f.number(value) < 0:
        raise f.error(f"must be >= 0, got {value}")
    if value > _MAX_SECONDS:
        raise f.error(f"must be at most {_MAX_SECONDS} (a year), got {value}")
    return timedelta(seconds=value)


def _seconds(attribute: str) -> Callable[[_Field, Any], dict[str, Any]]:
    def read(f: _Field, value: Any) -> dict[str, Any]:
        return {attribute: duration(value, f.source, f.where)}

    return read


def _positive(attribute: str) -> Callable[[_Field, Any], dict[str, Any]]:
    def read(f: _Field, value: Any) -> dict[str, Any]:
        span = duration(value, f.source, f.where)
        if not span:
            raise f.error("must be more than 0")
        return {attribute: span}

    return read


def _flag(attribute: str) -> Callable[[_Field, Any], dict[str, Any]]:
    def read(f: _Field, value: Any) -> dict[str, Any]:
        if not isinstance(value, bool):
            raise f.error(f"must be true or false, got {value!r}")
        return {attribute: value}

    return read


def _scale_down(f: _Field, value: Any) -> dict[str, Any]:
    modes = [m.value for m in ScaleDown]
    if value not in modes:
        raise f.error(f"must be one of {', '.join(modes)}, got {value!r}")
    return {"scale_down": ScaleDown(value)}


def _token_ttl(f: _Field, value: Any) -> dict[str, Any]:
    low, high = int(MIN_TOKEN_TTL.total_seconds()), int(MAX_TOKEN_TTL.total_seconds())
    if not low <= f.number(value, whole=True) <= high:
        raise f.error(f"must be between {low} and {high}, got {value}")
    return {"token_ttl": timedelta(seconds=value)}


def _region_penalties(f: _Field, value: Any) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise f.error(f"must map AWS regions to $/h per board, got {value!r}")
    found: dict[str, float] = {}
    for region, amount in value.items():
        each = _Field(f.source, f.where, str(region))
        if region not in AWS_REGIONS:
            raise each.error("not an AWS region code (e.g. us-east-1)")
        if each.number(amount) < 0:
            raise each.error(f"must be >= 0, got {amount}")
        found[str(region)] = float(amount)
    return {"region_penalties": found}


# Field name (as written in every config) -> its reader, giving the Policy attribute.
_READERS: dict[str, Callable[[_Field, Any], dict[str, Any]]] = {
    "max_boards": _max_boards,
    "max_price_per_hour": _max_price,
    "expanders": _expanders,
    "scale_down_unneeded_time_seconds": _seconds("scale_down_unneeded_time"),
    "scale_down_delay_after_add_seconds": _seconds("scale_down_delay_after_add"),
    "token_ttl_seconds": _token_ttl,
    "scale_down": _scale_down,
    "boot_estimate_seconds": _positive("boot_estimate"),
    "max_idle_time_seconds": _seconds("max_idle_time"),
    "arrival_window_seconds": _positive("arrival_window"),
    "defer_scale_up_seconds": _seconds("defer_scale_up"),
    "give_back_launching": _flag("give_back_launching"),
    "region_penalty_per_board_hour": _region_penalties,
}
FIELDS = tuple(_READERS)
# Fields that may be null: "no limit". Any other null means "not set": the base value.
_NULLABLE = ("max_boards", "max_price_per_hour")
# Fields only one scale-down mode reads: the timers are fixed mode's
# (burst.core.scaledown.unneeded), the idle cap adaptive mode's (burst.core.scaledown.keep).
MODE_ONLY: Mapping[str, ScaleDown] = {
    "scale_down_unneeded_time_seconds": ScaleDown.FIXED,
    "scale_down_delay_after_add_seconds": ScaleDown.FIXED,
    "max_idle_time_seconds": ScaleDown.ADAPTIVE,
}


def parse_policy(
    data: object, source: str, *, path: str = "policy", base: Policy | None = None,
    written: bool = False,
) -> Policy:
    """The fields of `data` over `base` (default: Policy's defaults).

    `written`: a file a person writes (deployment config, scenario), where a field the
    policy's scale_down mode ignores is refused, so no file carries a key with no effect.
    The functions' FPGA_BURST_CONFIG carries every field (`policy_document`) and is not.

    Raises ConfigError(source, "<path>.<field>", problem) for the first bad field, and
    UnknownKeyError for an unknown one.
    """
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise ConfigError(source, path, f"must be a mapping, got {type(data).__name__}")
    changes: dict[str, Any] = {}
    for key, value in data.items():
        f = _Field(source, path, str(key))
        read = _READERS.get(key) if isinstance(key, str) else None
        if read is None:
            raise UnknownKeyError(source, f.where, str(key), FIELDS)
        if value is not None or key in _NULLABLE:
            changes.update(read(f, value))
    policy = replace(base or Policy(), **changes)
    for key, mode in MODE_ONLY.items() if written else ():
        if data.get(key) is not None and policy.scale_down is not mode:
            raise _Field(source, path, key).error(
                f"has no effect with scale_down: {policy.scale_down.value} "
                f"(only scale_down: {mode.value} reads it); remove it or set scale_down")
    return policy


def policy_document(policy: Policy) -> dict[str, Any]:
    """`policy` as the fields `parse_policy` reads: parse_policy(policy_document(p)) == p."""
    return {
        "max_boards": policy.max_boards,
        "max_price_per_hour": policy.max_price_per_hour,
        "expanders": list(policy.expanders),
        "scale_down_unneeded_time_seconds": _number(policy.scale_down_unneeded_time),
        "scale_down_delay_after_add_seconds": _number(policy.scale_down_delay_after_add),
        "token_ttl_seconds": int(policy.token_ttl.total_seconds()),
        "scale_down": policy.scale_down.value,
        "boot_estimate_seconds": _number(policy.boot_estimate),
        "max_idle_time_seconds": _number(policy.max_idle_time),
        "arrival_window_seconds": _number(policy.arrival_window),
        "defer_scale_up_seconds": _number(policy.defer_scale_up),
        "give_back_launching": policy.give_back_launching,
        "region_penalty_per_board_hour": dict(policy.region_penalties),
    }


def _number(span: timedelta) -> float:
    seconds = span.total_seconds()
    return int(seconds) if seconds.is_integer() else seconds
