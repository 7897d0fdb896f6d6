"""Server-rendered pages (Jinja2), Vietnamese first, English on ``?lang=en`` (remembered in a
cookie). Log in with an API key: it is kept in an HttpOnly cookie; forms carry a token derived
from it (CSRF)."""

from __future__ import annotations

import hashlib
import hmac
from datetime import timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from ..db import storage
from ..db.models import DECISIONS, STATUSES, User
from ..deps import COOKIE, forget_bad_cookie, note_failure, ScreenerDep, SessionDep, SettingsDep, throttle_wait, web_role, web_user_optional
from ..filters import FilterParams, parse_sort
from ..highlight import highlight
from ..i18n import LANGS, translator
from ..ingest import add_tip
from ..views import flag_detail, flag_public, precision_table

router = APIRouter(include_in_schema=False)

LANG_COOKIE = "lang"
PAGE = 25
HOME = {"inspector": "/queue", "job_centre": "/check", "scanner": "/docs", "admin": "/docs"}

InspectorPage = Annotated[User, Depends(web_role("inspector"))]
CheckPage = Annotated[User, Depends(web_role("job_centre"))]
TipPage = Annotated[User, Depends(web_role("job_centre", "inspector"))]
MaybeUser = Annotated[User | None, Depends(web_user_optional)]


def page_lang(request: Request) -> str:
    q = request.query_params.get("lang")
    if q in LANGS:
        return q
    c = request.cookies.get(LANG_COOKIE)
    return c if c in LANGS else "vi"


def csrf_token(request: Request) -> str:
    key = request.cookies.get(COOKIE, "")
    return hmac.new(key.encode(), b"csrf", hashlib.sha256).hexdigest()[:32] if key else ""


def csrf_ok(request: Request, token: str | None) -> bool:
    expected = csrf_token(request)
    return bool(expected) and hmac.compare_digest(expected, token or "")


def render(request: Request, template: str, ctx: dict[str, Any], status_code: int = 200, user: User | None = None) -> HTMLResponse:
    lang = page_lang(request)
    other = "en" if lang == "vi" else "vi"
    templates = request.app.state.templates
    resp = templates.TemplateResponse(
        request,
        template,
        {
            "lang": lang,
            "t": translator(lang),
            "user": user,
            "csrf": csrf_token(request),
            "lang_url": str(request.url.include_query_params(lang=other)),
            "other_lang": other,
            **ctx,
        },
        status_code=status_code,
    )
    if request.query_params.get("lang") in LANGS:
        resp.set_cookie(LANG_COOKIE, lang, max_age=365 * 86400, samesite="lax")
    return resp


def _safe_next(nxt: str | None) -> str | None:
    """Only a path on this site: never another host (``//host``, ``/\\host``)."""
    if not nxt or not nxt.startswith("/") or nxt[1:2] in ("/", "\\") or any(c in nxt for c in "\r\n"):
        return None
    return nxt


@router.get("/")
def home(request: Request, user: MaybeUser) -> RedirectResponse:
    if user is None:
        return forget_bad_cookie(request, RedirectResponse("/login", 303))
    return RedirectResponse(HOME.get(user.role, "/login"), 303)


def _throttled_login(request: Request, next: str | None, secs: int) -> HTMLResponse:
    """The login form saying this address sent too many wrong keys: 429 with Retry-After."""
    resp = render(request, "login.html", {"next": _safe_next(next) or "", "error": "login_throttled"}, status_code=429)
    resp.headers["Retry-After"] = str(secs)
    return resp


@router.get("/login")
def login_form(request: Request, user: MaybeUser, next: str | None = None) -> HTMLResponse:
    secs = throttle_wait(request)
    if secs is not None:
        resp = _throttled_login(request, next, secs)
    else:
        resp = render(request, "login.html", {"next": _safe_next(next) or "", "error": None}, user=user)
    return forget_bad_cookie(request, resp)


@router.post("/login")
def login(request: Request, session: SessionDep, settings: SettingsDep, key: Annotated[str, Form()] = "", next: Annotated[str, Form()] = "") -> Response:
    secs = throttle_wait(request)
    if secs is not None:
        return _throttled_login(request, next, secs)
    user = storage.user_by_key(session, key.strip())
    session.commit()
    if user is None:
        note_failure(request)
        return render(request, "login.html", {"next": _safe_next(next) or "", "error": "login_bad"}, status_code=401)
    resp = RedirectResponse(_safe_next(next) or HOME.get(user.role, "/"), 303)
    resp.set_cookie(COOKIE, key.strip(), httponly=True, samesite="lax", secure=settings.cookie_secure, max_age=12 * 3600, path="/")
    return resp


@router.api_route("/logout", methods=["GET", "POST"])
def logout() -> RedirectResponse:
    resp = RedirectResponse("/login", 303)
    resp.delete_cookie(COOKIE, path="/")
    return resp


# ----------------------------------------------------------------------------------- the queue


@router.get("/queue")
def queue(
    request: Request,
    session: SessionDep,
    screener: ScreenerDep,
    user: InspectorPage,
    f: FilterParams,
    sort: str = "score",
    mine: bool = False,
    page: Annotated[int, Query(ge=1)] = 1,
) -> HTMLResponse:
    key, desc = parse_sort(sort, None)
    if mine:
        f.claimed_by = user.id
    rows, total = storage.list_flags(session, f, key, desc, PAGE, (page - 1) * PAGE)
    params = {k: v for k, v in request.query_params.multi_items() if k not in ("page", "lang") and v}

    def page_url(p: int) -> str:
        return "/queue?" + urlencode(list(params.items()) + [("page", str(p))])

    return render(request, "queue.html", {
        "items": [flag_public(*r) for r in rows],
        "total": total,
        "page": page,
        "pages": max(1, -(-total // PAGE)),
        "prev_url": page_url(page - 1) if page > 1 else None,
        "next_url": page_url(page + 1) if page * PAGE < total else None,
        "filters": {
            "status": ",".join(f.status), "band": ",".join(f.band), "indicator": ",".join(f.indicator),
            "source": ",".join(f.source), "agency": f.agency or "", "q": f.q or "", "sort": sort, "mine": mine,
        },
        "statuses": STATUSES,
        "catalogue": sorted(((i.id, i.name) for i in screener.catalogue.indicators.values()), key=lambda x: x[0]),
    }, user=user)


@router.post("/queue/claim")
def queue_claim(request: Request, session: SessionDep, settings: SettingsDep, user: InspectorPage, csrf: Annotated[str, Form()] = "") -> Response:
    if not csrf_ok(request, csrf):
        return render(request, "message.html", {"message": "bad_form"}, status_code=400, user=user)
    storage.claim(session, user.id, 10, timedelta(minutes=settings.claim_ttl_minutes))
    return RedirectResponse("/queue?mine=true&status=open", 303)


# ------------------------------------------------------------------------------------ an item


def _item_page(request: Request, session, user: User, flag_id: int, saved: bool = False, status_code: int = 200) -> HTMLResponse:
    row = storage.get_flag(session, flag_id)
    if row is None:
        return render(request, "message.html", {"message": "not_found"}, status_code=404, user=user)
    flag, posting, holder = row
    reviews = storage.reviews_for(session, [flag.id])[flag.id]
    item = flag_detail(flag, posting, holder, reviews, storage.linked_postings(session, posting.id), storage.identifiers_of(session, posting.id))
    lang = page_lang(request)
    return render(request, "item.html", {
        "item": item,
        "ad_html": highlight(posting.screened_text, item["indicators"], lang),
        "decisions": DECISIONS,
        "saved": saved,
    }, status_code=status_code, user=user)


@router.get("/items/{flag_id}")
def item(request: Request, flag_id: int, session: SessionDep, user: InspectorPage, saved: bool = False) -> HTMLResponse:
    return _item_page(request, session, user, flag_id, saved)


@router.post("/items/{flag_id}/review")
def item_review(
    request: Request,
    flag_id: int,
    session: SessionDep,
    user: InspectorPage,
    decision: Annotated[str, Form()] = "",
    note: Annotated[str, Form()] = "",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    if not csrf_ok(request, csrf) or decision not in DECISIONS:
        return render(request, "message.html", {"message": "bad_form"}, status_code=400, user=user)
    r = storage.add_review(session, flag_id, user, decision, note.strip() or None)
    if r is None:
        return render(request, "message.html", {"message": "not_found"}, status_code=404, user=user)
    return RedirectResponse(f"/items/{flag_id}?saved=true", 303)


# ------------------------------------------------------------------------------ check an ad


def _verdict(screener, text: str, lang: str) -> dict[str, Any]:
    a = screener.screen(text)
    d = screener.to_dict(a)
    return {"result": d, "ad_html": highlight(a.text, d["indicators"], lang), "text": text}


@router.get("/check")
def check_form(request: Request, user: CheckPage) -> HTMLResponse:
    return render(request, "check.html", {"result": None, "text": "", "sent": None}, user=user)


@router.post("/check")
def check(request: Request, screener: ScreenerDep, user: CheckPage, text: Annotated[str, Form()] = "", csrf: Annotated[str, Form()] = "") -> HTMLResponse:
    if not csrf_ok(request, csrf):
        return render(request, "message.html", {"message": "bad_form"}, status_code=400, user=user)
    text = text.replace("\r\n", "\n")  # forms send CRLF line ends
    if not text.strip():
        return render(request, "check.html", {"result": None, "text": "", "sent": None, "error": "empty_text"}, status_code=422, user=user)
    return render(request, "check.html", {**_verdict(screener, text, page_lang(request)), "sent": None}, user=user)


@router.post("/check/tip")
def check_tip(
    request: Request,
    session: SessionDep,
    screener: ScreenerDep,
    user: TipPage,
    text: Annotated[str, Form()] = "",
    note: Annotated[str, Form()] = "",
    csrf: Annotated[str, Form()] = "",
) -> HTMLResponse:
    if not csrf_ok(request, csrf):
        return render(request, "message.html", {"message": "bad_form"}, status_code=400, user=user)
    text = text.replace("\r\n", "\n")  # forms send CRLF line ends
    if not text.strip():
        return render(request, "check.html", {"result": None, "text": "", "sent": None, "error": "empty_text"}, status_code=422, user=user)
    r = add_tip(session, screener, text=text, note=note.strip() or None, submitted_by=user.id)
    return render(request, "check.html", {**_verdict(screener, text, page_lang(request)), "sent": r.flag_id}, user=user)


# ---------------------------------------------------------------------------------- statistics


@router.get("/stats")
def stats_page(request: Request, session: SessionDep, settings: SettingsDep, screener: ScreenerDep, user: InspectorPage) -> HTMLResponse:
    st = precision_table(storage.stats(session), settings.precision_min_reviews)
    names = {i.id: i.name for i in screener.catalogue.indicators.values()}
    return render(request, "stats.html", {"st": st, "names": names}, user=user)


# --------------------------------------------------------------------------------- agencies


def _agency(request: Request, session, agency_id: int) -> dict[str, Any] | None:
    return storage.agency_profile(session, agency_id, request.app.state.screener.catalogue.scoring)


@router.get("/agencies/{agency_id}")
def agency_page(request: Request, agency_id: int, session: SessionDep, user: InspectorPage) -> HTMLResponse:
    prof = _agency(request, session, agency_id)
    if prof is None:
        return render(request, "message.html", {"message": "not_found"}, status_code=404, user=user)
    return render(request, "agency.html", {"a": prof, "audit": False}, user=user)


@router.get("/agencies/{agency_id}/audit")
def agency_audit(request: Request, agency_id: int, session: SessionDep, user: InspectorPage) -> HTMLResponse:
    """A printable audit pack: the profile with all its evidence, to attach to a report."""
    prof = _agency(request, session, agency_id)
    if prof is None:
        return render(request, "message.html", {"message": "not_found"}, status_code=404, user=user)
    from datetime import datetime, timezone

    return render(request, "agency_audit.html", {"a": prof, "audit": True, "now": datetime.now(timezone.utc), "inspector": user.name}, user=user)


@router.get("/agencies/{agency_id}/audit.csv")
def agency_audit_csv(request: Request, agency_id: int, session: SessionDep, user: InspectorPage) -> Response:
    """The evidence as CSV: one row per sign's evidence, per posting and per link."""
    import csv
    import io

    prof = _agency(request, session, agency_id)
    if prof is None:
        return Response("no such agency\n", status_code=404, media_type="text/plain")
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["agency_id", "agency", "licence_status", "risk_score", "risk_band", "kind", "id", "severity", "detail", "legal"])
    head = [prof["id"], prof["name"], prof["licence_status"] or "", f"{prof['risk_score']:.2f}", prof["risk_band"]]
    for s in prof["signs"]:
        for ev in s["evidence"]:
            w.writerow(head + ["sign", s["id"], s["severity"], ev, "; ".join(x["ref"] for x in s["legal"])])
    for p in prof["postings"]:
        w.writerow(head + ["posting", p["external_id"], p["risk_band"], f"source {p['source']}; score {p['risk_score']:.2f}; indicators "
                           + ", ".join(p["indicators"]), ""])
    for f in prof["fees"]:
        w.writerow(head + ["fee", f["external_id"], f["severity"], f"{f['evidence']} | {'; '.join(f['why'])}", "L69 Art. 23(4)"])
    for link in prof["linked"]:
        w.writerow(head + ["linked", link["id"] if link["id"] is not None else "", link.get("licence_status") or "",
                           f"{link['name']} via " + ", ".join(f"{v['kind']} {v['value']}" for v in link["via"]), ""])
    for d in prof["duplicates"]:
        w.writerow(head + ["template", d["external_id"], "", "reposted under " + ", ".join(o["agency_name"] for o in d["others"]), ""])
    body = buf.getvalue()
    return Response("\ufeff" + body, media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="agency-{agency_id}-evidence.csv"'})
