"""The deployment's own KMS keys, all made alike."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_kms as kms
from constructs import Construct


def own_key(scope: Construct, id: str, *, description: str) -> kms.Key:
    """A customer-managed key, rotated yearly, deleted with the stack after the shortest
    pending window (7 days): what it encrypts is rewritten by the deployment anyway."""
    return kms.Key(
        scope,
        id,
        description=description,
        enable_key_rotation=True,
        removal_policy=RemovalPolicy.DESTROY,
        pending_window=Duration.days(7),
    )
