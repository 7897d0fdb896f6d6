"""Batch scans: streaming, duplicate grouping, title-only listings, resume after kill -9,
pushing to the service, progress and summary. The command line's basic contract is in
test_cli.py."""

import gzip
import json
import os
import signal
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from screening.scan import (
    BANDS, BLOCK_ITEMS, Deduper, ScanStopped, Scanner, fingerprint, progress_path, read_records, run_scan, scan,
)
from test_scan_helpers import postings, write_jsonl

ROOT = Path(__file__).resolve().parent.parent

AD = (
    "Công ty TNHH Minh Phát tuyển nhân viên kho làm việc tại Bình Dương. Lương 9 triệu mỗi tháng, "
    "đóng bảo hiểm xã hội đầy đủ, thưởng tháng 13, làm giờ hành chính từ thứ Hai đến thứ Sáu. "
    "Yêu cầu trung thực, chăm chỉ, biết dùng máy tính cơ bản. Nộp hồ sơ tại phòng nhân sự, không thu phí."
)
RISKY = "Tuyển gấp nhân viên CSKH sang Campuchia, việc nhẹ lương cao 2000 USD, bao vé máy bay, không cần kinh nghiệm."


@pytest.fixture(scope="module")
def screener():
    from screening.screener import Screener

    return Screener.load(model=False)


def cli(*args, timeout=300, **kw):
    return subprocess.run([sys.executable, "-m", "screening", *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout, **kw)


def head_free(d):
    return {k: v for k, v in d.items() if k not in ("id", "line", "source", "group", "duplicate_of", "duplicate", "reused")}


# -- duplicates ------------------------------------------------------------------------------


def test_reposts_are_grouped_and_exact_ones_screened_once(tmp_path, screener):
    url = "https://jobs.example.vn/viec-lam/{}"
    recs = [
        {"id": "a", "title": "Nhân viên kho", "company": "Minh Phát", "text": AD, "url": url.format(1)},
        {"id": "b", "title": "Nhân viên kho", "company": "Minh Phát", "text": AD, "url": url.format(1)},  # crawled twice
        {"id": "c", "title": "NHÂN VIÊN KHO", "company": "Minh Phát", "text": AD.upper()},  # same once folded
        {"id": "d", "title": "Nhân viên kho", "company": "Minh Phát", "text": AD.replace("9 triệu", "10 triệu")},  # edited
        {"id": "e", "text": RISKY},
        {"id": "f", "title": "Nhân viên kho", "company": "Minh Phát", "text": AD, "url": url.format(2)},  # reposted
        {"id": "g", "text": RISKY},
    ]
    inp = tmp_path / "in.jsonl"
    write_jsonl(inp, recs)
    res = {r["id"]: r for r in scan(read_records(inp), screener=screener)}
    assert res["a"]["group"] == "a" and "duplicate_of" not in res["a"] and "reused" not in res["a"]
    assert res["b"]["group"] == "a" and res["b"]["duplicate_of"] == "a" and res["b"]["duplicate"] == "exact" and res["b"]["reused"] is True
    assert res["c"]["duplicate"] == "exact" and res["c"]["group"] == "a" and "reused" not in res["c"]
    assert res["d"]["duplicate"] == "near" and res["d"]["group"] == "a" and "reused" not in res["d"]
    assert res["e"]["group"] == "e" and "duplicate" not in res["e"] and res["e"]["flagged"]
    assert res["f"]["duplicate"] == "exact" and "reused" not in res["f"]  # another URL: screened again
    assert res["g"]["reused"] is True and res["g"]["flagged"] and res["g"]["duplicate_of"] == "e"
    # a reused assessment is the one screening would give
    fresh = {r["id"]: r for r in scan(read_records(inp), screener=screener, dedupe=False)}
    assert "group" not in fresh["b"]
    for k in recs:
        assert head_free(res[k["id"]]) == head_free(fresh[k["id"]])


def test_near_duplicates_need_enough_words_and_similarity():
    k1, s1 = fingerprint(AD)
    k2, s2 = fingerprint(AD.replace("Bình Dương", "Long An"))
    k3, s3 = fingerprint(RISKY)
    assert k1 != k2 and s1 is not None and s2 is not None
    assert fingerprint("Nhân viên kho")[1] is None  # a title alone: exact grouping only
    assert fingerprint(AD.lower())[0] == k1 == fingerprint("  " + AD.replace(" ", "  "))[0]
    d = Deduper()
    assert d.assign("x", k1, s1) == ("x", None)
    assert d.assign("y", k2, s2) == ("x", "near")
    assert d.assign("z", k3, s3) == ("z", None)
    assert d.assign("w", k1, s1) == ("x", "exact")


def test_the_duplicate_index_is_bounded():
    import numpy as np

    d = Deduper(window=50)
    rng = np.random.default_rng(0)
    for i in range(500):
        sig = rng.integers(0, 2**32, size=64, dtype=np.uint64).astype(np.uint32).tobytes()
        assert d.assign(i, i, sig) == (i, None)
    assert len(d.exact) == 50 and len(d.entries) == 50
    listed = sum(1 if isinstance(v, int) else len(v) for t in d.tables for v in t.values())
    assert listed == 50 * BANDS
    assert d.assign("again", 0, None) == ("again", None)  # forgotten: outside the window


def test_the_scan_streams_with_bounded_read_ahead(screener):
    ads = [p["text"] for p in postings(20, seed=3)]
    state = {"read": 0, "max_ahead": 0}

    def records():
        for i in range(1, 20_001):
            state["read"] += 1
            yield i, {"id": i, "text": ads[i % 20]}, None

    n = 0
    sc = Scanner(screener, workers=2)
    for em in sc.run(records()):
        n += 1
        assert em.line == n
        state["max_ahead"] = max(state["max_ahead"], state["read"] - n)
    assert n == 20_000
    assert state["max_ahead"] <= (2 * 2 + 2) * BLOCK_ITEMS  # a few blocks in flight, never the file


def test_a_truncated_gzip_is_read_to_where_it_breaks(tmp_path, screener):
    full = tmp_path / "full.jsonl.gz"
    with gzip.open(full, "wt", encoding="utf-8") as fh:
        for r in postings(400, seed=4):
            fh.write(json.dumps(r, ensure_ascii=False) + "\n")
    cut = tmp_path / "cut.jsonl.gz"
    cut.write_bytes(full.read_bytes()[: full.stat().st_size // 2])
    res = list(scan(read_records(cut), screener=screener))
    assert len(res) > 100 and [r["line"] for r in res] == list(range(1, len(res) + 1))
    assert all("error" not in r for r in res[:-1]) and "cannot read the rest of the file" in res[-1]["error"]


# -- title-only listings ---------------------------------------------------------------------


def test_title_only_listings_are_screened(tmp_path, screener):
    p = tmp_path / "titles.jsonl.gz"
    rows = [
        {"title": "Nhân viên chăm sóc khách hàng", "company": "Công ty TNHH Ánh Dương", "salary": "2000 USD", "location": "Campuchia",
         "text": "Nhân viên chăm sóc khách hàng"},
        {"title": "Kế toán tổng hợp", "company": "Công ty CP Sao Mai", "salary": "Thỏa thuận", "location": "Hà Nội"},
        {"title": "Tuyển gấp nhân viên sang Campuchia, việc nhẹ lương cao", "company": "Công ty ABC"},
        {"title": "Lái xe", "company": None, "salary": None, "location": ["Cần Thơ", "Hậu Giang"], "text": None},
    ]
    with gzip.open(p, "wt", encoding="utf-8") as fh:
        for r in rows:
            fh.write(json.dumps(r, ensure_ascii=False) + "\n")
    res = list(scan(read_records(p), screener=screener))
    assert [r["line"] for r in res] == [1, 2, 3, 4] and all("error" not in r for r in res)
    places = [e.get("value") for e in res[0]["entities"] if e["kind"] == "place"]
    assert "cambodia" in places  # the listing's place is screened
    assert "overseas" in res[0]["explanation"]["facts"]
    assert res[2]["flagged"] and res[2]["risk_band"] == "high"
    assert res[1]["risk_band"] == "low" and not res[3]["flagged"]


# -- resume ----------------------------------------------------------------------------------


def _lines_with_errors(n):
    out = []
    for i, rec in enumerate(postings(n, seed=5), start=1):
        out.append("{broken json" if i % 400 == 0 else rec)
    return out


def test_a_scan_killed_with_sigkill_resumes_without_loss_or_repeat(tmp_path, screener):
    n = 2000
    inp = tmp_path / "in.jsonl"
    write_jsonl(inp, _lines_with_errors(n))
    out = tmp_path / "out.jsonl"
    ckpt = progress_path(out)
    proc = subprocess.Popen(
        [sys.executable, "-m", "screening", "scan", str(inp), "--out", str(out), "--workers", "2", "--no-model", "--checkpoint-every", "50"],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True,
    )
    deadline = time.monotonic() + 120
    done = 0
    while time.monotonic() < deadline and proc.poll() is None:
        if ckpt.exists():
            try:
                done = json.loads(ckpt.read_text())["done"]
            except (ValueError, KeyError):
                done = 0
            if done >= 300:
                break
        time.sleep(0.02)
    assert proc.poll() is None, "the scan ended before it could be killed: " + proc.stderr.read().decode()[-2000:]
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    proc.stderr.close()
    state = json.loads(ckpt.read_text())
    assert 300 <= state["done"] < n and not state["complete"]
    assert out.stat().st_size >= state["offset"]

    r = cli("scan", str(inp), "--out", str(out), "--workers", "2", "--no-model", "--resume")
    assert r.returncode == 0, r.stderr
    got = [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines()]
    assert [g["line"] for g in got] == list(range(1, n + 1))  # every line once, in order
    assert [g["id"] for g in got if "id" in g and "error" not in g] == [f"t{i - 1}" for i in range(1, n + 1) if i % 400]
    assert sum("error" in g for g in got) == n // 400
    assert f"scanned {n} lines" in r.stderr and f"{n // 400} errors" in r.stderr
    assert json.loads(ckpt.read_text())["complete"]

    # the same as a scan that was never stopped (groups too: the index was rebuilt)
    ref = tmp_path / "ref.jsonl"
    run_scan(str(inp), str(ref), screener=screener, progress=False)
    want = [json.loads(x) for x in ref.read_text(encoding="utf-8").splitlines()]
    strip = lambda d: {k: v for k, v in d.items() if k != "reused"}  # noqa: E731
    assert [strip(g) for g in got] == [strip(w) for w in want]

    again = run_scan(str(inp), str(out), screener=screener, resume=True, progress=False)  # complete: nothing to do
    assert again.lines == n and out.read_text(encoding="utf-8").count("\n") == n


def test_resume_without_a_checkpoint_starts_afresh_and_a_new_scan_forgets_the_old_one(tmp_path, screener):
    inp = tmp_path / "in.jsonl"
    write_jsonl(inp, postings(30))
    out = tmp_path / "out.jsonl"
    out.write_text("stale\n")
    s = run_scan(str(inp), str(out), screener=screener, resume=True, progress=False)
    assert s.lines == 30 and out.read_text().count("\n") == 30
    with pytest.raises(ValueError):
        run_scan(str(tmp_path / "other.jsonl"), str(out), screener=screener, resume=True, progress=False)
    s2 = run_scan(str(inp), str(out), screener=screener, only_flagged=True, progress=False)
    assert s2.lines == 30 and out.read_text().count("\n") == s2.flagged


# -- output, summary and progress ------------------------------------------------------------


def test_only_flagged_and_the_summary(tmp_path):
    inp = tmp_path / "in.jsonl"
    write_jsonl(inp, [{"id": "r1", "text": RISKY}, {"id": "o1", "text": AD}, "{oops", {"id": "r2", "text": RISKY + " Liên hệ 0912345678."}])
    out = tmp_path / "out.jsonl"
    r = cli("scan", str(inp), "--out", str(out), "--only-flagged", "--workers", "1", "--no-model")
    assert r.returncode == 0, r.stderr
    got = [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines()]
    assert [g["id"] for g in got] == ["r1", "r2"] and all(g["flagged"] for g in got)
    assert "scanned 4 lines" in r.stderr and "2 flagged" in r.stderr and "1 errors" in r.stderr
    assert '"high": 2' in r.stderr and "scam_compound_destination" in r.stderr
    assert "line 3: not valid JSON" in r.stderr
    assert "━" not in r.stderr and "ETA" not in r.stderr  # no progress bar when stderr is not a terminal


def test_a_forced_progress_bar_shows_count_rate_and_eta(tmp_path, screener, capsys):
    inp = tmp_path / "in.jsonl"
    write_jsonl(inp, postings(20))
    run_scan(str(inp), str(tmp_path / "o.jsonl"), screener=screener, progress=True)
    err = capsys.readouterr().err
    assert "20 postings" in err and "/s" in err and "ETA" in err


# -- pushing to the service ------------------------------------------------------------------


class FakeService:
    """POST /v1/postings: fails the first call with 503, rejects a posting whose text is
    "REJECT" as the service's validation would (422 with its index), needs the key."""

    def __init__(self, key="k-scan"):
        self.calls = []
        self.accepted = []
        self.key = key
        svc = self

        class H(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                svc.calls.append(len(body["postings"]))
                if self.path != "/v1/postings" or self.headers.get("Authorization") != f"Bearer {svc.key}":
                    return self._send(401, {"detail": "bad key"})
                if len(svc.calls) == 1:
                    return self._send(503, {"detail": "try later"})
                bad = [i for i, p in enumerate(body["postings"]) if p["text"] == "REJECT"]
                if bad:
                    return self._send(422, {"detail": [{"loc": ["body", "postings", i, "text"], "msg": "bad text", "type": "x"} for i in bad]})
                svc.accepted.extend(body["postings"])
                return self._send(200, {"received": len(body["postings"])})

            def _send(self, code, obj):
                data = json.dumps(obj).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def service():
    s = FakeService()
    yield s
    s.close()


def test_push_to_the_service_in_batches_with_retries(tmp_path, service):
    recs = postings(40, seed=9)
    recs[12] = {"id": "bad", "text": "REJECT", "source": "testboard"}
    recs[20] = {"title": "Nhân viên kho", "company": "Công ty CP Sao Mai", "location": "Bình Dương"}  # no id, no source
    recs.append("{not json")
    inp = tmp_path / "board.jsonl"
    write_jsonl(inp, recs)
    out = tmp_path / "out.jsonl"
    r = cli("scan", str(inp), "--out", str(out), "--workers", "1", "--no-model", "--to", service.url, "--batch-size", "7",
            env={**os.environ, "SCREENING_API_KEY": "k-scan"})
    assert r.returncode == 0, r.stderr
    assert service.calls[0] == 7 and max(service.calls) <= 7  # batches; the first failed with 503, then retried
    ids = [p["external_id"] for p in service.accepted]
    want = [x["id"] for x in recs if isinstance(x, dict) and x.get("id") not in (None, "bad")]
    assert len(ids) == len(set(ids)) == 39  # nothing lost, nothing twice
    assert [i for i in ids if not i.startswith("sha256:")] == want
    no_id = next(p for p in service.accepted if p["external_id"].startswith("sha256:"))
    assert no_id["source"] == "board" and no_id["title"] == "Nhân viên kho" and "Bình Dương" in no_id["text"]
    assert {p["source"] for p in service.accepted} == {"testboard", "board"}
    assert "line 13: rejected by the service (HTTP 422)" in r.stderr and "pushed 39 postings" in r.stderr


def test_a_failed_push_stops_the_scan_and_resume_pushes_the_rest(tmp_path, screener, service):
    inp = tmp_path / "in.jsonl"
    write_jsonl(inp, postings(25, seed=2))
    out = tmp_path / "out.jsonl"
    with pytest.raises(ScanStopped):
        run_scan(str(inp), str(out), screener=screener, push_to="http://127.0.0.1:9", push_key="k-scan",
                 push_tries=2, push_backoff=0.01, push_batch=10, progress=False)
    state = json.loads(progress_path(out).read_text())
    assert state["done"] == 0 and not state["complete"]  # nothing reached the service: nothing is done
    service.calls.append(0)  # no 503 this time
    s = run_scan(str(inp), str(out), screener=screener, push_to=service.url, push_key="k-scan", push_batch=10, resume=True, progress=False)
    assert s.lines == 25 and s.pushed == 25
    assert [p["external_id"] for p in service.accepted] == [f"t{i}" for i in range(25)]
    assert out.read_text().count("\n") == 25


def test_a_wrong_key_stops_the_scan(tmp_path, screener, service):
    inp = tmp_path / "in.jsonl"
    write_jsonl(inp, postings(5))
    service.calls.append(0)
    with pytest.raises(ScanStopped, match="HTTP 401.*--resume continues"):
        run_scan(str(inp), str(tmp_path / "o.jsonl"), screener=screener, push_to=service.url, push_key="wrong", progress=False)
