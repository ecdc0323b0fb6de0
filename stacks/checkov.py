"""checkov suppressions: every skipped check goes through here, with its reason.

checkov reads `Metadata.checkov.skip: [{id, comment}]` on a CloudFormation resource
(checkov docs, "Suppressing and Skipping Policies"); tests/cdk/test_checks.py runs checkov on
the synthesized template and requires 0 failed checks and a comment on every skip.
"""

from __future__ import annotations

from aws_cdk import CfnResource
from constructs import IConstruct

# Lambda's checks that every function of the controller skips, and why.
FUNCTION_SKIPS = (
    ("CKV_AWS_116",
     "A failed async event goes to the failure queue through an on-failure destination "
     "(EventInvokeConfig), which keeps the error and the request; a DeadLetterConfig "
     "as well would deliver each failure twice."),
    ("CKV_AWS_173",
     "The environment holds settings and ARNs only (the cluster token is in Secrets "
     "Manager, the join data in a KMS-encrypted SecureString); Lambda encrypts it at rest "
     "with its service key, and a customer key would add a key and grants for nothing secret."),
)
LOG_GROUP_SKIP = (
    "CKV_AWS_158",
    "CloudWatch Logs encrypts at rest with service keys; the functions log no secrets "
    "(tokens never, botocore's wire bodies filtered: burst.adapters.aws.session), so a "
    "customer key would add cost and a key policy for nothing secret.",
)


def skip(scope: IConstruct, check: str, why: str) -> None:
    """Skips checkov `check` on the CloudFormation resource behind `scope`, saying why."""
    resource = scope if isinstance(scope, CfnResource) else scope.node.default_child
    assert isinstance(resource, CfnResource), f"{scope.node.path}: no CloudFormation resource"
    found = resource.get_metadata("checkov") or {}
    skips = [*found.get("skip", []), {"id": check, "comment": why}]
    resource.add_metadata("checkov", {**found, "skip": skips})
