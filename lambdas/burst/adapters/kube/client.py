"""The connection to the API server, and the translation of its failures into burst.core.errors.

Every call goes through `Kube.call`, which adds a timeout, asks for the raw JSON (the client's
model classes are several times slower to build, see benchmarks/cluster/list_pods.py) and turns
`ApiException` and urllib3 errors into our typed errors. The client does not retry: a
failed call surfaces at once and the next tick retries the whole, idempotent step.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import tempfile
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import urllib3
from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException
from kubernetes.config.kube_config import load_kube_config

from burst.core.errors import (
    ClusterCredentialsError,
    ClusterUnreachableError,
    ConfigError,
    KubeApiError,
    KubeConflictError,
    KubeForbiddenError,
    KubeNotFoundError,
    KubeThrottledError,
    KubeUnauthorizedError,
)
from burst.ports.aws import ClusterCredentials

log = logging.getLogger(__name__)

Json = dict[str, Any]


@dataclass(frozen=True)
class Timeouts:
    """Seconds to connect and to wait for an answer, for every call."""

    connect: float = 5.0
    read: float = 20.0


class Kube:
    """One API server connection, as one identity. Use as a context manager, or close()."""

    def __init__(self, api_client: k8s.ApiClient, timeouts: Timeouts | None = None) -> None:
        self.api_client = api_client
        self.timeouts = timeouts or Timeouts()
        self.core = k8s.CoreV1Api(api_client)
        self.policy = k8s.PolicyV1Api(api_client)
        self.rbac = k8s.RbacAuthorizationV1Api(api_client)
        self.authn = k8s.AuthenticationV1Api(api_client)
        self.admission = k8s.AdmissionregistrationV1Api(api_client)

    @property
    def endpoint(self) -> str:
        return str(self.api_client.configuration.host)

    def call(self, operation: str, method: Callable[..., Any], *args: Any, **kwargs: Any) -> Json:
        """`method(*args, **kwargs)` with a timeout; the answer's JSON, or a typed error.

        `operation` names the call in errors and logs ("patch node n1"); it must never
        contain a secret.
        """
        kwargs.setdefault("_request_timeout", (self.timeouts.connect, self.timeouts.read))
        kwargs["_preload_content"] = False
        with self._translated(operation):
            body = method(*args, **kwargs).data
            result: Json = json.loads(body) if body else {}
        return result

    def watch(
        self, operation: str, method: Callable[..., Any], timeout: float, **kwargs: Any
    ) -> Generator[Json, None, None]:
        """The events of a watch that the API server ends after `timeout` seconds.

        Close the iterator (contextlib.closing) when leaving early: that closes the
        connection, which still has a stream on it.
        """
        kwargs.update(
            watch=True,
            timeout_seconds=max(1, int(timeout)),
            _preload_content=False,
            _request_timeout=(self.timeouts.connect, timeout + self.timeouts.read),
        )
        with self._translated(operation):
            response = method(**kwargs)
        try:
            with self._translated(operation):
                for line in response:
                    if line.strip():
                        yield json.loads(line)
        finally:
            response.close()

    @contextlib.contextmanager
    def _translated(self, operation: str) -> Iterator[None]:
        try:
            yield
        except ApiException as exc:
            raise translate(operation, exc) from exc
        except AttributeError as exc:
            # The client decodes the body of every ApiException, and a TLS failure has none.
            if isinstance(exc.__context__, ApiException):
                raise translate(operation, exc.__context__) from exc.__context__
            raise
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise ClusterUnreachableError(f"{operation}: {type(exc).__name__}") from exc
        except ValueError as exc:
            raise ClusterUnreachableError(f"{operation}: answer is not JSON") from exc

    def close(self) -> None:
        self.api_client.close()

    def __enter__(self) -> Kube:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def translate(operation: str, exc: ApiException) -> Exception:
    """The burst error for an ApiException: the shell retries TransientError, not the rest."""
    status = int(exc.status or 0)
    reason, message = _status_reason(exc)
    if status == 0:
        # The client reports TLS failures (e.g. a CA that does not match) with status 0.
        return ClusterUnreachableError(f"{operation}: TLS: {exc.reason}")
    if status == 429:
        return KubeThrottledError(f"{operation}: 429 {reason}: {message}")
    if status >= 500:
        return ClusterUnreachableError(f"{operation}: {status} {reason}: {message}")
    kind: type[KubeApiError] = {
        401: KubeUnauthorizedError,
        403: KubeForbiddenError,
        404: KubeNotFoundError,
        409: KubeConflictError,
    }.get(status, KubeApiError)
    return kind(operation, status, reason, message)


def _status_reason(exc: ApiException) -> tuple[str, str]:
    """Reason and message from the metav1.Status body, when the server sent one."""
    try:
        status = json.loads(exc.body or b"")
    except (ValueError, TypeError):
        return str(exc.reason or ""), ""
    if not isinstance(status, dict):
        return str(exc.reason or ""), ""
    return str(status.get("reason") or exc.reason or ""), str(status.get("message") or "")


def _configured(configuration: k8s.Configuration) -> k8s.Configuration:
    # No urllib3 retries: a paused API server would otherwise cost 4 timeouts per call.
    configuration.retries = False
    return configuration


def from_kubeconfig(
    path: Path, context: str | None = None, timeouts: Timeouts | None = None
) -> Kube:
    """A client from a kubeconfig file; ConfigError naming the file if it is unusable."""
    if not path.is_file():
        raise ConfigError(str(path), "", "no such kubeconfig file")
    configuration = k8s.Configuration()
    try:
        load_kube_config(
            config_file=str(path), context=context, client_configuration=configuration,
            persist_config=False,
        )
    except (ConfigException, ValueError, TypeError, KeyError) as exc:
        raise ConfigError(str(path), "", f"not a usable kubeconfig: {exc}") from exc
    except OSError as exc:
        raise ConfigError(str(path), "", f"cannot read: {exc.strerror}") from exc
    return Kube(k8s.ApiClient(_configured(configuration)), timeouts)


def from_credentials(credentials: ClusterCredentials, timeouts: Timeouts | None = None,
                     endpoint: str = "") -> Kube:
    """A client from the secret's CA and bearer token, to `endpoint` (host:port: the
    deployment's `cluster.controller_endpoint`) or else to the secret's own endpoint.

    The secret's endpoint is the server address of the admin kubeconfig `burst credentials`
    read, which is often not the address the functions reach over the VPN; the deployment
    config names that one, so it wins. The CA goes to a file named by its hash under the temp
    dir, because the client only takes a path; warm Lambda invocations reuse it. Raises
    ClusterCredentialsError if the secret's endpoint, when used, is not https or the CA is
    not PEM.
    """
    if not endpoint and not credentials.endpoint.startswith("https://"):
        raise ClusterCredentialsError("field 'endpoint' must be an https:// URL")
    if "-----BEGIN CERTIFICATE-----" not in credentials.ca:
        raise ClusterCredentialsError("field 'ca' is not a PEM certificate")
    configuration = k8s.Configuration()
    configuration.host = f"https://{endpoint}" if endpoint else credentials.endpoint.rstrip("/")
    configuration.ssl_ca_cert = str(_ca_file(credentials.ca))
    configuration.api_key = {"authorization": f"Bearer {credentials.token}"}
    return Kube(k8s.ApiClient(_configured(configuration)), timeouts)


def _ca_file(pem: str) -> Path:
    digest = hashlib.sha256(pem.encode()).hexdigest()[:16]
    path = Path(tempfile.gettempdir()) / f"fpga-burst-ca-{digest}.crt"
    if not path.exists():
        partial = path.with_suffix(".tmp")
        partial.write_text(pem)
        partial.replace(path)
    return path
