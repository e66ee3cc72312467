"""The local gateway's renderer turns stack/gateway/kong.yml into an nginx.conf with
Kong's semantics, and refuses configs it cannot honour."""
import re
from pathlib import Path

import pytest
import render_nginx as rn

pytestmark = pytest.mark.unit

GATEWAY = Path(__file__).resolve().parents[2] / "stack" / "gateway"
ANON = "eyJhbGciOiJIUzI1NiJ9.eyJyb2xlIjoiYW5vbiJ9.anon-signature_x"
SERVICE = "eyJhbGciOiJIUzI1NiJ9.eyJyb2xlIjoic2VydmljZV9yb2xlIn0.service-signature_y"
ENV = {
    "SUPABASE_ANON_KEY": ANON,
    "SUPABASE_SERVICE_KEY": SERVICE,
    "DASHBOARD_USERNAME": "supabase",
    "DASHBOARD_PASSWORD": "dashboard-password",
    "CORS_ALLOWED_ORIGINS": "http://localhost:3000,https://app.example.test",
    "GATEWAY_RATE_LIMIT_PER_SECOND": "5000",
    "GATEWAY_AUTH_RATE_LIMIT_PER_SECOND": "200",
}


@pytest.fixture(scope="module")
def kong_text():
    return (GATEWAY / "kong.yml").read_text()


def render(text, env=None):
    return rn.render(rn.load_config(text, dict(ENV if env is None else env)))


def location(conf, prefix):
    m = re.search(r"location \^~ %s \{(.*?)\n        \}" % re.escape(prefix), conf, re.S)
    assert m, "no location for %s" % prefix
    return m.group(1)


@pytest.fixture(scope="module")
def conf(kong_text):
    return render(kong_text)


def test_key_map_accepts_exactly_the_consumer_keys(conf):
    assert '"%s" "anon";' % ANON in conf
    assert '"%s" "service_role";' % SERVICE in conf
    assert 'default "<invalid>";' in conf
    # header first, then the query parameter
    assert "map $arg_apikey $gw_key0_0" in conf
    assert 'map $http_apikey $gw_key0_1 { "" $gw_key0_0; default $http_apikey; }' in conf


def test_every_route_of_the_contract_is_rendered(conf):
    for prefix in ("/auth/v1/verify", "/auth/v1/callback", "/auth/v1/authorize", "/auth/v1/",
                   "/rest/v1/", "/graphql/v1", "/realtime/v1/", "/realtime/v1/api", "/pg/"):
        location(conf, prefix)


def test_protected_routes_answer_kong_errors_and_check_acl(conf):
    rest = location(conf, "/rest/v1/")
    assert '{\\"message\\":\\"No API key found in request\\"}' in rest
    assert '{\\"message\\":\\"Invalid authentication credentials\\"}' in rest
    assert '{\\"message\\":\\"You cannot consume this service\\"}' in rest
    meta_acl = re.search(r"map \$gw_consumer0 \$gw_acl_\d+_meta_all \{(.*?)\}", conf, re.S).group(1)
    assert '"service_role" 1;' in meta_acl and '"anon"' not in meta_acl
    rest_acl = re.search(r"map \$gw_consumer0 \$gw_acl_\d+_rest_v1_all \{(.*?)\}", conf, re.S).group(1)
    assert '"anon" 1;' in rest_acl and '"service_role" 1;' in rest_acl


def test_open_auth_routes_have_no_key_auth(conf):
    verify = location(conf, "/auth/v1/verify")
    assert "No API key" not in verify
    assert "rewrite ^/auth/v1/verify(.*)$ /verify$1 break;" in verify


def test_paths_are_stripped_like_kong(conf):
    assert "rewrite ^/rest/v1/(.*)$ /$1 break;" in location(conf, "/rest/v1/")
    assert "rewrite ^/graphql/v1(.*)$ /rpc/graphql$1 break;" in location(conf, "/graphql/v1")
    ws = location(conf, "/realtime/v1/")
    assert "rewrite ^/realtime/v1/(.*)$ /socket/$1 break;" in ws
    assert 'set $gw_upstream "realtime-dev.supabase-realtime:4000";' in ws
    assert "proxy_set_header Upgrade $http_upgrade;" in ws
    assert "proxy_read_timeout 3600000ms;" in ws
    assert "proxy_set_header Content-Profile $gw_rt_" in location(conf, "/graphql/v1")


def test_cors_origin_list_and_security_headers(conf):
    m = re.search(r"map \$http_origin \$gw_cors_origin_\d+_rest_v1_all \{(.*?)\}", conf, re.S)
    body = m.group(1)
    assert 'default "";' in body
    assert '"http://localhost:3000" $http_origin;' in body
    assert '"https://app.example.test" $http_origin;' in body
    rest = location(conf, "/rest/v1/")
    assert "if ($gw_preflight) {" in rest
    for h in ('X-Content-Type-Options "nosniff" always', 'X-Frame-Options "DENY" always',
              'Referrer-Policy "strict-origin-when-cross-origin" always'):
        assert h in rest


def test_cors_star_allows_any_origin(kong_text):
    conf = render(kong_text, dict(ENV, CORS_ALLOWED_ORIGINS='"*"'))
    m = re.search(r"map \$http_origin \$gw_cors_origin_\d+_rest_v1_all \{(.*?)\}", conf, re.S)
    assert 'default $http_origin;' in m.group(1)  # credentials: echo the origin, as Kong does


def test_rate_limits_and_ip_restriction(conf, kong_text):
    assert re.search(r"limit_req_zone \$binary_remote_addr zone=gw_rl_\d+_rest_v1_all_second:10m rate=5000r/s;", conf)
    assert re.search(r"limit_req_zone \$binary_remote_addr zone=gw_rl_\d+_auth_v1_all_second:10m rate=200r/s;", conf)
    assert "limit_req_status 429;" in conf and "API rate limit exceeded" in conf
    assert "172.16.0.0/12 1;" in conf  # default admin allow list
    pg = location(conf, "/pg/")
    assert "Your IP address is not allowed" in pg
    narrowed = render(kong_text, dict(ENV, GATEWAY_ADMIN_ALLOW_CIDRS="10.1.0.0/16"))
    geo = re.search(r"geo \$gw_ipallow_\d+_meta_all \{(.*?)\}", narrowed, re.S).group(1)
    assert "10.1.0.0/16 1;" in geo and "172.16.0.0/12" not in geo


def test_capacity_settings(conf):
    for line in ("worker_processes 4;", "worker_rlimit_nofile 20000;", "worker_connections 16000;",
                 "multi_accept on;", "listen 8000 reuseport", "listen 8101;", "stub_status;",
                 "resolver 127.0.0.11", "location = /health"):
        assert line in conf
    assert "$request_uri" not in conf and "$http_authorization" not in conf


def test_missing_env_var_is_named(kong_text):
    env = dict(ENV)
    del env["SUPABASE_SERVICE_KEY"]
    with pytest.raises(rn.RenderError, match=r"\$SUPABASE_SERVICE_KEY"):
        render(kong_text, env)
    with pytest.raises(rn.RenderError, match=r"\$GATEWAY_RATE_LIMIT_PER_SECOND"):
        render(kong_text, dict(ENV, GATEWAY_RATE_LIMIT_PER_SECOND=""))


def test_unknown_plugin_is_rejected(kong_text):
    bad = kong_text.replace("- name: acl\n", "- name: jwt-signer\n", 1)
    with pytest.raises(rn.RenderError, match="plugin 'jwt-signer' is not supported"):
        render(bad)


def test_unknown_plugin_config_and_route_matchers_are_rejected(kong_text):
    bad = kong_text.replace("policy: local", "policy: redis", 1)
    with pytest.raises(rn.RenderError, match="policy 'redis' is not supported"):
        render(bad)
    bad = kong_text.replace("strip_path: true\n", "strip_path: true\n        hosts: [a.example]\n", 1)
    with pytest.raises(rn.RenderError, match="unsupported key"):
        render(bad)


def test_bad_key_value_is_rejected(kong_text):
    with pytest.raises(rn.RenderError, match="key-auth key"):
        render(kong_text, dict(ENV, SUPABASE_ANON_KEY='bad"key'))


def test_cli_exits_2_with_message(tmp_path, capsys, monkeypatch):
    for k in ENV:
        monkeypatch.delenv(k, raising=False)
    rc = rn.main(["--input", str(GATEWAY / "kong.yml"), "--output", str(tmp_path / "n.conf")])
    assert rc == 2
    assert "render_nginx: error:" in capsys.readouterr().err
    for k, v in ENV.items():
        monkeypatch.setenv(k, v)
    assert rn.main(["--input", str(GATEWAY / "kong.yml"), "--output", str(tmp_path / "n.conf")]) == 0
    assert (tmp_path / "n.conf").read_text().startswith("# Generated")
