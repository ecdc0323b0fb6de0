"""How long things take: seeded distributions for boot and device-plugin times.

A constant hides the tail that makes a controller double-scale or a job wait; a
distribution shows it. Written on the command line as `240` (constant),
`lognormal:240,0.25` (median seconds, sigma of the log) or `uniform:180,300`.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from burst.core.errors import ConfigError

KINDS = ("constant", "lognormal", "uniform")


@dataclass(frozen=True)
class Distribution:
    kind: str
    a: float
    b: float = 0.0

    def draw(self, rng: random.Random) -> float:
        if self.kind == "lognormal":
            return rng.lognormvariate(math.log(self.a), self.b)
        if self.kind == "uniform":
            return rng.uniform(self.a, self.b)
        return self.a

    def scaled(self, factor: float) -> Distribution:
        """The same shape around `factor` times the mean (all three kinds scale linearly)."""
        return Distribution(self.kind, self.a * factor, self.b if self.kind == "lognormal"
                            else self.b * factor)

    def __str__(self) -> str:
        if self.kind == "lognormal":
            return f"lognormal, median {self.a:g} s, sigma {self.b:g}"
        if self.kind == "uniform":
            return f"uniform {self.a:g}-{self.b:g} s"
        return f"constant {self.a:g} s"


def luck(seed: int, kind: str, group: str, ordinal: int) -> random.Random:
    """The random source of one draw: the `ordinal`-th launch in `group` draws its `kind`
    (boot, device plugin, failure, interruption) from here, whatever the policy.

    One stream consumed in launch order gives two policies different boots as soon as one
    launches once more; keyed draws pair them, so a difference between two policies is
    theirs, not luck's. (Random seeds a str through SHA-512: stable across processes.)
    """
    return random.Random(f"{seed}/{kind}/{group}/{ordinal}")


def constant(seconds: float) -> Distribution:
    return Distribution("constant", seconds)


def parse(text: str, flag: str) -> Distribution:
    """`240`, `lognormal:MEDIAN,SIGMA` or `uniform:LOW,HIGH`; raises ConfigError naming flag."""
    kind, sep, rest = text.partition(":")
    try:
        if not sep:
            return _checked(constant(float(kind)), text, flag)
        numbers = [float(x) for x in rest.split(",")]
    except ValueError:
        raise ConfigError(flag, text, "is not seconds, lognormal:M,S or uniform:A,B") from None
    if kind not in KINDS[1:] or len(numbers) != 2:
        raise ConfigError(flag, text, "must be seconds, lognormal:MEDIAN,SIGMA or uniform:LOW,HIGH")
    return _checked(Distribution(kind, *numbers), text, flag)


def _checked(dist: Distribution, text: str, flag: str) -> Distribution:
    if dist.a < 0 or dist.b < 0 or (dist.kind == "uniform" and dist.b < dist.a):
        raise ConfigError(flag, text, "times must be >= 0 (and LOW <= HIGH)")
    if dist.kind == "lognormal" and dist.a <= 0:
        raise ConfigError(flag, text, "a lognormal median must be > 0")
    return dist
