"""The action inventory: every action a function's role is allowed is called by our code
or justified in stacks/controller/grants.py (CALLED_BY_AWS), and nothing there is stale.

The full table, with what the end-to-end suites saw each function call under enforcement,
is printed by the integration suites when $FPGA_BURST_IAM_RECORD is set (docs/security.md, "Action
inventory").
"""

from __future__ import annotations

from aws_cdk.assertions import Template
from iaminventory import called_in_code, inventory  # tests/integration: pytest's pythonpath
from iampolicy import function_policies

from stacks.controller.grants import CALLED_BY_AWS

PSEUDO = {"AWS::Partition": "aws", "AWS::Region": "us-east-1", "AWS::AccountId": "123456789012",
          "AWS::URLSuffix": "amazonaws.com"}


def test_every_allowed_action_is_called_by_the_adapters_or_justified(template: Template) -> None:
    policies = function_policies(template.to_json(), PSEUDO)
    rows = inventory(policies, [], CALLED_BY_AWS)

    unexplained = [f"{r.action} (allowed to {', '.join(r.allowed_to)})" for r in rows
                   if r.allowed_to and not r.in_code and not r.why]
    assert not unexplained, "allowed but never called, and not justified in grants.py:\n" + \
        "\n".join(unexplained)
    stale = sorted(set(CALLED_BY_AWS) - {r.action for r in rows if r.allowed_to})
    assert not stale, f"justified in grants.py but allowed to no function: {stale}"
    assert not [a for a in CALLED_BY_AWS if a in called_in_code()], \
        "CALLED_BY_AWS names an action our own code calls"


def test_the_scan_finds_the_calls_the_adapters_make() -> None:
    called = called_in_code()
    # one of each way the adapters name a call: a method, a paginator, a dynamic name
    assert called["autoscaling:SetDesiredCapacity"] == {"capacity.py"}
    assert called["autoscaling:DescribeAutoScalingGroups"] >= {"groups.py"}
    assert called["autoscaling:CompleteLifecycleAction"] == {"lifecycle.py"}
    assert called["ssm:PutParameter"] == {"ssm.py"}
