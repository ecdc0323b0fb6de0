"""What a node reads to join, as the stacks hand it to the constructs that grant it."""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import aws_kms as kms


@dataclass(frozen=True)
class JoinParameter:
    """One region's join-data SecureString parameter: its name and ARN, the key that
    encrypts it, and that key's alias (the same in every region, which is how the tokens
    function finds another region's key)."""

    name: str
    arn: str
    key: kms.IKey
    key_alias: str


@dataclass(frozen=True)
class NodeSecrets:
    """What a booting node reads before it joins: the join parameter and the VPN secret."""

    join: JoinParameter
    vpn_secret_arn: str
