"""Bad bodies get a 4xx that says what was wrong, never a 500: too large (413), not UTF-8, not
JSON, wrong fields (422); NUL characters, which PostgreSQL cannot hold, are stored as U+FFFD."""

from __future__ import annotations

import pytest
from svc_helpers import RISKY, auth, posting, settings_for


@pytest.fixture
def small(sqlite_url, svc_screener):
    """An app that takes bodies of at most 4 KiB."""
    from fastapi.testclient import TestClient

    from service.app import create_app
    from service.db import storage

    app = create_app(settings_for(sqlite_url, max_body_bytes=4096), svc_screener)
    with app.state.sessionmaker() as s:
        key = storage.create_user(s, "jc", "job_centre")[1]
    with TestClient(app) as c:
        yield c, auth(key)


def test_an_oversized_body_is_a_413_that_names_the_limit(small):
    c, h = small
    r = c.post("/v1/screen", json={"text": "a" * 10_000}, headers=h)
    assert r.status_code == 413 and "4,096 bytes" in r.json()["detail"] and "SCREENING_MAX_BODY_BYTES" in r.json()["detail"]

    def chunks():  # no Content-Length: counted as it arrives
        yield b'{"text": "'
        for _ in range(10):
            yield b"a" * 1000
        yield b'"}'

    r = c.post("/v1/screen", content=chunks(), headers={**h, "Content-Type": "application/json"})
    assert r.status_code == 413 and "at most 4,096 bytes" in r.json()["detail"]
    assert c.post("/v1/screen", json={"text": RISKY}, headers=h).status_code == 200  # under the limit: as usual


@pytest.mark.parametrize("body,what", [
    (b'{"text": "Sang Campuchia l\xe0m CSKH"}', "UTF-8"),
    (b'{"text": "abc"', "JSON"),
    (b"", "Field required"),
    (b'["text"]', "dictionary"),
    (b'{"text": 5}', "string"),
    (b'{"txt": "abc"}', "Field required"),
])
def test_a_malformed_body_is_a_422_that_says_what_was_wrong(small, body, what):
    c, h = small
    r = c.post("/v1/screen", content=body, headers={**h, "Content-Type": "application/json"})
    assert r.status_code == 422, r.text
    detail = r.json()["detail"]
    assert isinstance(detail, list) and detail[0]["loc"][0] == "body"
    assert what in detail[0]["msg"] + detail[0].get("ctx", {}).get("error", "") + detail[0]["type"].replace("json_invalid", "JSON")


def test_a_text_over_the_api_limit_is_a_422_naming_the_field(client, keys):
    r = client.post("/v1/screen", json={"text": "a" * 200_001}, headers=auth(keys["job_centre"]))
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "text"]


def test_nul_characters_are_stored_as_replacement_characters(client, keys):
    """On both backends (PostgreSQL refuses U+0000 in text and JSON): same length, so the
    evidence spans still index the stored text."""
    text = "\x00" + RISKY.replace(" ", " \x00", 3)
    r = client.post("/v1/postings", json={"postings": [posting("nul\x00id", text, title="t\x00")]}, headers=auth(keys["scanner"]))
    assert r.status_code == 422 and r.json()["detail"][0]["loc"][-1] == "external_id"  # an id with NUL is refused
    r = client.post("/v1/postings", json={"postings": [posting("nul", text, title="t\x00")]}, headers=auth(keys["scanner"]))
    assert r.status_code == 200, r.text
    fid = r.json()["items"][0]["flag_id"]
    got = client.get(f"/v1/flags/{fid}", headers=auth(keys["inspector"])).json()
    stored = got["posting"]["text"]
    assert stored == text.replace("\x00", "\ufffd") and got["posting"]["title"] == "t\ufffd"
    screened = got["posting"]["screened_text"]
    for e in got["evidence"]:
        assert screened[e["start"]:e["end"]] == e["text"]
    r = client.get("/v1/flags", params={"q": "Campuchia\x00", "source": "scanner-a\x00"}, headers=auth(keys["inspector"]))
    assert r.status_code == 200 and r.json()["total"] == 0
    assert client.post("/v1/tips", json={"text": "\x00" + RISKY, "note": "n\x00"}, headers=auth(keys["job_centre"])).status_code == 200


def test_ids_and_offsets_past_the_database_integers_are_422(client, keys):
    h = auth(keys["inspector"])
    for path in ("/v1/flags/9223372036854775808", "/v1/agencies/2147483648"):
        assert client.get(path, headers=h).status_code == 422
    assert client.get("/v1/flags", params={"offset": 2**40}, headers=h).status_code == 422
    assert client.get("/v1/flags/2147483647", headers=h).status_code == 404
    r = client.get("/v1/flags", params={"created_from": "0001-01-01T00:00:00+05:00"}, headers=h)
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["query", "created_from"]


def test_a_query_parameter_the_route_does_not_take_is_named_in_a_422(client, keys):
    h = auth(keys["inspector"])
    r = client.get("/v1/flags", params={"stauts": "open"}, headers=h)
    assert r.status_code == 422
    d = r.json()["detail"][0]
    assert d["loc"] == ["query", "stauts"] and "status" in d["msg"]  # says what the route takes
    assert client.get("/v1/flags", params={"status": "open", "sort": "-id", "page": 1}, headers=h).status_code == 200
    assert client.post("/v1/flags/claim", params={"n": 3}, json={"n": 1}, headers=h).status_code == 422
    for bad in (True, "5", 0, 201):
        assert client.post("/v1/flags/claim", json={"n": bad}, headers=h).status_code == 422, bad
    assert client.post("/v1/flags/claim", json={"n": 2.0}, headers=h).status_code == 200
