"""An HTTP proxy in front of a real S3 server that injects faults into chosen requests: an
S3 error status (throttling, 5xx) or a response cut halfway through its body."""

from __future__ import annotations

import http.client
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

Match = Callable[[str, str, dict[str, str]], bool]  # (method, path, lower-cased headers)
_HOP = {"connection", "transfer-encoding", "keep-alive"}


@dataclass
class Fault:
    match: Match
    action: str  # "503", "500" or "cut"
    times: int


@dataclass
class FaultProxy:
    upstream: str
    faults: list[Fault] = field(default_factory=list)
    seen: list[tuple[str, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> FaultProxy:
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def inject(self, match: Match, action: str, times: int = 1) -> None:
        with self.lock:
            self.faults.append(Fault(match, action, times))

    def take(self, method: str, path: str, headers: dict[str, str]) -> str | None:
        with self.lock:
            self.seen.append((method, path))
            for fault in self.faults:
                if fault.times > 0 and fault.match(method, path, headers):
                    fault.times -= 1
                    return fault.action
        return None

    def count(self, method: str) -> int:
        with self.lock:
            return sum(1 for seen_method, _ in self.seen if seen_method == method)


def _handler(proxy: FaultProxy) -> type[BaseHTTPRequestHandler]:
    target = urlsplit(proxy.upstream)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            pass

        def _relay(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length) if length else b""
            headers = {k.lower(): v for k, v in self.headers.items()}
            action = proxy.take(self.command, self.path, headers)
            if action in ("500", "503"):
                self._error(int(action))
                return
            upstream = http.client.HTTPConnection(target.hostname or "127.0.0.1", target.port, timeout=60)
            upstream.request(self.command, self.path, body=body, headers=dict(self.headers.items()))
            response = upstream.getresponse()
            payload = response.read()
            self.send_response(response.status)
            for name, value in response.getheaders():
                if name.lower() not in _HOP and name.lower() != "content-length":
                    self.send_header(name, value)
            self.send_header("Content-Length", response.getheader("content-length") or str(len(payload)))
            self.end_headers()
            if self.command == "HEAD":
                return
            if action == "cut":  # the connection breaks halfway through the body
                self.wfile.write(payload[: len(payload) // 2])
                self.wfile.flush()
                self.close_connection = True
                return
            self.wfile.write(payload)

        def _error(self, status: int) -> None:
            code = "SlowDown" if status == 503 else "InternalError"
            body = f"<Error><Code>{code}</Code><Message>injected</Message></Error>".encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/xml")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _relay

    return Handler
