"""The app factory.

    uvicorn --factory service.app:create_app          # settings from SCREENING_* variables
    python -m screening serve                          # the same, on 127.0.0.1:8000

``create_app`` reads the settings and builds the engine; the lifespan runs the migrations
(``alembic upgrade head``) and loads the screener, once, when none was handed in.
"""

from __future__ import annotations

import gc
import logging
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import Depends, FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.exceptions import HTTPException as StarletteHTTPException

from .db.engine import make_engine, make_sessionmaker
from .deps import AuthCache, AuthThrottle, LoginRequired, WrongRole, NoNul, forget_bad_cookie, known_query_only
from .ingest import ScreeningFailed
from .limits import BodyLimit, body_error
from .pool import ScreeningPool, pool_size
from .routes import agencies, export, flags, health, postings, screen, stats, tips, users, web
from .settings import Settings

__all__ = ["create_app"]

HERE = Path(__file__).resolve().parent
log = logging.getLogger("service")

DESCRIPTION = """\
Screens job ads for signs of trafficking and forced-labour recruitment and keeps a review queue
for labour inspectors.

Every `/v1` route needs `Authorization: Bearer KEY` (keys: `python -m screening users add NAME
--role ROLE`). Roles: **inspector** (queue, reviews, claims, agencies, exports, statistics, tips),
**job_centre** (`/v1/screen` and tips), **scanner** (`/v1/postings`), **admin** (users).
No key: 401; a key of another role: 403.
"""


def load_screener(settings: Settings):
    from screening.screener import Screener

    return Screener.load(settings.rules_dir, model=settings.screener_model())


def create_app(settings: Settings | None = None, screener: Any = None) -> FastAPI:
    settings = settings or Settings()
    engine = make_engine(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        if settings.migrate_on_startup:
            from .db.migrate import upgrade

            upgrade(settings)
        own = app.state.screener is None
        n = pool_size(settings.ingest_processes, settings.workers)
        pool = None
        if n and (own or settings.ingest_processes > 0):
            # Workers load the same rules and model as this process, meanwhile.
            rules = str(settings.rules_dir) if settings.rules_dir else None
            pool = ScreeningPool(n, rules, settings.screener_model(), settings.ingest_pool_min_batch)
            pool.begin()
        try:
            if own:
                app.state.screener = load_screener(settings)
            if pool is not None:
                pool.ready()
                app.state.pool = pool
            if own:  # a server process of its own (not an app built inside tests or a notebook)
                # The catalogue, the spaCy vocabulary and the model are long-lived: move them out
                # of the collector's way, so that full collections stay short (shorter tails).
                gc.collect()
                gc.freeze()
                gc.set_threshold(20_000, 20, 20)
            log.info("screening service ready: database %s, versions %s, %d screening process(es)",
                     engine.dialect.name, app.state.screener.versions, n if pool else 0)
            yield
        finally:
            if pool is not None:
                pool.close()
            app.state.pool = None
            engine.dispose()

    app = FastAPI(
        title="Recruitment risk screening: inspector service",
        version="1.0.0",
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.sessionmaker = make_sessionmaker(engine)
    app.state.screener = screener
    app.state.pool = None
    app.state.auth_cache = AuthCache(settings.auth_cache_seconds)
    app.state.auth_throttle = AuthThrottle(settings.auth_fail_limit, settings.auth_fail_window_seconds)
    app.state.templates = Jinja2Templates(directory=str(HERE / "templates"))
    app.state.templates.env.filters["dt"] = lambda v: v.strftime("%Y-%m-%d %H:%M") if v else ""
    app.state.templates.env.filters["pct"] = lambda v: f"{v:.0%}" if v is not None else "–"

    app.include_router(health.router)
    for r in (screen, postings, tips, flags, export, stats, agencies, users):  # the /v1 API
        app.include_router(r.router, dependencies=[Depends(known_query_only)])
    app.include_router(web.router)
    app.add_middleware(NoNul)
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)  # outermost: before anything reads
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")

    @app.exception_handler(ScreeningFailed)
    async def _screening_failed(request: Request, exc: ScreeningFailed):
        log.error("%s", exc)
        return JSONResponse({"detail": f"{exc}; nothing of this request was stored"}, status_code=500)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException):
        if exc.status_code == 400 and (resp := body_error(request, exc)) is not None:
            return resp
        return await http_exception_handler(request, exc)

    @app.exception_handler(LoginRequired)
    async def _login(request: Request, exc: LoginRequired):
        target = request.url.path + (("?" + request.url.query) if request.url.query else "")
        return forget_bad_cookie(request, RedirectResponse("/login?next=" + quote(target, safe=""), 303))

    @app.exception_handler(WrongRole)
    async def _role(request: Request, exc: WrongRole):
        from .routes.web import render

        return render(request, "message.html", {"message": "forbidden"}, status_code=403, user=exc.user)

    return app
