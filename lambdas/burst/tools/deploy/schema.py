"""The keys of the deployment YAML: one tree, read by the parser and walked for its docs.

`check(raw)` refuses a key the tree does not know, at any depth, before any value is
read, so a typo is reported as itself (`node_groups[1].lables: unknown key; did you mean
`labels`?`) rather than as the missing key it hides. The parser's reader
(burst.tools.deploy.reader.Obj) follows the same tree and cannot read a key it lacks, and
`paths()` lists every key for docs/configuration.md (tests/unit/test_config_docs.py keeps
the two equal). The policy's keys are burst.core.policy's, the credentials' the functions'.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from burst.adapters.kube.identity import FUNCTIONS
from burst.core.errors import UnknownKeyError
from burst.core.policy import FIELDS as POLICY_FIELDS


@dataclass(frozen=True)
class Keys:
    """A mapping of known keys, each to the shape of its value (None: a plain value)."""

    known: Mapping[str, Shape]


@dataclass(frozen=True)
class Each:
    """A list whose items all have `item`'s shape."""

    item: Shape


@dataclass(frozen=True)
class Named:
    """A mapping whose keys the user chooses (`what`, e.g. <region>), values of one shape."""

    what: str
    value: Shape


Shape = Keys | Each | Named | None


def _keys(*names: str, **nested: Shape) -> Keys:
    return Keys({**dict.fromkeys(names), **nested})


_SUBNETS = Each(_keys("id", "availability_zone"))

SCHEMA = _keys(
    "stack_name",
    cluster=_keys("name", "api_endpoint", "controller_endpoint",
                  credentials_secret_arns=_keys(*FUNCTIONS)),
    scaler=_keys("mode"),
    aws=_keys("account", "region"),
    network=_keys("vpc_id", "lambda_security_group_id", "onprem_cidr", subnets=_SUBNETS),
    vpn=_keys("secret_arn"),
    regions=Named("<region>", _keys("vpc_id", "onprem_cidr", "vpn_secret_arn",
                                    subnets=_SUBNETS)),
    join=_keys("parameter_name"),
    node_image=_keys("kubernetes_version", "aws_fpga_ref", "build_instance_type"),
    node_groups=Each(_keys(
        "name", "instance_type", "region", "ami_id", "min_size", "max_size", "subnet_ids",
        "priority", "root_volume_gib", "root_device_name", "board_resource", "capacity_type",
        "spot_price_per_hour", "spot_price_live",
        labels=Named("<label>", None),
        taints=Each(_keys("key", "value", "effect")),
    )),
    catalog=_keys(accelerators=Named("<accelerator>", Named("<board>", None))),
    policy=_keys(*(f for f in POLICY_FIELDS if f != "region_penalty_per_board_hour"),
                 region_penalty_per_board_hour=Named("<region>", None)),
    alarms=_keys("email", "dashboard"),
    node_access=_keys("ssm_session_manager"),
)


def check(raw: object, shape: Shape = SCHEMA, path: str = "") -> None:
    """Raises UnknownKeyError for the first key, in document order, that `shape` lacks.

    A value of the wrong kind (a list where a mapping belongs) is left to the parser, which
    says what it must be.
    """
    if isinstance(shape, Keys) and isinstance(raw, dict):
        for key, value in raw.items():
            where = _join(path, str(key))
            if key not in shape.known:
                raise UnknownKeyError("", where, str(key), shape.known)
            check(value, shape.known[key], where)
    elif isinstance(shape, Named) and isinstance(raw, dict):
        for key, value in raw.items():
            check(value, shape.value, _join(path, str(key)))
    elif isinstance(shape, Each) and isinstance(raw, list):
        for i, item in enumerate(raw):
            check(item, shape.item, f"{path}[{i}]")


def child(shape: Shape, key: str) -> Shape:
    """The shape of `key`'s value; KeyError if the parser reads a key the tree lacks."""
    if isinstance(shape, Named):
        return shape.value
    if isinstance(shape, Keys):
        return shape.known[key]
    raise KeyError(key)


def item(shape: Shape) -> Shape:
    """The shape of a list's items."""
    if not isinstance(shape, Each):
        raise TypeError(f"not a list: {shape!r}")
    return shape.item


def paths(shape: Shape = SCHEMA, prefix: str = "") -> Iterator[str]:
    """Every documented key path: a key with a plain value, or a mapping of user-chosen
    keys to plain values (`node_groups[].labels`), is one row; the rest are sections."""
    if isinstance(shape, Keys):
        for key, value in shape.known.items():
            yield from paths(value, _join(prefix, key)) if _section(value) else [_join(prefix, key)]
    elif isinstance(shape, Each):
        yield from paths(shape.item, f"{prefix}[]")
    elif isinstance(shape, Named):
        yield from paths(shape.value, _join(prefix, shape.what))


def _section(shape: Shape) -> bool:
    """Whether `shape` holds known keys somewhere below: documented key by key."""
    if isinstance(shape, Each):
        return _section(shape.item)
    if isinstance(shape, Named):
        return _section(shape.value)
    return isinstance(shape, Keys)


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key
