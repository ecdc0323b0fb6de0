"""A TLS reverse proxy in front of the real API server that can answer some requests itself.

A test tool, not a fake API: every request it does not intercept goes to kube-apiserver
(credentials and all) and the answer comes back untouched. `fail_next(status, n, after)` makes the
next n requests get `status` (429, 503, ...) with a metav1.Status body, as the API server's
priority-and-fairness filter or an overloaded load balancer would answer.
"""

from __future__ import annotations

import http.client
import json
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "upgrade",
               "proxy-authorization", "proxy-authenticate", "trailer"}


class FaultProxy:
    def __init__(self, upstream: str, ca: Path, cert: Path, key: Path) -> None:
        self.upstream = urlsplit(upstream)
        self.upstream_tls = ssl.create_default_context(cafile=str(ca))
        self._lock = threading.Lock()
        self._plan: list[int | None] = []  # per coming request: a status, or None: forward
        self.intercepted = 0
        self.forwarded = 0
        self.log: list[tuple[str, str, int | None]] = []
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls.load_cert_chain(str(cert), str(key))
        self.server.socket = tls.wrap_socket(self.server.socket, server_side=True)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def endpoint(self) -> str:
        return f"https://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> FaultProxy:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def fail_next(self, status: int, count: int = 1, after: int = 0) -> None:
        """Forward `after` requests, then answer `count` requests with `status`."""
        with self._lock:
            self._plan = [None] * after + [status] * count

    def take_failure(self) -> int | None:
        with self._lock:
            return self._plan.pop(0) if self._plan else None


def _handler(proxy: FaultProxy) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            pass  # quiet: the test output is the API's

        def _relay(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else None
            status = proxy.take_failure()
            proxy.log.append((self.command, self.path, status))
            if status is not None:
                proxy.intercepted += 1
                self._answer(status, {"Retry-After": "1"}, json.dumps({
                    "kind": "Status", "apiVersion": "v1", "status": "Failure",
                    "reason": "TooManyRequests" if status == 429 else "ServiceUnavailable",
                    "message": f"injected {status} by the test's fault proxy",
                    "code": status,
                }).encode())
                return
            proxy.forwarded += 1
            conn = http.client.HTTPSConnection(
                proxy.upstream.hostname or "127.0.0.1", proxy.upstream.port,
                context=proxy.upstream_tls, timeout=30,
            )
            try:
                headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
                conn.request(self.command, self.path, body=body, headers=headers)
                answer = conn.getresponse()
                data = answer.read()
                kept = {k: v for k, v in answer.getheaders()
                        if k.lower() not in _HOP_BY_HOP | {"content-length"}}
                self._answer(answer.status, kept, data)
            finally:
                conn.close()

        def _answer(self, status: int, headers: dict[str, str], data: bytes) -> None:
            self.send_response(status)
            for k, v in headers.items():
                self.send_header(k, v)
            if "Content-Type" not in headers:
                self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _relay

    return Handler
