"""The controller's cluster credentials in Secrets Manager: JSON {endpoint, ca, token}."""

from __future__ import annotations

import json

from burst.adapters.aws.session import Clients, calling
from burst.core.errors import AwsError, ClusterCredentialsError
from burst.ports.aws import ClusterCredentials


class SecretsManagerCredentials:
    """The CredentialsStore and CredentialsWriter ports over Secrets Manager."""

    def __init__(self, clients: Clients) -> None:
        self.clients = clients

    def read_cluster_credentials(self, secret_id: str) -> ClusterCredentials:
        """The API server endpoint, CA and token from Secrets Manager JSON {endpoint, ca, token}.

        Read-only. Raises ClusterCredentialsError if the secret is missing or malformed,
        the transient errors, or AwsError (e.g. AccessDeniedException, DecryptionFailure).
        """
        try:
            with calling("GetSecretValue"):
                reply = self.clients.client("secretsmanager").get_secret_value(
                    SecretId=secret_id
                )
        except AwsError as exc:
            if exc.code == "ResourceNotFoundException":
                raise ClusterCredentialsError(f"secret {secret_id}: not found") from exc
            raise
        if "SecretString" not in reply:
            raise ClusterCredentialsError(f"secret {secret_id}: binary, expected a JSON string")
        return ClusterCredentials.from_json(reply["SecretString"], source=f"secret {secret_id}")

    def write_cluster_credentials(self, secret_id: str, credentials: ClusterCredentials) -> None:
        """Store {endpoint, ca, token} as the secret's new current version (PutSecretValue).

        The secret must exist (its name, KMS key and policy are the operator's choice).
        Idempotent in effect: writing the same value again only adds a version. Raises
        ClusterCredentialsError if the secret is missing, else the transient errors or
        AwsError. The token is never logged.
        """
        value = json.dumps(
            {"endpoint": credentials.endpoint, "ca": credentials.ca, "token": credentials.token}
        )
        try:
            with calling("PutSecretValue"):
                self.clients.client("secretsmanager").put_secret_value(
                    SecretId=secret_id, SecretString=value
                )
        except AwsError as exc:
            if exc.code == "ResourceNotFoundException":
                raise ClusterCredentialsError(
                    f"secret {secret_id}: not found (create it first)"
                ) from exc
            raise
