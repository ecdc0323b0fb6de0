"""What AWS bills and where the paid board-hours went.

EC2 bills Linux instances per second with a 60-second minimum per launch, from the moment
the instance enters `running` until it is terminated: `pending` is not billed
(https://aws.amazon.com/about-aws/whats-new/2017/10/announcing-amazon-ec2-per-second-billing/
and the EC2 user guide's instance lifecycle table,
https://github.com/awsdocs/amazon-ec2-user-guide/blob/master/doc_source/ec2-instance-lifecycle.md).
So an instance is billed from launch + `pending_s` to its end, at least 60 s.

Every paid board-second is one of: used (a pod holds the board), booting (paid before the
node advertises its boards), waiting for scale-down (boards advertised, no FPGA pod on the
instance), stranded (free boards on an instance that has some busy), or the minimum charge
(a launch billed for less than 60 s of life tops up to 60 s).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields

MINIMUM_S = 60.0
FIRST_HOUR_S = 3600.0
RULE = (
    "EC2 per-second billing, 60 s minimum per launch, from `running` (launch + pending) "
    "to termination; pending is not billed "
    "(aws.amazon.com/about-aws/whats-new/2017/10/announcing-amazon-ec2-per-second-billing); "
    "a Spot instance EC2 interrupts in its first hour is not charged, later ones by the "
    "second (EC2 user guide, billing-for-interrupted-spot-instances)"
)


@dataclass
class Account:
    """One instance's bill, integrated as its boards change hands."""

    boards: int
    price_per_hour: float
    running_at: float  # billing starts
    advertised_at: float | None = None
    ended: float | None = None
    in_use: int = 0  # boards held by pods now
    since: float = 0.0  # last change of in_use, once advertised
    used_s: float = 0.0  # board-seconds
    empty_s: float = 0.0
    stranded_s: float = 0.0
    free: bool = False  # a Spot instance EC2 interrupted in its first hour: not charged

    def advertise(self, now: float) -> None:
        self.advertised_at = self.since = max(now, self.running_at)

    def change(self, now: float, delta: int) -> None:
        self.settle(now)
        self.in_use += delta

    def end(self, now: float) -> None:
        self.settle(now)
        self.ended = now

    def interrupt(self, now: float) -> None:
        """EC2 reclaimed the instance (Spot). Linux: no charge if in its first hour, else
        the seconds used (EC2 user guide, "Billing for interrupted Spot Instances")."""
        self.end(now)
        self.free = now - self.running_at < FIRST_HOUR_S

    def settle(self, now: float) -> None:
        """Counts the board-seconds up to `now` (or the end); idempotent."""
        if self.ended is not None:
            now = min(now, self.ended)
        if self.advertised_at is None or now <= self.since:
            return
        span = now - self.since
        self.since = now
        self.used_s += self.in_use * span
        if self.in_use == 0:
            self.empty_s += self.boards * span
        else:
            self.stranded_s += (self.boards - self.in_use) * span

    def billed_s(self, now: float) -> float:
        end = self.ended if self.ended is not None else now
        if self.free or (end <= self.running_at and self.ended is not None):
            return 0.0  # ended while pending (never ran), or a free interruption
        return max(MINIMUM_S, end - self.running_at)

    def booting_s(self, now: float) -> float:
        end = self.ended if self.ended is not None else now
        advertised = self.advertised_at if self.advertised_at is not None else end
        return self.boards * max(0.0, min(advertised, end) - self.running_at)


@dataclass(frozen=True)
class Bill:
    """Board-hours paid, and how they were spent; dollars."""

    paid: float = 0.0
    used: float = 0.0
    booting: float = 0.0
    waiting: float = 0.0  # waiting for scale-down: no FPGA pod on the instance
    stranded: float = 0.0
    minimum: float = 0.0
    cost: float = 0.0
    launches: int = 0  # instances billed
    unused: int = 0  # of them, ones no pod ever ran on: launched for pods that found a board
    # elsewhere before they booted, or kept for arrivals that did not come


# Bill's board-hours and dollars, summed over the accounts (its counts are counted apart).
_AMOUNTS = tuple(f.name for f in fields(Bill) if f.type == "float")


@dataclass
class Ledger:
    accounts: dict[str, Account] = field(default_factory=dict)

    def bill(self, now: float) -> Bill:
        totals = dict.fromkeys(_AMOUNTS, 0.0)
        launches = unused = 0
        for account in self.accounts.values():
            account.settle(now)  # an instance still alive is billed up to now
            billed = account.billed_s(now)
            if account.free or not billed:
                continue  # nothing paid, so no paid board-hour to split
            end = account.ended if account.ended is not None else now
            lived = max(0.0, end - account.running_at)
            parts = {
                "used": account.used_s,
                "booting": account.booting_s(now),
                "waiting": account.empty_s,
                "stranded": account.stranded_s,
                "minimum": account.boards * (billed - lived),
            }
            launches += 1
            unused += account.used_s == 0
            totals["paid"] += account.boards * billed / 3600.0
            totals["cost"] += account.price_per_hour * billed / 3600.0
            for key, value in parts.items():
                totals[key] += value / 3600.0
        return Bill(**totals, launches=launches, unused=unused)
