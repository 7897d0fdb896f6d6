"""The service survives `kill -9` and a restart with nothing lost: a real server process on a
file SQLite database, and on PostgreSQL, killed while requests are in flight."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from svc_helpers import BENIGN, FEE, RISKY, auth, free_port

ROOT = Path(__file__).resolve().parents[2]
TEXTS = (RISKY, FEE, BENIGN)


def start(url: str, log: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {**os.environ, "SCREENING_DATABASE_URL": url, "SCREENING_MODEL": "none", "SCREENING_LOG_LEVEL": "warning"}
    proc = subprocess.Popen([sys.executable, "-m", "screening", "serve", "--host", "127.0.0.1", "--port", str(port)],
                            cwd=ROOT, env=env, stdout=open(log, "ab"), stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"the server exited ({proc.returncode}):\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                return proc, base
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    proc.kill()
    pytest.fail("the server did not start:\n" + log.read_text()[-3000:])


def batch(tag: str, n: int) -> list[dict]:
    return [{"source": f"crawler-{tag[0]}", "external_id": f"{tag}-{i}", "text": TEXTS[i % 3] + f" (#{tag}-{i})"} for i in range(n)]


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_kill_9_and_restart_lose_nothing(tmp_path, request, backend):
    from service.cli import add_user

    db, log = tmp_path / "crash.db", tmp_path / "server.log"
    url = f"sqlite:///{db}" if backend == "sqlite" else request.getfixturevalue("pg_url")
    scanner = add_user("scanner", "scanner", url)[1]
    inspector = add_user("inspector", "inspector", url)[1]
    proc, base = start(url, log)
    try:
        with httpx.Client(base_url=base, timeout=60) as c:
            acked: list[dict] = []
            for k in range(4):
                b = batch(f"ok{k}", 150)
                r = c.post("/v1/postings", json={"postings": b}, headers=auth(scanner))
                assert r.status_code == 200 and r.json()["created"] == 150
                acked += b
            items = c.get("/v1/flags", params={"limit": 40, "sort": "id", "order": "asc"}, headers=auth(inspector)).json()["items"]
            reviews: dict[int, list[tuple[str, str]]] = {}
            for n, it in enumerate(items):
                for d in (("needs_info", "confirmed") if n % 2 else ("dismissed",)):
                    note = f"review {d} of {it['id']}"
                    r = c.post(f"/v1/flags/{it['id']}/review", json={"decision": d, "note": note}, headers=auth(inspector))
                    assert r.status_code == 200
                    reviews.setdefault(it["id"], []).append((d, note))

        # Requests in flight when the process dies: a batch and a stream of reviews.
        inflight = batch("late", 400)
        late_reviews: list[tuple[int, str, str]] = []
        open_ids = [i["id"] for i in httpx.get(base + "/v1/flags", params={"status": "open", "limit": 300},
                                                headers=auth(inspector), timeout=30).json()["items"]]
        assert len(open_ids) > 20

        def send_batch():
            try:
                httpx.post(base + "/v1/postings", json={"postings": inflight}, headers=auth(scanner), timeout=30)
            except httpx.HTTPError:
                pass

        def send_reviews():
            with httpx.Client(base_url=base, timeout=30) as c2:
                for fid in open_ids:
                    note = f"late {fid}"
                    try:
                        r = c2.post(f"/v1/flags/{fid}/review", json={"decision": "escalated", "note": note}, headers=auth(inspector))
                    except httpx.HTTPError:
                        return
                    if r.status_code == 200:
                        late_reviews.append((fid, "escalated", note))

        threads = [threading.Thread(target=send_batch), threading.Thread(target=send_reviews)]
        for t in threads:
            t.start()
        deadline = time.monotonic() + 20
        while len(late_reviews) < 3 and time.monotonic() < deadline:  # kill while reviews are flowing
            time.sleep(0.01)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        for t in threads:
            t.join(30)
        assert late_reviews, "no review was acknowledged before the kill: the test proves little"
        assert len(late_reviews) < len(open_ids), "the kill came after the last review: nothing was in flight"

        if backend == "sqlite":  # the database file itself is sound
            with sqlite3.connect(db) as con:
                assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"

        proc, base = start(url, log)
        with httpx.Client(base_url=base, timeout=60) as c:
            exported = [json.loads(x) for x in
                        c.get("/v1/export", params={"format": "jsonl"}, headers=auth(inspector)).text.splitlines()]
            stats = c.get("/v1/stats", headers=auth(inspector)).json()
            # every acknowledged posting is there, once (re-sending creates nothing)
            for k in range(4):
                again = c.post("/v1/postings", json={"postings": acked[k * 150:(k + 1) * 150]}, headers=auth(scanner)).json()
                assert again["created"] == 0 and all(i["posting_id"] for i in again["items"])
            # the batch in flight is all there or not at all (one transaction per batch)
            late = c.post("/v1/postings", json={"postings": inflight}, headers=auth(scanner)).json()
            assert late["created"] in (0, len(inflight))
            total_postings = stats["postings"]["total"]
            assert total_postings in (len(acked), len(acked) + len(inflight))
            # every acknowledged review is intact, in order, and the status follows the last one
            for fid, expected in reviews.items():
                got = c.get(f"/v1/flags/{fid}", headers=auth(inspector)).json()
                assert [(r["decision"], r["note"]) for r in got["reviews"]][: len(expected)] == expected
                assert got["status"] == expected[-1][0]
            for fid, d, note in late_reviews:
                got = c.get(f"/v1/flags/{fid}", headers=auth(inspector)).json()
                assert (d, note) in [(r["decision"], r["note"]) for r in got["reviews"]]
            assert sum(1 for e in exported if e["reviews"]) >= len(reviews) + len(late_reviews)
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(10)
