"""The scaler's answer to `{"action": "diagnose"}`: the preflight from inside the VPC.

What only the functions' subnets can show: their settings and credentials load, the API
server answers over the VPN with a CA that verifies, the token, RBAC, the node groups and
the boards the nodes advertise (burst.loop.doctor). The hooks and the join parameter are
beyond the scaler's role; `burst doctor` checks them with the user's credentials.
"""

from __future__ import annotations

from typing import Any

from burst.adapters.kube import identity
from burst.adapters.kube.doctor import KubeProbe
from burst.core.errors import BurstError
from burst.core.notices.events import Diagnose
from burst.handlers import runtime
from burst.loop import doctor
from burst.loop.clock import Clock
from burst.loop.config import RuntimeConfig

_WHY = {
    doctor.HOOKS: "the scaler's role may not describe hooks: burst doctor checks them",
    doctor.JOIN: "the scaler's role may not read the join parameter: burst doctor checks it",
    doctor.JOIN_ERRORS: "the scaler's role may not read instance tags: burst doctor and the "
                        "lifecycle function's launch outcome read them",
}


def diagnose(request: Diagnose, cfg: RuntimeConfig | None, adapters: runtime.Adapters | None,
             clock: Clock) -> dict[str, Any]:
    """The report as the invoker reads it: {"outcome": "diagnosed", "ok", "checks"}."""
    try:
        cfg = cfg or runtime.config()
        # The diagnose request is the scaler's: its own identity's access is checked.
        access = (doctor.required_access(request.rbac, "event rbac",
                                         identity.account("scaler"))
                  if request.rbac is not None else None)
    except BurstError as exc:
        only = doctor.from_error(doctor.CONFIG, exc)
        rest = [doctor.not_run(n, "the configuration does not load") for n in doctor.CHECKS[1:]]
        return {"outcome": "diagnosed", **doctor.Report((only, *rest)).to_json()}
    built, failure = adapters, None
    try:
        built = built or runtime.adapters(cfg)
    except BurstError as exc:
        failure = exc
    try:
        probes = doctor.Probes(
            cluster=KubeProbe(built.cluster.kube) if built else None,
            groups=built.aws.groups if built else None,
            why={**_WHY, doctor.CONFIG: "the function's settings are what it runs"},
            cluster_error=failure,
        )
        expected = doctor.Expected(cfg=cfg, now=clock.wall(),
                                   token=built.token if built else None, access=access)
        report = doctor.diagnose(expected, probes)
    finally:
        if built is not None and adapters is None:
            built.close()
    return {"outcome": "diagnosed", **report.to_json()}
