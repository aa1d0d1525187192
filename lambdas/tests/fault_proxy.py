"""An HTTP proxy in front of the local AWS endpoint that can make DynamoDB fail on demand.

The feedback runner's DynamoDB client is pointed at it (AWS_ENDPOINT_URL_DYNAMODB) while SQS
goes straight to the endpoint. Modes:

- `pass`: forward every request and relay the answer;
- `throttle`: answer as DynamoDB does when throttling (HTTP 400,
  ProvisionedThroughputExceededException), which botocore retries and then raises;
- `down`: close the connection without an answer, as a crashed or unreachable service does.
"""

from __future__ import annotations

import http.client
import json
import socket
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MODES = ("pass", "throttle", "down")
THROTTLE_BODY = json.dumps(
    {
        "__type": "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException",
        "message": "The level of configured provisioned throughput for the table was exceeded.",
    }
).encode()
_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length"}


class FaultProxy:
    def __init__(self, upstream: str):
        parts = urllib.parse.urlsplit(upstream)
        self.upstream = (parts.hostname, parts.port)
        self.mode = "pass"
        self.counts = {mode: 0 for mode in MODES}
        self._lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                mode = proxy.take(self)
                if mode == "down":
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                if mode == "throttle":
                    self._answer(400, {"Content-Type": "application/x-amz-json-1.0"}, THROTTLE_BODY)
                    return
                upstream = http.client.HTTPConnection(*proxy.upstream, timeout=10)
                try:
                    upstream.request("POST", self.path, body, dict(self.headers))
                    response = upstream.getresponse()
                    self._answer(response.status, dict(response.getheaders()), response.read())
                finally:
                    upstream.close()

            do_GET = do_POST  # noqa: N815 - the handler's method naming

            def _answer(self, status, headers, body):
                self.send_response(status)
                for name, value in headers.items():
                    if name.lower() not in _HOP_BY_HOP:
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def take(self, handler) -> str:
        with self._lock:
            self.counts[self.mode] += 1
            return self.mode

    def set_mode(self, mode: str) -> None:
        if mode not in MODES:
            raise ValueError(mode)
        with self._lock:
            self.mode = mode

    def __enter__(self) -> FaultProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._server.shutdown()
        self._server.server_close()
