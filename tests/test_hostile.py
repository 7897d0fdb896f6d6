"""Hostile text from the open internet: the screener neither fails nor loses its offsets, HTML is
read through, and the command line takes 20 MB ads and broken records in its stride. How long
each case takes is printed by benchmarks/hostile.py (speed is never asserted here)."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
AD = "Tuyển gấp 20 bạn nữ sang Campuchia làm CSKH online, việc nhẹ lương cao 25tr/tháng. Đặt cọc trước 20 triệu giữ chỗ."
HTML_AD = ('<div class="post"><p><b>Tuyển gấp</b> 20 bạn <span style="color:red">nữ</span> sang <i>Campuchia</i> '
           'làm <a href="https://x.example/p?a=1&amp;b=2">CSKH</a> online, việc <b>nhẹ</b> lương <em>cao</em> '
           '25tr/tháng.</p><br/><!-- tracking -->Đặt&nbsp;cọc trước 20&nbsp;triệu giữ chỗ.</div>')


def hostile_cases(catalogue, n):
    spec = importlib.util.spec_from_file_location("hostile_bench", ROOT / "benchmarks" / "hostile.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.cases(catalogue, n)


def assert_sound(text, a):
    """What every assessment must be, whatever the input."""
    assert 0.0 <= a.risk_score <= 1.0 and a.flagged == (a.risk_band in ("high", "medium"))
    for h in a.hits:
        for s in h.evidence:
            assert 0 <= s.start <= s.end <= len(text) and text[s.start:s.end] == s.text
    for e in a.entities:
        assert text[e.span.start:e.span.end] == e.span.text


def counted(a):
    return sorted(h.indicator for h in a.counted_hits)


SMALL = {
    "empty": "",
    "spaces": " \t\n " * 50,
    "controls": "\x00\x01\x07\x1b[31m " + AD.replace(" ", " \x00", 5) + "\x7f\x0c",
    "bidi": "\u202e" + AD[:40] + "\u2066\u202c" + AD[40:] + "\u2069",
    "emoji wall": "🔥💰✈️🇰🇭" * 5000 + AD + "😀" * 5000,
    "long line without spaces": "x" * 150_000,
    "surrogates and private use": "\ud800\udfff\ue000" * 1000 + AD,
    "only markup": "<div><p><br/></p></div>" * 200,
    "stray angle brackets": "Lương <10tr hoặc >20tr, 3<5, a<b>c, <Campuchia> & co &amp",
}


@pytest.mark.parametrize("name", list(SMALL))
def test_hostile_texts_keep_their_offsets(rules_screener, name):
    text = SMALL[name]
    a = rules_screener.screen(text)
    assert_sound(text, a)
    assert a == rules_screener.screen(text)  # deterministic


def test_controls_and_bidi_do_not_hide_the_signs(rules_screener):
    plain = counted(rules_screener.screen(AD))
    assert "scam_compound_destination" in plain
    for name in ("controls", "bidi", "emoji wall"):
        assert counted(rules_screener.screen(SMALL[name])) == plain, name


def test_html_tags_are_ignored_and_spans_index_the_raw_html(rules_screener):
    plain, html = rules_screener.screen(AD), rules_screener.screen(HTML_AD)
    assert counted(html) == counted(plain) and html.risk_score == plain.risk_score
    assert_sound(HTML_AD, html)
    ev = {h.indicator: h.evidence[0].text for h in html.counted_hits}
    assert ev["easy_work_high_pay"] == "việc <b>nhẹ</b> lương <em>cao"  # the raw text, tags and all
    assert "&nbsp;" in ev["irregular_deposit"]


def test_markup_masking_keeps_length_and_plain_text():
    from screening.markup import mask_markup

    assert mask_markup(AD) is None and mask_markup("Lương <10tr, <Campuchia> & co") is None
    m = mask_markup(HTML_AD)
    assert len(m) == len(HTML_AD) and "<" not in m and "&nbsp;" not in m and "&amp;" not in m
    assert m.replace("\u200b", "").split() == "Tuyển gấp 20 bạn nữ sang Campuchia làm CSKH online, việc nhẹ lương cao 25tr/tháng. Đặt cọc trước 20 triệu giữ chỗ.".split()


def test_every_pattern_survives_runs_built_to_backtrack(catalogue, rules_screener):
    """benchmarks/hostile.py's cases (every indicator's pattern words run together, near misses,
    long runs of one character, unclosed tags…), shortened: each is screened soundly."""
    cases = hostile_cases(catalogue, 20_000)
    assert sum(name.endswith("pattern words") for name in cases) == sum(
        1 for i in catalogue.indicators.values() if any(p.words for p in i.patterns))
    for name, text in cases.items():
        assert_sound(text, rules_screener.screen(text))


def test_a_text_past_the_limit_screens_its_head(rules_screener):
    from screening.screener import MAX_SCREEN_CHARS

    text = AD + " " + ("Tuyển công nhân may. " * (2 * MAX_SCREEN_CHARS // 20)) + "\ud800"
    a = rules_screener.screen(text)
    assert "truncated" in a.facts and "scam_compound_destination" in counted(a)
    assert_sound(text, a)


def cli(*args, **kw):
    return subprocess.run([sys.executable, "-m", "screening", *args], cwd=ROOT, capture_output=True, timeout=300, **kw)


@pytest.fixture(scope="module")
def big_ad() -> str:
    """About 20 MB: the ad, then lines of filler."""
    return AD + "\n" + ("Nội dung lặp lại không có nghĩa " + "z" * 200 + "\n") * 85_000


def test_cli_check_takes_a_20_mb_ad(tmp_path, big_ad):
    f = tmp_path / "big.txt"
    f.write_bytes(big_ad.encode("utf-8") + b"\xff\xfe broken tail")
    assert f.stat().st_size > 20_000_000
    r = cli("check", "--json", "--no-model", "--file", str(f))
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["truncated_at"] and d["flagged"] and any(i["id"] == "scam_compound_destination" for i in d["indicators"])


def test_cli_scan_reports_bad_records_by_line_and_goes_on(tmp_path, big_ad):
    f = tmp_path / "in.jsonl"
    with open(f, "wb") as fh:
        fh.write(json.dumps({"id": "big", "text": big_ad}, ensure_ascii=False).encode() + b"\n")
        fh.write(b'{"id": "latin1", "text": "Sang Campuchia l\xe0m CSKH \xff"}\n')  # invalid UTF-8 in a string
        fh.write(b"\xff\xfe\x00 not even json\n")
        fh.write(json.dumps({"id": "html", "text": HTML_AD}, ensure_ascii=False).encode() + b"\n")
        fh.write(b'{"id": "trunc", "text": "Sang Campuch\n')
        fh.write(json.dumps({"id": "ok", "text": AD}, ensure_ascii=False).encode() + b"\n")
    out = tmp_path / "out.jsonl"
    r = cli("scan", str(f), "--out", str(out), "--workers", "1", "--no-model")
    assert r.returncode == 0, r.stderr
    res = [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines()]
    assert [x["line"] for x in res] == [1, 2, 3, 4, 5, 6]
    assert "longer than" in res[0]["error"] and res[0]["id"] == "big"
    assert "error" not in res[1] and res[1]["id"] == "latin1"  # undecodable bytes become U+FFFD
    assert "JSON" in res[2]["error"] and "JSON" in res[4]["error"]
    assert res[3]["flagged"] and res[5]["flagged"]
    err = r.stderr.decode()
    assert "3 errors" in err and "line 1:" in err and "line 3:" in err and "line 5:" in err
