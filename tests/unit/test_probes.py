"""The raw gateway probes against a throwaway HTTP server on 127.0.0.1: a burst reports every
status, an announced body reports the early answer, or None when the server waits for it."""
import http.server
import threading

import pytest

from suite import probes
from suite.clients import TargetUnreachable


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(429 if self.path == "/limited" else 200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_POST(self):
        if self.path == "/early":
            self.send_response(413)
            self.send_header("Content-Length", "0")
            self.end_headers()
        else:
            self.rfile.read(int(self.headers["Content-Length"]))  # waits for the announced body

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def server():
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()


def test_burst_reports_every_status(server):
    assert probes.burst(server, "/ok", {"apikey": "k"}, count=20) == [200] * 20
    assert set(probes.burst(server, "/limited", {}, count=5)) == {429}


def test_burst_against_a_closed_port_is_unreachable():
    with pytest.raises(TargetUnreachable, match="UNREACHABLE: gateway at http://127.0.0.1:9"):
        probes.burst("http://127.0.0.1:9", "/x", {}, count=3, timeout=1)


def test_announced_body(server):
    assert probes.announced_body(server, "/early", {}, size=10**9, wait_s=2) == 413
    assert probes.announced_body(server, "/waits", {}, size=10**9, wait_s=0.3) is None
