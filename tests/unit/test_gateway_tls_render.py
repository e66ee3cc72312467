"""The local gateway's TLS face (stack/gateway/render_tls.py): the TLS listener with its
settings, HSTS on TLS responses only, and the public plain port redirecting, refusing or
serving the API as GATEWAY_HTTP_MODE says."""
from pathlib import Path

import pytest
import render_nginx as rn  # stack/gateway is on pytest.ini's pythonpath

pytestmark = pytest.mark.unit

GATEWAY = Path(__file__).resolve().parents[2] / "stack" / "gateway"
ENV = {"SUPABASE_ANON_KEY": "anon-key-0123456789abcdef", "SUPABASE_SERVICE_KEY": "service-key-0123456789abcdef",
       "DASHBOARD_USERNAME": "supabase", "DASHBOARD_PASSWORD": "dashboard-password",
       "CORS_ALLOWED_ORIGINS": "http://localhost:3000", "GATEWAY_RATE_LIMIT_PER_SECOND": "5000",
       "GATEWAY_AUTH_RATE_LIMIT_PER_SECOND": "200"}


def conf(**tls_env):
    tls = rn.render_tls.settings_from_env(tls_env)
    return rn.render(rn.load_config((GATEWAY / "kong.yml").read_text(), dict(ENV)), tls=tls)


def test_tls_listener_and_settings():
    text = conf(GATEWAY_HTTPS_PORT="8443")
    assert "listen 8443 ssl reuseport backlog=4096;" in text
    assert "ssl_protocols TLSv1.2 TLSv1.3;" in text
    assert "ssl_session_tickets off;" in text
    assert 'map $https $gw_hsts { default ""; on "max-age=31536000; includeSubDomains"; }' in text


def test_redirect_mode_sends_plain_api_to_https():
    text = conf(GATEWAY_HTTP_MODE="redirect", GATEWAY_HTTPS_PORT="8443")
    assert "return 301 https://$host:8443$request_uri;" in text
    assert "listen 8080 reuseport" in text and text.count("location ^~ /.well-known/acme-challenge/") == 2


def test_refuse_mode_answers_426_as_kong():
    text = conf(GATEWAY_HTTP_MODE="refuse")
    assert """return 426 '{"message":"Please use HTTPS protocol"}';""" in text
    assert "return 301" not in text


def test_serve_mode_puts_the_public_port_on_the_api_server():
    text = conf(GATEWAY_HTTP_MODE="serve")
    assert text.count("listen 8080 reuseport") == 1 and "return 426" not in text and "return 301" not in text


def test_hsts_can_be_turned_off():
    assert 'on ""; }' in conf(GATEWAY_HSTS_MAX_AGE="0")


def test_bad_mode_is_refused():
    with pytest.raises(rn.render_tls.TLSSettingsError, match="GATEWAY_HTTP_MODE='open': expected one of"):
        rn.render_tls.settings_from_env({"GATEWAY_HTTP_MODE": "open"})


def test_without_tls_nothing_changes():
    text = rn.render(rn.load_config((GATEWAY / "kong.yml").read_text(), dict(ENV)))
    assert "ssl" not in text and "Strict-Transport-Security" not in text
