"""After deploy: the stack's alarms, and for each in ALARM its likely cause and what to
read, from the entry it was built from (burst.core.alarms)."""

from __future__ import annotations

from burst.core.alarms import alarm_name, explain
from burst.loop.doctor.results import ALARMS, Check, fail, ok
from burst.ports.doctor import AlarmReader


def alarms(reader: AlarmReader, cluster: str) -> Check:
    found = reader.alarms(alarm_name(cluster, ""))
    if not found:
        return fail(ALARMS, f"no alarm named {alarm_name(cluster, '*')}",
                    "deploy the stack (it creates the alarms): npx cdk deploy --all")
    firing = []
    for alarm in found:
        if alarm.state != "ALARM":
            continue
        spec = explain(cluster, alarm.name)
        if spec is None:
            firing.append(f"{alarm.name}: {alarm.reason}")
            continue
        firing.append(f"{spec.id}: {spec.what}; likely: {spec.cause}; read: {spec.read}")
    if firing:
        return fail(ALARMS, f"{len(firing)} of {len(found)} alarms in ALARM",
                    "act on the cause each names, then watch it return to OK", firing)
    return ok(ALARMS, f"none of {len(found)} alarms in ALARM")
