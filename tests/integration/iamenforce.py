"""The functions' AWS calls under their synthesized IAM policies, in the end-to-end suites.

The app is synthesized in-process, as tests/cdk does, with a deployment config of the test
world (tests/integration/iam-deploy.yaml: cluster `onprem`, moto's account and region,
the groups and secret the suites create). Each function's role policies are read from the
template (iampolicy.function_policies) and each function gets its own access key
(`credentials(function)`); moto accepts any key, so the key is how a call is tied to its
function.

A botocore handler on every client of every session (`install`, like moto's own
`botocore_stubber`) sees each call before it is sent or stubbed (before-call, ahead of a
Stubber's handler, so the calls a Stubber answers are checked too). If the client's key is
a function's, the call is turned into its IAM requests (iamrequests) and decided by
iampolicy.evaluate; a denied call gets AccessDenied back, as from AWS, and is kept in
`ENFORCER.denied` — the suites' autouse fixture fails the test with it, whatever the
handler did with the error. Clients with other keys (the tests' own view of moto) pass
unchecked. Every checked request is kept in `ENFORCER.calls` for the action inventory
(iaminventory.report, at the end of the suites' run).

Why not moto's own enforcement (INITIAL_NO_AUTH_ACTION_COUNT): moto 5.2.1 authorizes
every non-S3 request against Resource `*` and compares Condition blocks only for
sts:AssumeRole (moto/iam/access_control.py), so a statement on an ASG or parameter ARN
would never match and conditions would not be checked.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import botocore.handlers
from botocore.awsrequest import AWSResponse
from iampolicy import Decision, as_list, bind, evaluate, function_policies
from iamrequests import ACCOUNT, Request, admin_lookup, requests_for

REPO = Path(__file__).resolve().parents[2]
DEPLOY_CONFIG = Path(__file__).with_name("iam-deploy.yaml")
PREFIX = "fpga-burst-onprem-"  # FunctionName = fpga-burst-<cluster>-<function>
RECORD_ENV = "FPGA_BURST_IAM_RECORD"  # where to write the checked calls, if set


def access_key(function: str) -> str:
    return f"AKIAFPGABURST{function.upper()}"


def credentials(function: str) -> dict[str, str]:
    """The environment variables that make a handler run as `function`."""
    return {"AWS_ACCESS_KEY_ID": access_key(function),
            "AWS_SECRET_ACCESS_KEY": f"iam-enforced-{function}"}


def session_keys(function: str) -> dict[str, str]:
    """The keyword arguments that make a boto3.Session act as `function`."""
    env = credentials(function)
    return {"aws_access_key_id": env["AWS_ACCESS_KEY_ID"],
            "aws_secret_access_key": env["AWS_SECRET_ACCESS_KEY"]}


@cache
def synthesized() -> tuple[dict[str, list[dict[str, Any]]], dict[str, str]]:
    """(function -> statements, logical ID -> resource type) of the test world's app."""
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
    import tempfile

    from aws_cdk import App
    from aws_cdk.assertions import Template

    from burst.tools.deploy.config import load
    from stacks.stack import FpgaBurstStack

    context = json.loads((REPO / "cdk.json").read_text())["context"]
    with tempfile.TemporaryDirectory() as out:
        app = App(outdir=out, context=context)
        template = Template.from_stack(FpgaBurstStack(app, config=load(DEPLOY_CONFIG)))
        doc = template.to_json()
    pseudo = {"AWS::Partition": "aws", "AWS::Region": "us-east-1", "AWS::AccountId": ACCOUNT,
              "AWS::URLSuffix": "amazonaws.com"}
    policies = {name.removeprefix(PREFIX): statements
                for name, statements in function_policies(doc, pseudo).items()}
    types = {logical: body["Type"] for logical, body in doc["Resources"].items()}
    return policies, types


@dataclass(frozen=True)
class Checked:
    function: str
    operation: str  # service:Operation as called
    request: Request
    decision: Decision


@dataclass
class Enforcer:
    """Who holds which key, what stands in for the stack's own resources, what was seen."""

    removed: dict[str, set[str]] = field(default_factory=dict)  # function -> actions taken away
    bound: dict[str, str] = field(default_factory=dict)  # "Logical.Attribute" -> value
    calls: list[Checked] = field(default_factory=list)
    denied: list[Checked] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def statements(self, function: str) -> list[dict[str, Any]]:
        policies, _ = synthesized()
        taken = self.removed.get(function, set())
        kept = []
        for s in bind(policies.get(function, []), self.bound):
            actions = [a for a in as_list(s.get("Action")) if a not in taken]
            if actions or "NotAction" in s:
                kept.append({**s, "Action": actions} if "Action" in s else s)
        return kept

    def bind_type(self, resource_type: str, attribute: str, value: str) -> None:
        """Every resource of `resource_type` in the stack is, for the policies, `value`."""
        _, types = synthesized()
        for logical, kind in types.items():
            if kind == resource_type:
                self.bound[f"{logical}.{attribute}"] = value

    @contextmanager
    def without(self, function: str, action: str) -> Iterator[None]:
        """`function`'s policies without `action`, for as long as the block runs."""
        self.removed.setdefault(function, set()).add(action)
        try:
            yield
        finally:
            self.removed[function].discard(action)

    def check(self, function: str, operation: str, requests: list[Request]) -> Checked | None:
        statements = self.statements(function)
        first_denied = None
        for request in requests:
            decision = evaluate(statements, request.action, request.resource, request.context)
            seen = Checked(function, operation, request, decision)
            with self.lock:
                self.calls.append(seen)
                if not decision.allowed:
                    self.denied.append(seen)
            first_denied = first_denied or (None if decision.allowed else seen)
        return first_denied

    def write_record(self, path: Path) -> None:
        rows = sorted({(c.function, c.operation, c.request.action, c.decision.allowed)
                       for c in self.calls})
        path.write_text(json.dumps(
            [{"function": f, "operation": o, "action": a, "allowed": ok}
             for f, o, a, ok in rows], indent=1))


ENFORCER = Enforcer()
_FUNCTIONS_BY_KEY: dict[str, str] = {}


def register(*functions: str) -> None:
    for function in functions:
        _FUNCTIONS_BY_KEY[access_key(function)] = function


def _stash_params(params: Mapping[str, Any], context: dict[str, Any], **_: Any) -> None:
    context["iam_params"] = dict(params)


def _before_call(model: Any, params: Mapping[str, Any], request_signer: Any,
                 context: Mapping[str, Any], **_: Any) -> Any:
    # RequestSigner keeps its credentials private; they are how a call names its function.
    creds = getattr(request_signer, "_credentials", None)
    function = _FUNCTIONS_BY_KEY.get(getattr(creds, "access_key", None) or "")
    if function is None:
        return None
    service = model.service_model
    prefix = service.signing_name
    region = request_signer.region_name
    url = urlsplit(params["url"])
    # moto_server serves every service on one endpoint; in-process moto (mock_aws) answers
    # AWS's own endpoints, which differ by service (a lookup may ask another service).
    aws_own = url.netloc.endswith(".amazonaws.com")
    lookup = _lookup(None if aws_own else f"{url.scheme}://{url.netloc}", region)
    requests = requests_for(prefix, model.name, context.get("iam_params", {}), region, lookup)
    denied = ENFORCER.check(function, f"{prefix}:{model.name}", requests)
    if denied is None:
        return None
    message = (f"User: arn:aws:sts::{ACCOUNT}:assumed-role/{function}/{function} is not "
               f"authorized to perform: {denied.request.action} on resource: "
               f"{denied.request.resource} ({denied.decision.why})")
    body = {"Error": {"Code": "AccessDenied", "Message": message},
            "ResponseMetadata": {"HTTPStatusCode": 403}}
    return AWSResponse(params["url"], 403, {}, None), body


@cache
def _lookup(endpoint: str | None, region: str) -> Any:
    return admin_lookup(endpoint, region)


_INSTALLED = False


def install() -> None:
    """Check every session made from now on (botocore copies BUILTIN_HANDLERS into each)."""
    global _INSTALLED
    if _INSTALLED:
        return
    # Under the same event names as botocore's Stubber, and first: more specific names run
    # before less specific ones, so a plain "before-call" would come after a Stubber's answer.
    botocore.handlers.BUILTIN_HANDLERS.append(("before-parameter-build.*.*", _stash_params))
    botocore.handlers.BUILTIN_HANDLERS.append(
        ("before-call.*.*", _before_call, botocore.handlers.REGISTER_FIRST))
    register("scaler", "lifecycle", "tokens")
    _INSTALLED = True
