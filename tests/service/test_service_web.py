"""The pages through the app (no browser): login, roles, CSRF, language, the forms' effects."""

from __future__ import annotations

import re

import pytest
from svc_helpers import BENIGN, RISKY, auth


@pytest.fixture
def web(client, keys, svc_screener, app):
    from service.ingest import ingest_postings

    with app.state.sessionmaker() as s:
        res = ingest_postings(s, svc_screener, [
            {"source": "fb", "external_id": "1", "text": RISKY},
            {"source": "fb", "external_id": "2", "text": "Tuyển phụ bếp đi Lào lương cao, gọi 0912 345 678 ngay"},
        ])
    return client, keys, res[0].flag_id


def login(c, key, next_=""):
    return c.post("/login", data={"key": key, "next": next_}, follow_redirects=False)


def csrf(html):
    return re.search(r'name="csrf" value="([0-9a-f]+)"', html).group(1)


@pytest.mark.parametrize("path", ["/queue", "/items/1", "/check", "/stats"])
def test_pages_send_strangers_to_the_login(web, path):
    c, _, _ = web
    r = c.get(path, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login?next=")


def test_login_sets_an_httponly_cookie_and_goes_home_by_role(web):
    c, keys, _ = web
    bad = login(c, "sk_wrong")
    assert bad.status_code == 401 and "không đúng" in bad.text
    r = login(c, keys["inspector"])
    assert r.status_code == 303 and r.headers["location"] == "/queue"
    cookie = r.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie
    assert login(c, keys["job_centre"]).headers["location"] == "/check"
    assert login(c, keys["inspector"], "/items/1").headers["location"] == "/items/1"
    assert login(c, keys["inspector"], "https://evil.example/").headers["location"] == "/queue"


def test_wrong_role_gets_a_403_page(web):
    c, keys, _ = web
    login(c, keys["job_centre"])
    r = c.get("/queue")
    assert r.status_code == 403 and "không có quyền" in r.text
    login(c, keys["scanner"])
    assert c.get("/check").status_code == 403


def test_queue_lists_filters_and_links_items(web):
    c, keys, fid = web
    login(c, keys["inspector"])
    r = c.get("/queue")
    assert r.status_code == 200 and f'href="/items/{fid}"' in r.text and "Hàng đợi" in r.text
    assert "Đăng xuất" in r.text
    r = c.get("/queue", params={"status": "confirmed"})
    assert 'id="empty"' in r.text
    r = c.get("/queue", params={"indicator": "scam_compound_destination", "band": "high", "sort": "date"})
    assert f'href="/items/{fid}"' in r.text


def test_item_page_shows_evidence_law_links_and_records_a_decision(web):
    c, keys, fid = web
    login(c, keys["inspector"])
    r = c.get(f"/items/{fid}")
    assert r.status_code == 200
    assert '<mark class="ev' in r.text and "Căn cứ pháp lý" in r.text and "BLHS" in r.text
    assert 'id="linked"' in r.text and "+84912345678" in r.text
    token = csrf(r.text)
    bad = c.post(f"/items/{fid}/review", data={"decision": "confirmed", "note": "x", "csrf": "0" * 32})
    assert bad.status_code == 400
    r = c.post(f"/items/{fid}/review", data={"decision": "confirmed", "note": "Đã xác minh", "csrf": token}, follow_redirects=False)
    assert r.status_code == 303
    page = c.get(r.headers["location"])
    assert "Đã lưu quyết định" in page.text and "Đã xác minh" in page.text and 'data-status="confirmed"' in page.text
    api = c.get(f"/v1/flags/{fid}", headers=auth(keys["inspector"])).json()
    assert api["status"] == "confirmed" and api["reviews"][0]["note"] == "Đã xác minh"


def test_check_page_gives_a_plain_verdict_and_sends_a_tip(web):
    c, keys, _ = web
    login(c, keys["job_centre"])
    token = csrf(c.get("/check").text)
    r = c.post("/check", data={"text": RISKY, "csrf": token})
    assert r.status_code == 200
    assert "NGUY CƠ CAO" in r.text and "111" in r.text and "1800 6605" in r.text and "Không nộp tiền" in r.text
    assert '<mark class="ev' in r.text
    r = c.post("/check/tip", data={"text": BENIGN + "\r\nLiên hệ chị Hoa", "note": "Anh Nam mang đến", "csrf": token})
    assert r.status_code == 200
    fid = int(re.search(r"#(\d+)", r.text.split('id="tip-sent"')[1]).group(1))
    item = c.get(f"/v1/flags/{fid}", headers=auth(keys["inspector"])).json()
    assert item["source"] == "job_centre" and item["note"] == "Anh Nam mang đến" and item["status"] == "open"
    assert item["posting"]["text"] == BENIGN + "\nLiên hệ chị Hoa"
    assert c.post("/check", data={"text": RISKY, "csrf": "bad"}).status_code == 400


def test_english_on_request_and_remembered(web):
    c, keys, _ = web
    login(c, keys["inspector"])
    r = c.get("/queue?lang=en")
    assert "Review queue" in r.text and 'lang="en"' in r.text
    assert "Review queue" in c.get("/queue").text
    assert "Hàng đợi" in c.get("/queue?lang=vi").text


def test_logout_forgets_the_key(web):
    c, keys, _ = web
    login(c, keys["inspector"])
    r = c.get("/logout", follow_redirects=False)
    assert r.status_code == 303 and 'screening_key=""' in r.headers["set-cookie"]
    c.cookies.clear()
    assert c.get("/queue", follow_redirects=False).status_code == 303


def test_static_css_is_served_locally(web):
    c, _, _ = web
    r = c.get("/static/style.css")
    assert r.status_code == 200 and "mark.ev" in r.text


@pytest.mark.parametrize("target", ["//evil.example/", "/\\evil.example", "https://evil.example", "javascript:alert(1)"])
def test_login_never_sends_anyone_off_site(web, target):
    c, keys, _ = web
    assert login(c, keys["inspector"], target).headers["location"] == "/queue"
