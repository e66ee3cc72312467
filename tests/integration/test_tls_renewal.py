"""Certificate renewal end to end on the local stack (issue 15, docs/tls.md).

certbot renews the gateway's certificate through the local ACME CA (a real http-01
challenge), the gateway notices the new files and reloads nginx gracefully: the new
certificate is served with a new serial while a WebSocket opened over TLS before the
renewal stays open and answers afterwards, and HTTPS requests are answered after the reload
(an idle keep-alive connection the old worker closed is reopened by the client, as browsers
do). Pebble 2.4 issues 5-year certificates (its validity is not configurable before
2.5), so "near expiry" is certbot's own decision forced with --force-renewal.
"""
from __future__ import annotations

import json
import socket
import ssl

import pytest
import requests
from cryptography import x509
from websockets.sync.client import connect as ws_connect

from suite.checks import tls
from suite.thresholds import LIMITS
from suite.waiting import poll

pytestmark = [pytest.mark.destructive, pytest.mark.timeout(180)]


def _served_serial(ep: tls.Endpoint, ctx: ssl.SSLContext) -> str:
    with socket.create_connection((ep.address, ep.port), timeout=LIMITS.http.connect_timeout_s) as raw:
        with ctx.wrap_socket(raw, server_hostname=ep.hostname) as s:
            return format(x509.load_der_x509_certificate(s.getpeercert(binary_form=True)).serial_number, "X")


def _heartbeat(ws, ref: str) -> dict:
    ws.send(json.dumps({"topic": "phoenix", "event": "heartbeat", "payload": {}, "ref": ref}))
    while True:
        msg = json.loads(ws.recv(timeout=LIMITS.smoke.realtime_join_s))
        if msg.get("ref") == ref:
            return msg


class _PinnedAdapter(requests.adapters.HTTPAdapter):
    """requests to the loopback address with the certificate's host name for SNI and checks."""

    def __init__(self, hostname: str):
        self.hostname = hostname
        super().__init__(pool_maxsize=1)

    def init_poolmanager(self, *args, **kwargs):
        kwargs["server_hostname"] = kwargs["assert_hostname"] = self.hostname
        super().init_poolmanager(*args, **kwargs)


@pytest.fixture
def endpoint(target, tmp_path):
    if not target.is_local:
        pytest.skip("renewal is driven through the local stack's certbot and ACME CA")
    ep, why = tls.endpoint(target, tmp_path)
    assert ep is not None, why
    return ep


def test_renewal_serves_a_new_certificate_without_dropping_connections(endpoint, stack, target, record_property):
    """Catches: renewal broken (ACME challenge not served, certbot failing), a gateway that does
    not pick up the renewed certificate, or a reload that drops open connections."""
    ep = endpoint
    ctx = ssl.create_default_context(cafile=str(ep.ca_file))
    before = _served_serial(ep, ctx)

    url = f"wss://{ep.address}:{ep.port}/realtime/v1/websocket?apikey={target.anon_key}&vsn=1.0.0"
    session = requests.Session()
    session.mount(f"https://{ep.address}:{ep.port}", _PinnedAdapter(ep.hostname))
    api = f"https://{ep.address}:{ep.port}/rest/v1/announcements?select=id&limit=1"
    headers = {"apikey": target.anon_key, "Host": ep.hostname}
    with ws_connect(url, ssl=ctx, server_hostname=ep.hostname, open_timeout=LIMITS.http.read_timeout_s) as ws:
        assert _heartbeat(ws, "1")["payload"]["status"] == "ok"
        r = session.get(api, headers=headers, verify=str(ep.ca_file), timeout=LIMITS.http.read_timeout_s)
        assert r.status_code == 200, f"GET over TLS before the renewal: HTTP {r.status_code}"

        stack.exec("certbot", "certbot.sh renew --force-renewal --no-random-sleep-on-renew",
                   "forced renewal of the gateway's certificate")
        after = poll(lambda: (s := _served_serial(ep, ctx)) != before and s,
                     what=f"the gateway serving a certificate other than serial {before}", timeout=LIMITS.tls.renewal_s, interval=0.5)

        reply = _heartbeat(ws, "2")  # the same WebSocket, opened before the reload
        assert reply["payload"]["status"] == "ok", f"WebSocket held across the reload: {reply}"
        r = session.get(api, headers=headers, verify=str(ep.ca_file), timeout=LIMITS.http.read_timeout_s)
        assert r.status_code == 200, f"GET over TLS after the reload: HTTP {r.status_code}"
    record_property("serial_before", before)
    record_property("serial_after", after)
    print(f"certificate serial {before} -> {after}; WebSocket held across the reload")
