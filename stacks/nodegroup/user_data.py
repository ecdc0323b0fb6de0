"""The node's user data: non-secret settings, then the bootstrap script itself.

Shipping bootstrap.sh inside the user data (≈9 KB of the 16 KB limit, its comment lines
left in the repository) means the AMI needs only packages, not our script, and a change
to the script rolls out with the launch template. Only names travel here; secrets are read
at boot with the instance role.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping, Sequence
from pathlib import Path

from burst.core.asgtags import JOIN_ERROR_TAG
from burst.core.model import Taint

BOOTSTRAP = Path(__file__).with_name("bootstrap.sh")
_COMMENT = re.compile(r"^\s*#( |$)")
# The instance tag a node that fails to join writes: "<step>: <message>" (bootstrap.sh).


def settings(
    *,
    region: str,
    join_parameter: str,
    vpn_secret_arn: str,
    joined_profile: str,
    labels: Mapping[str, str],
    taints: Sequence[Taint],
) -> dict[str, str]:
    return {
        "FPGA_BURST_REGION": region,
        "FPGA_BURST_JOIN_PARAMETER": join_parameter,
        "FPGA_BURST_VPN_SECRET": vpn_secret_arn,
        # The instance profile a joined node swaps to, by name (construct.NodeAccess).
        "FPGA_BURST_JOINED_PROFILE": joined_profile,
        "FPGA_BURST_JOIN_ERROR_TAG": JOIN_ERROR_TAG,
        "FPGA_BURST_NODE_LABELS": ",".join(f"{k}={v}" for k, v in sorted(labels.items())),
        "FPGA_BURST_NODE_TAINTS": ",".join(str(t) for t in taints),
    }


def render(values: Mapping[str, str]) -> str:
    """The user-data script: `export` lines, then bootstrap.sh without its shebang and its
    comment-only lines (they explain it here; on the instance they only count against
    EC2's 16 KB user-data limit)."""
    script = BOOTSTRAP.read_text(encoding="utf-8")
    shebang, _, body = script.partition("\n")
    body = "".join(line for line in body.splitlines(keepends=True)
                   if not _COMMENT.match(line))
    exports = "".join(f"export {k}={shlex.quote(v)}\n" for k, v in values.items())
    header = "# Settings written by fpga-burst (stacks/nodegroup/user_data.py).\n"
    return f"{shebang}\n{header}{exports}{body}"
