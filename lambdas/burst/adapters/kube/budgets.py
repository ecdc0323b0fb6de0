"""Which pods a PodDisruptionBudget covers, for the one drainability rule that asks
(burst.core.scaledown.drainable: a kube-system pod no budget covers blocks a scale-down).

burst.adapters.kube.observe lists the budgets only of namespaces that have such a pod on
a burst node: usually none, so usually no call at all.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

from burst.adapters.kube.client import Json


def _expression(expr: Json, labels: Mapping[str, str]) -> bool:
    key, op, values = expr.get("key") or "", expr.get("operator"), expr.get("values") or ()
    if op == "In":
        return labels.get(key) in values
    if op == "NotIn":
        return labels.get(key) not in values
    if op == "Exists":
        return key in labels
    if op == "DoesNotExist":
        return key not in labels
    return False  # an operator we do not know selects nothing: the pod stays unmovable


def selects(selector: Json | None, labels: Mapping[str, str]) -> bool:
    """A label selector's verdict on `labels`. In policy/v1 an empty selector selects every
    pod of the namespace; a budget without one selects none (Kubernetes API reference,
    PodDisruptionBudgetSpec.selector)."""
    if selector is None:
        return False
    matched = all(labels.get(k) == v for k, v in (selector.get("matchLabels") or {}).items())
    return matched and all(_expression(e, labels) for e in selector.get("matchExpressions") or ())


def covered_by(budgets: Iterable[Json]) -> Callable[[Json], bool]:
    """Whether a pod (JSON) is selected by one of `budgets` (PodDisruptionBudget JSON)."""
    selectors: dict[str, list[Json | None]] = {}
    for budget in budgets:
        namespace = (budget.get("metadata") or {}).get("namespace") or ""
        selectors.setdefault(namespace, []).append((budget.get("spec") or {}).get("selector"))

    def covered(pod: Json) -> bool:
        meta = pod.get("metadata") or {}
        labels = meta.get("labels") or {}
        return any(selects(s, labels) for s in selectors.get(meta.get("namespace") or "", ()))

    return covered
