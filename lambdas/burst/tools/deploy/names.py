"""Names the CDK app gives what it deploys, for the tools that find them again."""

from __future__ import annotations


def region_stack(stack_name: str, region: str) -> str:
    """The stack of the node groups in `region` besides the home one (stacks/region.py);
    the home stack is `stack_name` itself."""
    return f"{stack_name}-{region}"
