"""Dependencies as ``Annotated`` aliases, so route signatures stay plain:

    def route(session: SessionDep, user: InspectorUser, screener: ScreenerDep): ...

API requests carry ``Authorization: Bearer KEY``: no key or an unknown one → 401, a key whose
role may not use the route → 403. Web pages read the key from the login cookie instead.
"""

from __future__ import annotations

import ipaddress
import math
import threading
import time
from collections import OrderedDict, deque
from typing import Annotated, Any, AsyncIterator, Callable

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool
from sqlalchemy.orm import Session

from .db import storage
from .db.models import User
from .settings import Settings

__all__ = [
    "SessionDep", "ScreenerDep", "SettingsDep", "CurrentUser", "require_role",
    "InspectorUser", "JobCentreUser", "ScannerUser", "AdminUser", "TipUser",
    "COOKIE", "LoginRequired", "WrongRole", "web_user", "web_role", "AuthCache", "user_for_key", "NoNul", "AuthThrottle", "check_throttle", "throttle_wait", "note_failure", "forget_bad_cookie", "known_query_only",
]

COOKIE = "screening_key"
bearer = HTTPBearer(auto_error=False, description="the API key: `Authorization: Bearer KEY`")


async def get_session(request: Request) -> AsyncIterator[Session]:
    # An async generator: making a session does no I/O, and the route (sync, in the thread pool)
    # is the only one to use it; this saves two thread-pool hops per request.
    session = request.app.state.sessionmaker()
    try:
        yield session
    finally:
        session.close()


async def get_screener(request: Request) -> Any:
    return request.app.state.screener


async def get_settings(request: Request) -> Settings:
    return request.app.state.settings


class NoNul:
    """ASGI middleware: a NUL character (U+0000) in the path or the query becomes U+FFFD, as it
    does in request bodies (``schemas.AdText``). PostgreSQL can neither store nor compare it,
    and no real value has one; a search for it then simply finds nothing."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http":
            qs, path = scope.get("query_string", b""), scope.get("path", "")
            if b"%00" in qs or "\x00" in path:
                scope = dict(scope)
                scope["query_string"] = qs.replace(b"%00", b"%EF%BF%BD")
                scope["path"] = path.replace("\x00", "\ufffd")
                scope["raw_path"] = scope["path"].encode("utf-8")
        await self.app(scope, receive, send)


_QUERY_NAMES: dict[int, frozenset[str]] = {}


def _query_names(route: Any) -> frozenset[str] | None:
    """The query parameters a route takes, its dependencies' included (None: unknown)."""
    if id(route) in _QUERY_NAMES:
        return _QUERY_NAMES[id(route)]
    names: set[str] | None = set()
    stack = [getattr(route, "dependant", None)]
    if stack[0] is None:
        names = None
    while stack and names is not None:
        d = stack.pop()
        names.update(p.alias for p in getattr(d, "query_params", ()))
        stack.extend(getattr(d, "dependencies", ()))
    _QUERY_NAMES[id(route)] = frozenset(names) if names is not None else None
    return _QUERY_NAMES[id(route)]


async def known_query_only(request: Request) -> None:
    """A query parameter the route does not take is a 422 naming it: a misspelt filter
    (``?stauts=open``) must not silently return everything."""
    route = request.scope.get("route")
    if route is None or not request.query_params:
        return
    known = _query_names(route)
    if known is None:
        return
    bad = [k for k in dict.fromkeys(request.query_params.keys()) if k not in known]
    if bad:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, [
            {"type": "extra_forbidden", "loc": ["query", k], "input": request.query_params.get(k),
             "msg": f"unknown query parameter {k!r}; this route takes {', '.join(sorted(known)) or 'none'}"}
            for k in bad])


SessionDep = Annotated[Session, Depends(get_session)]
ScreenerDep = Annotated[Any, Depends(get_screener)]
SettingsDep = Annotated[Settings, Depends(get_settings)]


class AuthCache:
    """Key hash → user, for a few seconds, so a hot route (POST /v1/screen) needs no database
    round trip per request. Keys disabled or rotated through the API are forgotten at once; by
    the CLI (another process), within ``ttl`` seconds."""

    def __init__(self, ttl: float):
        self.ttl = ttl
        self._items: dict[str, tuple[float, User | None]] = {}

    def get(self, key_hash: str) -> tuple[bool, User | None]:
        hit = self._items.get(key_hash)
        if hit is None or hit[0] < time.monotonic():
            return False, None
        return True, hit[1]

    def put(self, key_hash: str, user: User | None) -> None:
        if self.ttl > 0:
            if len(self._items) > 10_000:
                self._items.clear()
            self._items[key_hash] = (time.monotonic() + self.ttl, user)

    def clear(self) -> None:
        self._items.clear()


class AuthThrottle:
    """Wrong keys per client address in a sliding window: past ``limit`` of them, every attempt
    from that address (right key or wrong) gets 429 with ``Retry-After`` until the oldest failure
    leaves the window. So guessing keys runs at ``limit`` tries per window, and an inspector who
    mistypes a few times is not held up. Per server process (with N workers: N × limit).

    Memory is bounded: at most ``MAX_CLIENTS`` addresses, in the order of their last failure;
    a new address past that forgets the stalest ones, in O(1), so a flood from many addresses
    costs neither unbounded memory nor a walk of the table per request. An address that keeps
    failing stays at the fresh end and so is still held back."""

    MAX_CLIENTS = 100_000

    def __init__(self, limit: int, window: float, clock: Callable[[], float] = time.monotonic):
        self.limit, self.window, self.clock = limit, window, clock
        self._fails: OrderedDict[str, deque[float]] = OrderedDict()
        # the API checks on the event loop, the login form in the thread pool: one table, one lock
        self._lock = threading.Lock()

    def _recent(self, client: str) -> deque[float] | None:
        q = self._fails.get(client)
        if q is None:
            return None
        cutoff = self.clock() - self.window
        while q and q[0] <= cutoff:
            q.popleft()
        if not q:
            del self._fails[client]
            return None
        return q

    def retry_after(self, client: str) -> float | None:
        """Seconds the client must wait, or None when it may try."""
        if self.limit <= 0:
            return None
        with self._lock:
            q = self._recent(client)
            if q is None or len(q) < self.limit:
                return None
            return max(0.0, q[0] + self.window - self.clock())

    def fail(self, client: str) -> None:
        if self.limit <= 0:
            return
        with self._lock:
            q = self._fails.get(client)
            if q is None:
                while len(self._fails) >= self.MAX_CLIENTS:
                    self._fails.popitem(last=False)
                q = self._fails[client] = deque(maxlen=self.limit)
            else:
                self._fails.move_to_end(client)
            q.append(self.clock())


def client_of(request: Request) -> str:
    """The address the throttle counts: the client's IP, or its /64 for IPv6 (one subscriber
    usually holds a whole /64, and could otherwise change address per guess); an IPv4 address
    written as IPv6 (``::ffff:a.b.c.d``) is that IPv4 address."""
    host = request.client.host if request.client else "unknown"
    if ":" not in host:
        return host
    try:
        ip = ipaddress.IPv6Address(host.split("%", 1)[0])
    except ValueError:
        return host
    if ip.ipv4_mapped is not None:
        return str(ip.ipv4_mapped)
    return str(ipaddress.IPv6Network((ip, 64), strict=False))


def throttle_wait(request: Request) -> int | None:
    """Whole seconds this client must wait after too many wrong keys, or None."""
    wait = request.app.state.auth_throttle.retry_after(client_of(request))
    return None if wait is None else max(1, math.ceil(wait))


def check_throttle(request: Request) -> None:
    """429 with Retry-After when this client has sent too many wrong keys lately."""
    secs = throttle_wait(request)
    if secs is not None:
        raise HTTPException(status.HTTP_429_TOO_MANY_REQUESTS,
                            f"too many wrong API keys from this address; try again in {secs} s",
                            headers={"Retry-After": str(secs)})


def note_failure(request: Request) -> None:
    request.app.state.auth_throttle.fail(client_of(request))


def _lookup(maker, key: str) -> User | None:
    with maker() as session:
        return storage.user_by_key(session, key)  # loaded, then detached: safe to share read-only


async def user_for_key(request: Request, key: str) -> User | None:
    key = key.strip()
    if not key:
        return None
    cache: AuthCache = request.app.state.auth_cache
    h = storage.hash_key(key)
    found, user = cache.get(h)
    if not found:
        user = await run_in_threadpool(_lookup, request.app.state.sessionmaker, key)
        cache.put(h, user)
    return user


async def current_user(request: Request, creds: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]) -> User:
    if creds is None or not creds.credentials:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "an API key is needed: Authorization: Bearer KEY",
                            headers={"WWW-Authenticate": "Bearer"})
    check_throttle(request)
    user = await user_for_key(request, creds.credentials)
    if user is None:
        note_failure(request)
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "unknown or disabled API key",
                            headers={"WWW-Authenticate": "Bearer"})
    return user


CurrentUser = Annotated[User, Depends(current_user)]


def require_role(*roles: str) -> Callable[..., Any]:
    async def check(user: CurrentUser) -> User:
        if user.role not in roles:
            raise HTTPException(status.HTTP_403_FORBIDDEN, f"this needs the role {' or '.join(roles)}; the key's role is {user.role}")
        return user

    check.__name__ = "require_" + "_or_".join(roles)
    return check


InspectorUser = Annotated[User, Depends(require_role("inspector"))]
JobCentreUser = Annotated[User, Depends(require_role("job_centre"))]
ScannerUser = Annotated[User, Depends(require_role("scanner"))]
AdminUser = Annotated[User, Depends(require_role("admin"))]
TipUser = Annotated[User, Depends(require_role("job_centre", "inspector"))]


# -------------------------------------------------------------------------------------- web


class LoginRequired(Exception):
    """Raised by pages without a valid login cookie: answered with a redirect to /login."""


class WrongRole(Exception):
    def __init__(self, user: User, roles: tuple[str, ...]):
        self.user, self.roles = user, roles


async def web_user_optional(request: Request) -> User | None:
    """The user of the login cookie, or None. A cookie that gives no user (its key since rotated
    or disabled, or a guess) counts as a wrong key, so guessing cannot move to the cookie; the
    answer then clears it (``forget_bad_cookie``), so a stale cookie counts once, not once per
    page. While the address is throttled the cookie is neither tried nor cleared (it may be
    good): None, so pages send the browser to /login, whose form says why, not a JSON 429."""
    key = request.cookies.get(COOKIE)
    if not key or throttle_wait(request) is not None:
        return None
    user = await user_for_key(request, key)
    if user is None:
        note_failure(request)
        request.state.bad_cookie = True
    return user


def forget_bad_cookie(request: Request, response: Any) -> Any:
    """Clear the login cookie on ``response`` when this request's cookie gave no user."""
    if getattr(request.state, "bad_cookie", False):
        response.delete_cookie(COOKIE, path="/")
    return response


async def web_user(user: Annotated[User | None, Depends(web_user_optional)]) -> User:
    if user is None:
        raise LoginRequired()
    return user


def web_role(*roles: str) -> Callable[..., User]:
    async def check(user: Annotated[User, Depends(web_user)]) -> User:
        if user.role not in roles:
            raise WrongRole(user, roles)
        return user

    return check
