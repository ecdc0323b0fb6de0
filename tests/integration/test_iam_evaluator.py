"""The IAM evaluator (iampolicy.evaluate) against AWS's documented semantics.

Each case is taken from the IAM user guide: "IAM JSON policy elements: Condition
operators" (absent keys: false, except the negated operators and ...IfExists, which are
true; Null), "Set operators for multivalued context keys" (ForAllValues true for an
absent or empty key, ForAnyValue false), and its table for
`"ForAllValues:StringNotLike": {"aws:TagKeys": "key1*"}` ("Multivalued context key
examples"). The evaluator decides what every end-to-end test may call, so it is tested
on its own here, against the documents, not against the stack it judges.
"""

from __future__ import annotations

from typing import Any

import pytest
from iampolicy import Context, evaluate

ACTION, RESOURCE = "ec2:CreateTags", "arn:aws:ec2:us-east-1:123456789012:instance/i-1"
ABSENT = object()

# (operator, key, policy values, the request's value or ABSENT, the condition's result)
CASES: list[tuple[str, str, Any, Any, bool]] = [
    ("StringEquals", "k", "a", "a", True),
    ("StringEquals", "k", "a", "b", False),
    ("StringEquals", "k", ["a", "b"], "b", True),  # the policy's values are ORed
    ("StringEquals", "k", "a", ABSENT, False),
    ("StringEquals", "k", "a", "A", False),
    ("StringNotEquals", "k", "a", "a", False),
    ("StringNotEquals", "k", "a", "b", True),
    ("StringNotEquals", "k", ["a", "b"], "b", False),  # not any of them
    ("StringNotEquals", "k", "a", ABSENT, True),  # negated: an absent key is true
    ("StringEqualsIgnoreCase", "k", "a", "A", True),
    ("StringNotEqualsIgnoreCase", "k", "a", "A", False),
    ("StringLike", "k", "fpga-*", "fpga-burst", True),
    ("StringLike", "k", "fpga-?", "fpga-12", False),
    ("StringLike", "k", "fpga-*", ABSENT, False),
    ("StringNotLike", "k", "fpga-*", "other", True),
    ("StringNotLike", "k", "fpga-*", ABSENT, True),
    ("ArnEquals", "k", "arn:aws:ec2:*:*:instance/i-1", RESOURCE, True),
    ("ArnLike", "k", "arn:aws:ec2:*:*:instance/*", RESOURCE, True),
    ("ArnNotEquals", "k", RESOURCE, RESOURCE, False),
    ("ArnNotLike", "k", "arn:aws:ec2:*:*:instance/*", ABSENT, True),
    ("Bool", "aws:SecureTransport", "true", "true", True),
    ("Bool", "aws:SecureTransport", "true", "false", False),
    ("Bool", "aws:SecureTransport", "true", ABSENT, False),
    ("BoolIfExists", "aws:SecureTransport", "true", ABSENT, True),
    ("StringEqualsIfExists", "k", "a", ABSENT, True),
    ("StringEqualsIfExists", "k", "a", "b", False),
    ("Null", "k", "true", ABSENT, True),
    ("Null", "k", "true", "a", False),
    ("Null", "k", "false", "a", True),
    ("Null", "k", "false", ABSENT, False),
    # Set operators: every value (ForAllValues) or any value (ForAnyValue) of the request
    ("ForAllValues:StringLike", "aws:TagKeys", "Created*", ["CreatedBy", "CreatedAt"], True),
    ("ForAllValues:StringLike", "aws:TagKeys", "Created*", ["CreatedBy", "Owner"], False),
    ("ForAllValues:StringEquals", "aws:TagKeys", ["a", "b"], ["a"], True),
    ("ForAllValues:StringEquals", "aws:TagKeys", "a", ABSENT, True),
    ("ForAllValues:StringEquals", "aws:TagKeys", "a", [], True),
    # the user guide's table for a Deny with "ForAllValues:StringNotLike": "key1*"
    ("ForAllValues:StringNotLike", "aws:TagKeys", "key1*", ["key1:legal"], False),
    ("ForAllValues:StringNotLike", "aws:TagKeys", "key1*", ["key1:hr", "key1:personnel"],
     False),
    ("ForAllValues:StringNotLike", "aws:TagKeys", "key1*", ["key2:audit"], True),
    ("ForAllValues:StringNotLike", "aws:TagKeys", "key1*", ABSENT, True),
    ("ForAllValues:StringNotEquals", "aws:TagKeys", "a", ["b", "c"], True),
    ("ForAllValues:StringNotEquals", "aws:TagKeys", "a", ["a", "b"], False),
    ("ForAnyValue:StringEquals", "aws:TagKeys", "a", ["b", "a"], True),
    ("ForAnyValue:StringEquals", "aws:TagKeys", "a", ["b"], False),
    ("ForAnyValue:StringEquals", "aws:TagKeys", "a", ABSENT, False),
    ("ForAnyValue:StringEquals", "aws:TagKeys", "a", [], False),
    ("ForAnyValue:StringNotEquals", "aws:TagKeys", "a", ["a"], False),
    ("ForAnyValue:StringNotEquals", "aws:TagKeys", "a", ["a", "b"], True),
    ("ForAnyValue:StringNotEquals", "aws:TagKeys", "a", ABSENT, False),
]


def _allow(operator: str, key: str, wanted: Any) -> list[dict[str, Any]]:
    return [{"Sid": "Only", "Effect": "Allow", "Action": ACTION, "Resource": RESOURCE,
             "Condition": {operator: {key: wanted}}}]


def _context(key: str, value: Any) -> Context:
    return {} if value is ABSENT else {key: value}


@pytest.mark.parametrize(
    ("operator", "key", "wanted", "value", "expected"), CASES,
    ids=[f"{c[0]} {c[2]} vs {'absent' if c[3] is ABSENT else c[3]}" for c in CASES])
def test_each_condition_operator_decides_as_aws_documents(
    operator: str, key: str, wanted: Any, value: Any, expected: bool
) -> None:
    decision = evaluate(_allow(operator, key, wanted), ACTION, RESOURCE, _context(key, value))
    assert decision.allowed is expected, decision.why


def test_an_explicit_deny_wins_over_any_allow() -> None:
    statements = [
        {"Sid": "All", "Effect": "Allow", "Action": "ec2:*", "Resource": "*"},
        {"Sid": "NotOthers", "Effect": "Deny", "Action": ACTION,
         "NotResource": "arn:aws:ec2:*:*:instance/i-2"},
    ]
    assert evaluate(statements, ACTION, RESOURCE, {}).why == "explicit deny by NotOthers"
    assert evaluate(statements, ACTION, RESOURCE.replace("i-1", "i-2"), {}).allowed


def test_an_operator_it_does_not_model_is_refused_not_guessed() -> None:
    with pytest.raises(NotImplementedError, match="NumericLessThan"):
        evaluate(_allow("NumericLessThan", "k", "1"), ACTION, RESOURCE, {"k": "0"})
