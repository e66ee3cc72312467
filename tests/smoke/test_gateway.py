"""Gateway: key-auth, ACLs, CORS and security headers, as a client meets them (TLS: test_tls.py).
Each test's docstring names the misconfiguration it catches."""
import pytest

KEY_AUTH_ROUTES = ["/rest/v1/", "/auth/v1/settings", "/realtime/v1/api/ping", "/pg/tables"]
DISALLOWED_ORIGIN = "https://not-an-allowed-origin.example"


@pytest.mark.parametrize("path", KEY_AUTH_ROUTES)
def test_request_without_apikey_is_refused(gateway, path):
    """Catches: key-auth removed from a route (anyone could call it)."""
    r = gateway.get(path, key=None)
    assert r.status_code == 401, f"{path} without apikey: expected 401, got {r.status_code}"
    assert r.json() == {"message": "No API key found in request"}


@pytest.mark.parametrize("path", KEY_AUTH_ROUTES)
def test_request_with_wrong_apikey_is_refused(gateway, path):
    """Catches: key-auth that accepts any key, or a leaked demo key still configured."""
    r = gateway.get(path, key="not-a-key-of-this-stack")
    assert r.status_code == 401, f"{path} with a wrong apikey: expected 401, got {r.status_code}"
    assert r.json() == {"message": "Invalid authentication credentials"}


def test_anon_key_reaches_rest(gateway):
    """Catches: anon consumer missing or not in the rest route's ACL (the public API is down)."""
    r = gateway.get("/rest/v1/announcements?select=id&limit=1")
    assert r.status_code == 200, f"anon GET /rest/v1/announcements: HTTP {r.status_code} {r.text[:200]}"


def test_apikey_query_parameter_is_accepted(gateway, target):
    """Catches: a gateway reading only the header (browsers' WebSocket clients send the query parameter).
    (Not on /rest/v1: the gateway passes the parameter on and PostgREST would read it as a filter.)"""
    r = gateway.get(f"/auth/v1/health?apikey={target.anon_key}", key=None)
    assert r.status_code == 200, f"apikey as query parameter: HTTP {r.status_code}"


def test_anon_is_refused_on_admin_route(gateway):
    """Catches: the admin-only /pg/ route (database metadata) open to the anon key."""
    r = gateway.get("/pg/tables", key="anon")
    assert r.status_code == 403, f"/pg/ with the anon key: expected 403, got {r.status_code}"


def test_service_key_reaches_admin_route(gateway):
    """Catches: service_role consumer not in the admin ACL group, or meta down behind the gateway."""
    r = gateway.get("/pg/tables", key="service")
    assert r.status_code == 200, f"/pg/tables with the service key: HTTP {r.status_code} {r.text[:200]}"
    assert isinstance(r.json(), list)


def test_cors_preflight_answers_configured_origin(gateway, target):
    """Catches: CORS plugin missing or configured for other origins (browsers would fail)."""
    if not target.cors_origins or target.cors_origins == ["*"]:
        pytest.skip("the target declares no CORS_ALLOWED_ORIGINS")
    origin = target.cors_origins[0]
    r = gateway.request("OPTIONS", "/rest/v1/announcements", key=None, headers={
        "Origin": origin, "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "apikey,authorization,content-type"})
    assert r.status_code in (200, 204), f"preflight from {origin}: HTTP {r.status_code}"
    assert r.headers.get("Access-Control-Allow-Origin") == origin
    allowed = r.headers.get("Access-Control-Allow-Headers", "").lower()
    assert "apikey" in allowed and "authorization" in allowed, f"Allow-Headers: {allowed!r}"


def test_cors_refuses_unlisted_origin(gateway, target):
    """Catches: CORS answering every origin (`*` or echo-all), which lets any site call the API
    with a user's credentials."""
    r = gateway.request("OPTIONS", "/rest/v1/announcements", key=None, headers={
        "Origin": DISALLOWED_ORIGIN, "Access-Control-Request-Method": "GET"})
    allow = r.headers.get("Access-Control-Allow-Origin")
    assert allow not in (DISALLOWED_ORIGIN, "*"), f"unlisted origin was allowed: {allow!r}"


def test_security_headers_present(gateway):
    """Catches: responses without nosniff / frame protections (clickjacking, MIME sniffing)."""
    r = gateway.get("/rest/v1/announcements?select=id&limit=1")
    assert r.headers.get("X-Content-Type-Options", "").lower() == "nosniff"
    assert r.headers.get("X-Frame-Options", "").upper() in ("DENY", "SAMEORIGIN")
