"""The join data in an SSM SecureString parameter: read it, publish it. Never logged."""

from __future__ import annotations

import logging

from burst.adapters.aws.session import Clients, calling
from burst.core.errors import AwsError
from burst.ports.aws import JoinData

log = logging.getLogger(__name__)


class SsmJoinStore:
    """The JoinStore port over SSM Parameter Store, in one region (None: home)."""

    def __init__(self, clients: Clients, region: str | None = None) -> None:
        self.clients = clients
        self.region = region

    def read_join_data(self, name: str) -> JoinData | None:
        """The join data in SSM parameter `name`, decrypted; None if absent or unreadable.

        Read-only. A value that is not join data is treated as absent (a warning without
        the value), so the tokens function overwrites it. Raises the transient errors or
        AwsError (e.g. AccessDeniedException from KMS).
        """
        try:
            with calling("GetParameter"):
                reply = self.clients.client("ssm", self.region).get_parameter(
                    Name=name, WithDecryption=True
                )
        except AwsError as exc:
            if exc.code == "ParameterNotFound":
                return None
            raise
        try:
            return JoinData.from_json(reply["Parameter"]["Value"])
        except (ValueError, KeyError, TypeError):
            log.warning("SSM parameter %s does not hold join data; treating it as absent", name)
            return None

    def publish_join_data(self, name: str, data: JoinData, kms_key_id: str) -> None:
        """Write `data` as JSON to SecureString parameter `name`, encrypted with `kms_key_id`.

        Idempotent (Overwrite=True: the parameter's version grows, its value is the same).
        The value is never logged. Raises the transient errors or AwsError (e.g.
        AccessDeniedException, or KMS errors such as KMSInvalidStateException).
        """
        with calling("PutParameter"):
            reply = self.clients.client("ssm", self.region).put_parameter(
                Name=name,
                Value=data.to_json(),
                Type="SecureString",
                KeyId=kms_key_id,
                Overwrite=True,
                # Standard whatever the account's default tier: KMS Encrypt, not the advanced
                # tier's GenerateDataKey, is what the tokens function's role may call.
                Tier="Standard",
            )
        region = self.region or self.clients.home_region
        log.info(
            "published join data to %s in %s (version %s, expires %s)",
            name, region, reply.get("Version"), data.expiration.isoformat(),
            extra={"parameter": name, "region": region,
                   "expiration": data.expiration.isoformat()},
        )
