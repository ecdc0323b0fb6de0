"""What IAM sees of one API call: the action, the resource ARN and the request's context keys.

For each operation the functions call, the resource it is authorized against and the
condition keys AWS puts in the request context, taken from the Service Authorization
Reference ("Actions, resources, and condition keys for <service>"):
- Auto Scaling: SetDesiredCapacity, TerminateInstanceInAutoScalingGroup,
  CompleteLifecycleAction and RecordLifecycleActionHeartbeat act on the group
  (autoScalingGroup ARN) with aws:ResourceTag/<key> for its tags; the Describe* calls have
  no resource type (`*`).
- Secrets Manager GetSecretValue: the secret's full ARN (with the 6-character suffix).
- SSM GetParameter/PutParameter: arn:aws:ssm:<region>:<account>:parameter/<name>. For a
  SecureString, Parameter Store calls KMS with the caller's permissions (kms:Encrypt on
  PutParameter, kms:Decrypt on GetParameter WithDecryption, for a standard parameter), with
  kms:ViaService = ssm.<region>.amazonaws.com and the encryption context PARAMETER_ARN
  ("How AWS Systems Manager Parameter Store uses AWS KMS", KMS developer guide); those
  implied KMS requests are checked too.
Any other operation is authorized against `*` with no context keys: right for the many
actions without resource-level permissions, and strict for the others (a policy that
names their resources will not match `*`, so a missing model shows as AccessDenied).

Resource ARNs and tags are looked up in moto through an uncontrolled client.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import boto3

ACCOUNT = "123456789012"  # moto's default account


@dataclass(frozen=True)
class Request:
    action: str  # service:Operation
    resource: str
    context: Mapping[str, str | list[str]] = field(default_factory=dict)


Lookup = Callable[[str], Any]  # service -> an uncontrolled client on the same endpoint


def requests_for(prefix: str, operation: str, params: Mapping[str, Any], region: str,
                 lookup: Lookup) -> list[Request]:
    """The IAM requests one call of `prefix`:`operation` with `params` makes."""
    action = f"{prefix}:{operation}"
    model = _MODELS.get(action)
    if model is None:
        return [Request(action, "*")]
    return model(action, params, region, lookup)


def _group(action: str, params: Mapping[str, Any], region: str, lookup: Lookup
           ) -> list[Request]:
    client = lookup("autoscaling")
    name = params.get("AutoScalingGroupName")
    if name is None:  # TerminateInstanceInAutoScalingGroup names only the instance
        found = client.describe_auto_scaling_instances(InstanceIds=[params["InstanceId"]])
        instances = found["AutoScalingInstances"]
        if not instances:
            return [Request(action, "*")]
        name = instances[0]["AutoScalingGroupName"]
    groups = client.describe_auto_scaling_groups(AutoScalingGroupNames=[name])
    if not groups["AutoScalingGroups"]:
        arn = f"arn:aws:autoscaling:{region}:{ACCOUNT}:autoScalingGroup:unknown:" \
              f"autoScalingGroupName/{name}"
        return [Request(action, arn)]
    group = groups["AutoScalingGroups"][0]
    tags = {f"aws:ResourceTag/{t['Key']}": t["Value"] for t in group.get("Tags", [])}
    return [Request(action, group["AutoScalingGroupARN"], tags)]


def _secret(action: str, params: Mapping[str, Any], region: str, lookup: Lookup
            ) -> list[Request]:
    try:
        arn = lookup("secretsmanager").describe_secret(SecretId=params["SecretId"])["ARN"]
    except lookup("secretsmanager").exceptions.ResourceNotFoundException:
        # No such secret: IAM sees the ARN the name stands for (and AWS then answers
        # ResourceNotFoundException to a caller who may read it).
        secret = str(params["SecretId"])
        arn = secret if secret.startswith("arn:") else \
            f"arn:aws:secretsmanager:{region}:{ACCOUNT}:secret:{secret}"
    return [Request(action, arn)]


def _parameter_arn(name: str, region: str) -> str:
    return f"arn:aws:ssm:{region}:{ACCOUNT}:parameter/{name.lstrip('/')}"


def _parameter(action: str, params: Mapping[str, Any], region: str, lookup: Lookup
               ) -> list[Request]:
    arn = _parameter_arn(params["Name"], region)
    found = [Request(action, arn)]
    key: str | None = None
    if action == "ssm:PutParameter" and params.get("Type") == "SecureString":
        key = params.get("KeyId") or "alias/aws/ssm"
        # An advanced parameter is envelope-encrypted under a data key.
        kms_action = "kms:GenerateDataKey" if params.get("Tier") == "Advanced" else "kms:Encrypt"
    elif action == "ssm:GetParameter" and params.get("WithDecryption"):
        kms_action = "kms:Decrypt"
        key = _parameter_key(lookup, params["Name"])
    if key is not None:
        key_arn, aliases = _key(lookup, key, region)
        context: dict[str, str | list[str]] = {
            "kms:ViaService": f"ssm.{region}.amazonaws.com",
            "kms:EncryptionContext:PARAMETER_ARN": arn,
            "kms:ResourceAliases": aliases,
        }
        if "alias/" in key:
            context["kms:RequestAlias"] = "alias/" + key.split(":alias/", 1)[-1].removeprefix(
                "alias/")
        found.append(Request(kms_action, key_arn, context))
    return found


def _parameter_key(lookup: Lookup, name: str) -> str | None:
    ssm = lookup("ssm")
    described = ssm.describe_parameters(ParameterFilters=[{"Key": "Name", "Values": [name]}])
    for p in described["Parameters"]:
        if p.get("Type") == "SecureString":
            return str(p.get("KeyId") or "alias/aws/ssm")
    return None


def _key(lookup: Lookup, key: str, region: str) -> tuple[str, list[str]]:
    """(the key's ARN, the names of its aliases) for a key id, key ARN, alias or alias ARN.

    KMS authorizes a request against the KMS key, never the alias it was named by, and puts
    the key's aliases in kms:ResourceAliases and the alias used in kms:RequestAlias ("ABAC
    for AWS KMS", "AWS KMS condition keys", KMS developer guide). The key is looked up in
    the parameter's region; an unknown one stays as named (matching no key/* resource)."""
    kms = lookup(f"kms@{region}")
    try:
        meta = kms.describe_key(KeyId=key)["KeyMetadata"]
    except kms.exceptions.NotFoundException:
        arn = key if key.startswith("arn:") else \
            f"arn:aws:kms:{region}:{ACCOUNT}:{key if key.startswith('alias/') else 'key/' + key}"
        return arn, []
    aliases = kms.list_aliases(KeyId=meta["KeyId"]).get("Aliases", [])
    return str(meta["Arn"]), [str(a["AliasName"]) for a in aliases]


_MODELS: dict[str, Callable[[str, Mapping[str, Any], str, Lookup], list[Request]]] = {
    "autoscaling:SetDesiredCapacity": _group,
    "autoscaling:TerminateInstanceInAutoScalingGroup": _group,
    "autoscaling:CompleteLifecycleAction": _group,
    "autoscaling:RecordLifecycleActionHeartbeat": _group,
    "secretsmanager:GetSecretValue": _secret,
    "ssm:GetParameter": _parameter,
    "ssm:PutParameter": _parameter,
}


def admin_lookup(endpoint: str | None, region: str) -> Lookup:
    """Clients with the test's own (uncontrolled) keys on `endpoint`."""
    session = boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing",
                            region_name=region)
    made: dict[str, Any] = {}

    def lookup(service: str) -> Any:
        """A client of `service`, or of `service@region` in another region."""
        if service not in made:
            name, _, elsewhere = service.partition("@")
            made[service] = session.client(name, endpoint_url=endpoint,
                                           region_name=elsewhere or region)
        return made[service]

    return lookup
