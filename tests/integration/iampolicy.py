"""The functions' IAM policies as the synthesized template grants them, and an evaluator.

`function_policies` reads each Lambda function's role out of a CloudFormation template and
returns the statements of every AWS::IAM::Policy attached to it, with the intrinsics
resolved: Ref to the pseudo parameters, Fn::Join, Fn::Sub. A Ref or Fn::GetAtt to a
resource of the stack (the join key's ARN, the log group's) becomes a placeholder
`{{Logical.Attribute}}` that the caller binds to what stands in for it (the key moto
made); an unbound placeholder matches nothing, so it can only take permissions away.

`evaluate` decides one request as IAM does for identity-based policies of one principal
("Policy evaluation logic", IAM user guide): an explicit Deny wins, else an Allow whose
Action/NotAction, Resource/NotResource and every Condition match, else the implicit deny.
Action and Resource patterns take `*` and `?` (actions case-insensitively); conditions
take the String*, Arn*, Bool and Null operators with IfExists and the
ForAnyValue/ForAllValues set qualifiers, with AWS's semantics for absent keys
(tests/integration/test_iam_evaluator.py checks each against the user guide's examples);
any other operator raises rather than guess.
Policy variables (`${ec2:SourceInstanceARN}`) take the request's context keys.
Not modelled: resource-based policies, permission boundaries, SCPs, session policies,
AWS managed policies (their statements are not in the template; a test adds them), policy
variables with defaults, and the numeric/date/IP operators, none of which the stack uses.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

Statement = Mapping[str, Any]
Context = Mapping[str, str | Sequence[str]]
PLACEHOLDER = re.compile(r"\{\{([^}]+)\}\}")


# --- from the template ------------------------------------------------------------------


def role_policies(template: Mapping[str, Any], pseudo: Mapping[str, str]
                  ) -> dict[str, list[dict[str, Any]]]:
    """Role logical ID -> the statements of the stack's policies attached to it (not the
    managed policies it names), intrinsics resolved."""
    by_role: dict[str, list[dict[str, Any]]] = {}
    for body in template["Resources"].values():
        if body["Type"] != "AWS::IAM::Policy":
            continue
        document = resolve(body["Properties"]["PolicyDocument"], pseudo)
        for role in body["Properties"].get("Roles", []):
            by_role.setdefault(role["Ref"], []).extend(as_list(document["Statement"]))
    return by_role


def function_policies(template: Mapping[str, Any], pseudo: Mapping[str, str]
                      ) -> dict[str, list[dict[str, Any]]]:
    """FunctionName -> the statements its role's policies allow, intrinsics resolved."""
    resources: Mapping[str, Any] = template["Resources"]
    by_role = role_policies(template, pseudo)
    found: dict[str, list[dict[str, Any]]] = {}
    for body in resources.values():
        if body["Type"] != "AWS::Lambda::Function":
            continue
        props = body["Properties"]
        role = props["Role"]["Fn::GetAtt"][0]
        found[resolve(props["FunctionName"], pseudo)] = by_role.get(role, [])
    return found


def resolve(value: Any, pseudo: Mapping[str, str]) -> Any:
    """`value` with Ref/Fn::GetAtt/Fn::Join/Fn::Sub resolved (see the module docstring)."""
    if isinstance(value, list):
        return [resolve(v, pseudo) for v in value]
    if not isinstance(value, dict):
        return value
    if len(value) == 1:
        ((key, arg),) = value.items()
        if key == "Ref":
            return pseudo.get(arg, f"{{{{{arg}.Ref}}}}")
        if key == "Fn::GetAtt":
            return f"{{{{{arg[0]}.{arg[1]}}}}}"
        if key == "Fn::Join":
            return str(arg[0]).join(str(resolve(p, pseudo)) for p in arg[1])
        if key == "Fn::Sub":
            return _sub(arg, pseudo)
        if key.startswith("Fn::") or key == "Condition":
            raise NotImplementedError(f"intrinsic {key} in a policy: teach iampolicy.resolve")
    return {k: resolve(v, pseudo) for k, v in value.items()}


def _sub(arg: Any, pseudo: Mapping[str, str]) -> str:
    text, names = (arg, {}) if isinstance(arg, str) else (arg[0], arg[1])

    def one(match: re.Match[str]) -> str:
        name = match.group(1)
        if name in names:
            return str(resolve(names[name], pseudo))
        if name in pseudo:
            return pseudo[name]
        return f"{{{{{name if '.' in name else name + '.Ref'}}}}}"

    return re.sub(r"\$\{([^}!]+)\}", one, text)


def bind(statements: Iterable[Statement], bound: Mapping[str, str]) -> list[dict[str, Any]]:
    """The statements with each `{{Logical.Attribute}}` placeholder replaced as `bound` says."""

    def walk(value: Any) -> Any:
        if isinstance(value, str):
            return PLACEHOLDER.sub(lambda m: bound.get(m.group(1), m.group(0)), value)
        if isinstance(value, list):
            return [walk(v) for v in value]
        if isinstance(value, dict):
            return {k: walk(v) for k, v in value.items()}
        return value

    return [walk(dict(s)) for s in statements]


def allowed_actions(statements: Iterable[Statement]) -> set[str]:
    """Every action an Allow statement names (patterns as written)."""
    return {a for s in statements if s["Effect"] == "Allow" for a in as_list(s.get("Action"))}


# --- the evaluator ------------------------------------------------------------------------


@dataclass(frozen=True)
class Decision:
    allowed: bool
    why: str  # the deciding statement's Sid, or why nothing allowed it


def evaluate(statements: Iterable[Statement], action: str, resource: str,
             context: Context) -> Decision:
    """IAM's decision on `action` against `resource` with the request's `context` keys."""
    allow: str | None = None
    for s in statements:
        if not _applies(s, action, resource, context):
            continue
        sid = str(s.get("Sid", "(no Sid)"))
        if s["Effect"] == "Deny":
            return Decision(False, f"explicit deny by {sid}")
        allow = allow or sid
    if allow is not None:
        return Decision(True, allow)
    return Decision(False, "no statement allows it (implicit deny)")


def _applies(s: Statement, action: str, resource: str, context: Context) -> bool:
    if "NotAction" in s:
        if any(_like(p, action, fold=True) for p in as_list(s["NotAction"])):
            return False
    elif not any(_like(p, action, fold=True) for p in as_list(s.get("Action"))):
        return False
    if "NotResource" in s:
        if any(_like(p, resource) for p in _substituted(s["NotResource"], context)):
            return False
    elif not any(_like(p, resource) for p in _substituted(s.get("Resource"), context)):
        return False
    return all(
        _condition(op, key, _substituted(wanted, context), context)
        for op, keys in (s.get("Condition") or {}).items()
        for key, wanted in keys.items()
    )


_VARIABLE = re.compile(r"\$\{([^}]+)\}")


def _substituted(patterns: Any, context: Context) -> list[str]:
    """Policy variables (`${ec2:SourceInstanceARN}`) replaced by the request's single-valued
    context keys. A pattern whose variable the request lacks is dropped: it matches nothing
    ("IAM policy elements: Variables and tags": a missing key makes the element not match;
    default values `${key, 'x'}` are not modelled)."""
    kept = []
    for pattern in as_list(patterns):
        values = {name: _context_get(context, name) for name in _VARIABLE.findall(pattern)}
        if all(isinstance(v, str) for v in values.values()):
            kept.append(_replace_variables(pattern, {k: str(v) for k, v in values.items()}))
    return kept


def _replace_variables(pattern: str, values: Mapping[str, str]) -> str:
    return _VARIABLE.sub(lambda m: values[m.group(1)], pattern)


def _condition(op: str, key: str, wanted: list[str], context: Context) -> bool:
    """One condition operator on one key, as the IAM user guide defines them:
    - "Condition operators": a key absent from the request makes the condition false,
      except for the negated operators (StringNotEquals, ArnNotLike, ...), which are then
      true; `...IfExists` is true when the key is absent; `Null: true` is true when it is.
    - "Set operators for multivalued context keys": ForAllValues is true when every value
      of the request's key satisfies the operator, and so also when the key is absent or
      empty; ForAnyValue is true when at least one value does, so false when it is absent
      or empty. A negated operator applies to each value (ForAllValues:StringNotEquals:
      no value of the request equals any of the policy's).
    Several values in the policy are ORed; the negated operators negate that OR.
    """
    qualifier, _, base = op.rpartition(":")
    if_exists = base.endswith("IfExists")
    base = base.removesuffix("IfExists")
    values = as_list(_context_get(context, key))
    if base == "Null":
        return (not values) == (wanted[0].lower() == "true")
    match = _OPERATORS.get(base)
    if match is None:
        raise NotImplementedError(f"condition operator {op}: teach iampolicy._condition")
    negated = "Not" in base

    def satisfied(value: str) -> bool:
        hit = any(match(w, value) for w in wanted)
        return not hit if negated else hit

    if qualifier == "ForAllValues":
        return all(satisfied(v) for v in values)
    if qualifier == "ForAnyValue":
        return any(satisfied(v) for v in values)
    if qualifier:
        raise NotImplementedError(f"set operator {qualifier}: teach iampolicy._condition")
    if not values:
        return if_exists or negated
    # A single-valued operator on a key with several values: each must satisfy a negated
    # operator, any may satisfy a plain one (a policy should use a set operator instead).
    return all(satisfied(v) for v in values) if negated else any(satisfied(v) for v in values)


_OPERATORS: dict[str, Callable[[str, str], bool]] = {
    "StringEquals": lambda w, v: w == v,
    "StringNotEquals": lambda w, v: w == v,
    "StringEqualsIgnoreCase": lambda w, v: w.lower() == v.lower(),
    "StringNotEqualsIgnoreCase": lambda w, v: w.lower() == v.lower(),
    "StringLike": lambda w, v: _like(w, v),
    "StringNotLike": lambda w, v: _like(w, v),
    "ArnEquals": lambda w, v: _like(w, v),
    "ArnLike": lambda w, v: _like(w, v),
    "ArnNotEquals": lambda w, v: _like(w, v),
    "ArnNotLike": lambda w, v: _like(w, v),
    "Bool": lambda w, v: w.lower() == v.lower(),
}


def _context_get(context: Context, key: str) -> str | Sequence[str] | None:
    # Condition keys are case-insensitive; a tag key's own case is kept by AWS, so compare
    # the prefix loosely and the rest exactly.
    if key in context:
        return context[key]
    prefix, sep, rest = key.partition("/")
    for k, v in context.items():
        kp, ksep, krest = k.partition("/")
        if kp.lower() == prefix.lower() and ksep == sep and krest == rest:
            return v
    return None


def _like(pattern: str, value: str, fold: bool = False) -> bool:
    """IAM's wildcard match: `*` any run, `?` one character, nothing else special."""
    if fold:
        pattern, value = pattern.lower(), value.lower()
    return fnmatch.fnmatchcase(value, pattern.replace("[", "[[]"))


def as_list(value: Any) -> list[Any]:
    """A policy element as a list: IAM allows one value or a list of them."""
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]
