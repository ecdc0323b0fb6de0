"""cdk-nag 3 acknowledgements: every suppression goes through here, with its reason."""

from __future__ import annotations

from aws_cdk import Acknowledgment, Validations
from constructs import IConstruct


def acknowledge(scope: IConstruct, rule: str, reason: str) -> None:
    """Suppresses one finding (`AwsSolutions-X` or `AwsSolutions-X[finding]`) on `scope`."""
    Validations.of(scope).acknowledge(Acknowledgment(id=rule, reason=reason))
