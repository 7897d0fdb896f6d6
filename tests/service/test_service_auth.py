"""Keys and roles for every route: no key or an unknown key → 401; a key of another role → 403."""

from __future__ import annotations

import pytest
from svc_helpers import ROLES, RISKY, auth, settings_for

ALL = set(ROLES)
# (method, path, JSON body, roles that may call it)
ROUTES = [
    ("POST", "/v1/screen", {"text": RISKY}, {"job_centre"}),
    ("POST", "/v1/postings", {"postings": [{"external_id": "1", "source": "s", "text": RISKY}]}, {"scanner"}),
    ("POST", "/v1/tips", {"text": RISKY, "note": "n"}, {"job_centre", "inspector"}),
    ("GET", "/v1/flags", None, {"inspector"}),
    ("GET", "/v1/flags/{fid}", None, {"inspector"}),
    ("POST", "/v1/flags/{fid}/review", {"decision": "needs_info", "note": "n"}, {"inspector"}),
    ("POST", "/v1/flags/{fid}/release", None, {"inspector"}),
    ("POST", "/v1/flags/claim", {"n": 1}, {"inspector"}),
    ("GET", "/v1/export?format=csv", None, {"inspector"}),
    ("GET", "/v1/export?format=jsonl", None, {"inspector"}),
    ("GET", "/v1/stats", None, {"inspector"}),
    ("GET", "/v1/identifiers", None, {"inspector"}),
    ("GET", "/v1/agencies", None, {"inspector"}),
    ("GET", "/v1/agencies?q=abc", None, {"inspector"}),
    ("GET", "/v1/users", None, {"admin"}),
    ("POST", "/v1/users", {"name": "new-{role}", "role": "scanner"}, {"admin"}),
    ("GET", "/v1/me", None, ALL),
]


@pytest.fixture
def sq(sqlite_url, svc_screener):
    """App, client and keys on SQLite (the rules here do not depend on the backend) and one
    queued item."""
    from fastapi.testclient import TestClient

    from service.app import create_app
    from service.db import storage
    from service.ingest import ingest_postings

    app = create_app(settings_for(sqlite_url), svc_screener)
    with TestClient(app) as c, app.state.sessionmaker() as s:
        keys = {role: storage.create_user(s, f"u-{role}", role)[1] for role in ROLES}
        fid = ingest_postings(s, svc_screener, [{"source": "s", "external_id": "q", "text": RISKY}])[0].flag_id
        yield c, keys, fid


def call(c, method, path, body, headers, fid, role=""):
    body = {k: (v.format(role=role) if isinstance(v, str) else v) for k, v in body.items()} if body else None
    return c.request(method, path.format(fid=fid), json=body, headers=headers)


@pytest.mark.parametrize("method,path,body,roles", ROUTES, ids=[f"{m} {p}" for m, p, _, _ in ROUTES])
def test_route_needs_a_key_of_the_right_role(sq, method, path, body, roles):
    c, keys, fid = sq
    r = call(c, method, path, body, {}, fid)
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
    assert call(c, method, path, body, auth("sk_not-a-key"), fid).status_code == 401
    assert call(c, method, path, body, {"Authorization": "Basic Zm9vOmJhcg=="}, fid).status_code == 401
    for role in ROLES:
        r = call(c, method, path, body, auth(keys[role]), fid, role)
        if role in roles:
            assert r.status_code == 200, (role, r.status_code, r.text)
        else:
            assert r.status_code == 403, (role, r.status_code, r.text)


def test_healthz_and_docs_are_open(sq):
    c, _, _ = sq
    assert c.get("/healthz").status_code == 200
    assert c.get("/openapi.json").status_code == 200
    assert c.get("/docs").status_code == 200


def test_the_login_cookie_does_not_open_the_api(sq):
    """The API takes the key from the Authorization header only (a cookie would invite CSRF)."""
    c, keys, _ = sq
    c.cookies.set("screening_key", keys["inspector"])
    assert c.get("/v1/flags").status_code == 401


def test_keys_never_reach_the_logs(sq, caplog):
    c, keys, _ = sq
    with caplog.at_level("DEBUG"):
        c.get("/v1/flags", headers=auth(keys["inspector"]))
        c.post("/login", data={"key": keys["inspector"]}, follow_redirects=False)
    assert keys["inspector"] not in caplog.text
