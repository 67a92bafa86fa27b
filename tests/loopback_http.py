"""A real HTTP server on loopback, in a process of its own (so the test's own GIL never slows it):
`/health` answers 200 with a small JSON body, anything else 404. For tests that time real requests."""

from __future__ import annotations

import contextlib
import subprocess
import sys
from typing import Iterator

SERVER = r"""
import http.server, socketserver
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        code, body = (200, b'{"status": "up"}') if self.path.startswith("/health") else (404, b"no")
        self.send_response(code); self.send_header("Content-Length", str(len(body))); self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a): pass
class S(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
s = S(("127.0.0.1", 0), H)
print(s.server_address[1], flush=True)
s.serve_forever()
"""


@contextlib.contextmanager
def loopback_http() -> Iterator[str]:
    """The server's base URL (`http://127.0.0.1:PORT`) while the block runs."""
    proc = subprocess.Popen([sys.executable, "-c", SERVER], stdout=subprocess.PIPE, text=True)
    try:
        yield f"http://127.0.0.1:{proc.stdout.readline().strip()}"
    finally:
        proc.kill()
        proc.wait()
        proc.stdout.close()
