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


# ------------------------------------------------------------------ every route, every role

PUBLIC = "public"
INSP, JC, ADMIN = {"inspector"}, {"job_centre"}, {"admin"}
# The access decision for every route the app serves. A route added without a line here fails
# test_every_route_has_an_access_decision: decide who may call it, then add it.
ACCESS: dict[tuple[str, str], object] = {
    ("GET", "/openapi.json"): PUBLIC, ("GET", "/docs"): PUBLIC, ("GET", "/docs/oauth2-redirect"): PUBLIC,
    ("GET", "/redoc"): PUBLIC, ("GET", "/healthz"): PUBLIC, ("GET", "/static"): PUBLIC,
    ("POST", "/v1/screen"): JC, ("POST", "/v1/postings"): {"scanner"}, ("POST", "/v1/tips"): {"job_centre", "inspector"},
    ("GET", "/v1/flags"): INSP, ("POST", "/v1/flags/claim"): INSP, ("GET", "/v1/flags/{flag_id}"): INSP,
    ("POST", "/v1/flags/{flag_id}/review"): INSP, ("POST", "/v1/flags/{flag_id}/release"): INSP,
    ("GET", "/v1/export"): INSP, ("GET", "/v1/stats"): INSP, ("GET", "/v1/identifiers"): INSP,
    ("GET", "/v1/agencies"): INSP, ("GET", "/v1/agencies/{agency_id}"): INSP,
    ("GET", "/v1/me"): ALL, ("GET", "/v1/users"): ADMIN, ("POST", "/v1/users"): ADMIN,
    ("POST", "/v1/users/{name}/rotate"): ADMIN, ("POST", "/v1/users/{name}/disable"): ADMIN,
    # pages: the login cookie instead of the header
    ("GET", "/"): PUBLIC, ("GET", "/login"): PUBLIC, ("POST", "/login"): PUBLIC,
    ("GET", "/logout"): PUBLIC, ("POST", "/logout"): PUBLIC,
    ("GET", "/queue"): INSP, ("POST", "/queue/claim"): INSP, ("GET", "/items/{flag_id}"): INSP,
    ("POST", "/items/{flag_id}/review"): INSP, ("GET", "/check"): JC, ("POST", "/check"): JC,
    ("POST", "/check/tip"): {"job_centre", "inspector"}, ("GET", "/stats"): INSP,
    ("GET", "/agencies/{agency_id}"): INSP, ("GET", "/agencies/{agency_id}/audit"): INSP,
    ("GET", "/agencies/{agency_id}/audit.csv"): INSP,
}
BODIES = {
    "/v1/screen": {"text": RISKY}, "/v1/postings": {"postings": [{"external_id": "w", "source": "s", "text": RISKY}]},
    "/v1/tips": {"text": RISKY}, "/v1/flags/claim": {"n": 1}, "/v1/flags/{flag_id}/review": {"decision": "needs_info"},
    "/v1/users": {"name": "walk-{role}", "role": "scanner"},
}


def served_routes(app) -> set[tuple[str, str]]:
    """(METHOD, path) of every route the app serves, routers included (HEAD aside)."""
    from starlette.routing import Mount

    out: set[tuple[str, str]] = set()
    stack = list(app.routes)
    while stack:
        r = stack.pop()
        if hasattr(r, "effective_route_contexts"):  # an included router
            stack.extend(r.effective_route_contexts())
        elif isinstance(r, Mount):
            out.add(("GET", r.path))
        else:
            out.update((m, r.path) for m in (r.methods or ()) if m != "HEAD")
    return out


def test_every_route_has_an_access_decision(sq):
    c, _, _ = sq
    served = served_routes(c.app)
    assert served - ACCESS.keys() == set(), "routes without an access decision in ACCESS"
    assert ACCESS.keys() - served == set(), "ACCESS lists routes the app does not serve"


def test_every_route_admits_exactly_its_roles(sq):
    """Walk every served route with no credentials, a wrong key and each role's key: API routes
    answer 401 / 403, pages redirect to the login / answer 403, and the roles of ACCESS get in."""
    c, keys, fid = sq
    from service.db import storage

    with c.app.state.sessionmaker() as s:
        storage.create_user(s, "victim", "scanner")
    params = {"flag_id": fid, "agency_id": 1, "name": "victim"}
    for method, path in sorted(served_routes(c.app), key=lambda mp: ("disable" in mp[1], mp)):
        decision = ACCESS[(method, path)]
        url = path.format(**params) + ("/style.css" if path == "/static" else "")
        api = path.startswith("/v1/")
        tpl = BODIES.get(path)

        def call_as(role: str | None, key: str | None):
            body = {k: (v.format(role=role or "x") if isinstance(v, str) else v) for k, v in tpl.items()} if tpl else None
            c.cookies.clear()
            if api:
                return c.request(method, url, json=body, headers=auth(key) if key else {}, follow_redirects=False)
            if key:
                c.cookies.set("screening_key", key)
            form = {"key": keys["scanner"]} if path == "/login" else {}  # the login form takes the key itself
            return c.request(method, url, data=form if method == "POST" else None, follow_redirects=False)

        def refused(r) -> str | None:
            if r.status_code in (401, 403):
                return str(r.status_code)
            if r.status_code == 303 and r.headers["location"].startswith("/login?next="):
                return "login"
            return None

        label = f"{method} {path}"
        if decision == PUBLIC:
            assert refused(call_as(None, None)) is None, label
            continue
        assert refused(call_as(None, None)) == ("401" if api else "login"), label
        if api:
            assert refused(call_as(None, "sk_wrong-key")) == "401", label
        for role in ROLES:
            got = refused(call_as(role, keys[role]))
            if role in decision:
                assert got is None, (label, role)
            else:
                assert got == "403", (label, role, got)
    c.cookies.clear()


# ---------------------------------------------------------------- wrong keys, keys in the open


@pytest.fixture
def throttled(sqlite_url, svc_screener):
    """An app that allows 3 wrong keys per address per minute, on a clock the test moves."""
    from fastapi.testclient import TestClient

    from service.app import create_app
    from service.db import storage

    app = create_app(settings_for(sqlite_url, auth_fail_limit=3, auth_fail_window_seconds=60), svc_screener)
    now = [1000.0]
    app.state.auth_throttle.clock = lambda: now[0]
    with app.state.sessionmaker() as s:
        key = storage.create_user(s, "insp", "inspector")[1]
    with TestClient(app) as c, TestClient(app, client=("10.0.0.9", 5000)) as other:
        yield c, other, key, now


def test_a_burst_of_wrong_keys_is_slowed_down(throttled):
    c, other, key, now = throttled
    for i in range(3):
        assert c.get("/v1/flags", headers=auth(f"sk_guess-{i}")).status_code == 401
    r = c.get("/v1/flags", headers=auth("sk_guess-3"))
    assert r.status_code == 429 and r.headers["retry-after"] == "60" and "wrong API keys" in r.json()["detail"]
    # while it waits, even the right key is held back: guessing runs at 3 tries a minute
    assert c.get("/v1/flags", headers=auth(key)).status_code == 429
    now[0] += 30
    assert c.get("/v1/flags", headers=auth(key)).headers["retry-after"] == "30"
    # another address is not held back
    assert other.get("/v1/flags", headers=auth(key)).status_code == 200
    # the login form counts and waits the same way
    r = c.post("/login", data={"key": key}, follow_redirects=False)
    assert r.status_code == 429 and r.headers["retry-after"] == "30" and 'id="login-error"' in r.text
    now[0] += 31  # the oldest failures have left the window
    assert c.get("/v1/flags", headers=auth(key)).status_code == 200


def test_missing_keys_and_right_keys_do_not_count_as_guesses(throttled):
    c, _, key, _ = throttled
    for _ in range(5):
        assert c.get("/v1/flags").status_code == 401
        assert c.get("/v1/flags", headers=auth(key)).status_code == 200
    for i in range(2):
        c.get("/v1/flags", headers=auth(f"sk_guess-{i}"))
    assert c.get("/v1/flags", headers=auth(key)).status_code == 200


def _cleared(r):
    """Whether the response tells the browser to drop the login cookie."""
    return any(h.startswith('screening_key=""') and "max-age=0" in h.lower()
               for h in r.headers.get_list("set-cookie"))


@pytest.mark.parametrize("first", ["/queue", "/login", "/"])
def test_a_stale_login_cookie_counts_once_and_is_cleared(throttled, first):
    """A browser still holding the cookie of a key since rotated: the first page it loads
    counts one wrong key (a guess cannot move to the cookie) and clears the cookie, so loading
    more pages neither counts again nor locks the address (a whole office behind one NAT) out."""
    from service.db import storage

    c, _, key, _ = throttled
    assert c.post("/login", data={"key": key}, follow_redirects=False).status_code == 303
    with c.app.state.sessionmaker() as s:
        key = storage.rotate_key(s, "insp")[1]
    c.app.state.auth_cache.clear()
    r = c.get(first, follow_redirects=False)
    assert r.status_code in (200, 303) and _cleared(r)
    assert "screening_key" not in c.cookies
    for _ in range(3):
        for page in ("/", "/login", "/queue", "/stats"):
            r = c.get(page)
            assert r.status_code == 200 and 'id="login-form"' in r.text and 'id="login-error"' not in r.text, page
    # exactly one wrong key so far: one more leaves the address under the limit of 3 ...
    assert c.get("/v1/flags", headers=auth("sk_guess-1")).status_code == 401
    assert c.get("/v1/flags", headers=auth(key)).status_code == 200
    # ... and a third reaches it
    assert c.get("/v1/flags", headers=auth("sk_guess-2")).status_code == 401
    assert c.get("/v1/flags", headers=auth(key)).status_code == 429


def test_a_throttled_browser_still_gets_the_login_form(throttled):
    """Over the limit, pages send the browser to /login, which shows the form with the
    throttled message (HTML, 429, Retry-After) rather than a bare JSON 429; a cookie that may
    be good is not tried, counted nor cleared meanwhile. The API keeps its JSON 429."""
    c, _, key, now = throttled
    assert c.post("/login", data={"key": key}, follow_redirects=False).status_code == 303
    for i in range(3):
        assert c.get("/v1/flags", headers=auth(f"sk_guess-{i}")).status_code == 401
    r = c.get("/queue", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login?next=%2Fqueue" and not _cleared(r)
    for url, message in [("/login?next=%2Fqueue", "Quá nhiều lần nhập sai mã"),
                         ("/login?lang=en", "Too many wrong keys from this address")]:
        r = c.get(url)
        assert r.status_code == 429 and r.headers["content-type"].startswith("text/html"), url
        assert r.headers["retry-after"] == "60" and 'id="login-form"' in r.text and message in r.text, url
        assert not _cleared(r)
    r = c.get("/")
    assert r.status_code == 429 and 'id="login-form"' in r.text
    api = c.get("/v1/flags", headers=auth(key))
    assert api.status_code == 429 and api.headers["content-type"] == "application/json"
    assert api.headers["retry-after"] == "60" and "wrong API keys" in api.json()["detail"]
    now[0] += 61  # the window has passed: the cookie, kept, works again
    r = c.get("/queue", follow_redirects=False)
    assert r.status_code == 200 and 'id="login-form"' not in r.text


def test_the_throttle_stays_bounded_and_forgets_the_stalest_address_first():
    """A flood of wrong keys from more addresses than the throttle keeps, within one window:
    it keeps at most MAX_CLIENTS of them, forgetting the one whose last failure is oldest, so
    an address that keeps failing is still held back."""
    from service.deps import AuthThrottle

    now = [1000.0]
    t = AuthThrottle(limit=2, window=60, clock=lambda: now[0])
    t.MAX_CLIENTS = 5
    t.fail("10.9.9.9")
    t.fail("10.9.9.9")
    assert t.retry_after("10.9.9.9") == 60
    for i in range(50):
        now[0] += 0.1
        t.fail(f"10.0.0.{i}")
        if i % 3 == 0:
            t.fail("10.9.9.9")  # still guessing: it stays among the freshest
        assert len(t._fails) <= 5
    assert len(t._fails) == 5
    assert t.retry_after("10.9.9.9") is not None
    t.fail("10.0.0.49")  # the newest address, a second time: held back too
    assert t.retry_after("10.0.0.49") is not None
    t.fail("10.0.0.1")  # long forgotten: this is its first failure again
    assert t.retry_after("10.0.0.1") is None


def test_ipv6_clients_are_counted_by_their_64_prefix(throttled):
    """One IPv6 client usually holds a whole /64: counted per address it could guess without
    end. An IPv4 address written as IPv6 (``::ffff:a.b.c.d``) is that IPv4 address."""
    from fastapi.testclient import TestClient

    c, _, key, _ = throttled
    app = c.app

    def at(host):
        return TestClient(app, client=(host, 5000))

    for i in range(3):
        assert at(f"2001:db8:1:2::{i + 1}").get("/v1/flags", headers=auth(f"sk_guess-{i}")).status_code == 401
    assert at("2001:db8:1:2:ffff:ffff:ffff:ffff").get("/v1/flags", headers=auth(key)).status_code == 429
    assert at("2001:db8:1:3::1").get("/v1/flags", headers=auth(key)).status_code == 200
    for i in range(3):
        assert at("::ffff:10.1.1.1").get("/v1/flags", headers=auth(f"sk_guess-{i}")).status_code == 401
    assert at("10.1.1.1").get("/v1/flags", headers=auth(key)).status_code == 429


def test_keys_never_appear_in_responses_or_logs(sq, caplog):
    """Every key is used on every kind of route (and wrongly); neither the key nor its hash shows
    up in a response body or header (other than the one response that hands a key out) or in
    the logs. Only the key's prefix, meant for telling keys apart, is shown."""
    from service.db import storage

    c, keys, fid = sq
    wrong = "sk_wrong-" + "x" * 30
    secrets = list(keys.values()) + [wrong]
    secrets += [storage.hash_key(k) for k in secrets]
    seen: list[str] = []
    with caplog.at_level("DEBUG"):
        for role, key in keys.items():
            for method, path, body, _ in ROUTES:
                r = call(c, method, path, body, auth(key), fid, role)
                seen.append(r.text + repr(dict(r.headers)))
            r = c.post("/login", data={"key": key}, follow_redirects=False)
            seen.append(r.text + repr({k: v for k, v in r.headers.items() if k != "set-cookie"}))
            c.cookies.clear()
        for method, path, body, _ in ROUTES:
            r = call(c, method, path, body, auth(wrong), fid)
            seen.append(r.text + repr(dict(r.headers)))
        seen.append(c.post("/login", data={"key": wrong}).text)
        created = c.post("/v1/users", json={"name": "fresh", "role": "scanner"}, headers=auth(keys["admin"])).json()
        listed = c.get("/v1/users", headers=auth(keys["admin"])).text
    assert created["key"] and created["key"][:8] == created["key_prefix"][:8]
    assert created["key"] not in listed and all(k not in listed for k in secrets)
    leaks = [(s[:12], i) for i, text in enumerate(seen) for s in secrets if s in text]
    assert leaks == []
    assert not [s for s in secrets + [created["key"]] if s in caplog.text]
