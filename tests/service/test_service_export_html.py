"""Redacted exports read contacts through HTML and in the URL, as the screener does."""

from __future__ import annotations

import json

from svc_helpers import auth, posting

HTML_AD = ("<p>Tuyển gấp 20 bạn nữ sang <b>Campuchia</b> làm CSKH, việc nhẹ lương cao 25tr/tháng.</p>"
           "<p>Liên hệ 0912&nbsp;345&nbsp;678 hoặc hoa&#64;gmail.com</p>")


def test_redacted_export_hides_contacts_written_in_html_and_in_the_url(client, keys):
    item = posting("html-1", HTML_AD)
    item["url"] = "https://zalo.me/0987654321"
    r = client.post("/v1/postings", json={"postings": [item]}, headers=auth(keys["scanner"]))
    assert r.json()["items"][0]["flag_id"]
    h = auth(keys["inspector"])
    plain = json.loads(client.get("/v1/export", params={"format": "jsonl"}, headers=h).text.splitlines()[0])
    assert "0912&nbsp;345&nbsp;678" in plain["text"] and plain["url"].endswith("0987654321")
    red = json.loads(client.get("/v1/export", params={"format": "jsonl", "redact": "true"}, headers=h).text.splitlines()[0])
    assert "345" not in red["text"] and "hoa&#64;gmail.com" not in red["text"]
    assert red["text"].count("[SĐT]") == 1 and "[EMAIL]" in red["text"]
    assert "0987654321" not in red["url"] and "[ZALO]" in red["url"]
    assert "<b>Campuchia</b>" in red["text"]  # the evidence and its markup stay as written
