"""Service speed on loopback: latency of POST /v1/screen for a median ad at 20 concurrent clients,
and ingest throughput (postings/s) of POST /v1/postings, on a fresh SQLite database.

    .venv/bin/python benchmarks/service_bench.py [--requests 2000] [--clients 20] [--postings 3000]
                                                 [--batch 500] [--no-model] [--database-url URL]

Starts the service (`python -m screening serve`) as a subprocess on a free port, with its own
users; prints figures and stops the server. Targets (issue 4): p99 < 50 ms; ingest ≥ 300/s.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pct(values: list[float], p: float) -> float:
    v = sorted(values)
    k = max(0, min(len(v) - 1, int(round(p / 100 * len(v) + 0.5)) - 1))
    return v[k]


def server_cpu(pid: int, tree: bool = False) -> float:
    """CPU seconds used so far by a process and, with ``tree``, its children (Linux /proc)."""
    total = 0.0
    pids = [pid]
    if tree:
        try:
            pids += [int(x) for x in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
        except OSError:
            pass
    for p in pids:
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, IndexError, ValueError):
            return float("nan")
    return total


def start_server(url: str, log_path: Path, *, no_model: bool = False, workers: int = 1) -> tuple[subprocess.Popen, int, dict]:
    """`python -m screening serve` on a free loopback port with the database ``url``; waits for
    /healthz (at most 120 s) and returns (process, port, the /healthz answer)."""
    env = {**os.environ, "SCREENING_DATABASE_URL": url, "SCREENING_LOG_LEVEL": "warning"}
    if no_model:
        env["SCREENING_MODEL"] = "none"
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "screening", "serve", "--port", str(port), "--workers", str(workers)],
                            cwd=ROOT, env=env, stdout=open(log_path, "wb"), stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        try:
            h = httpx.get(base + "/healthz", timeout=1)
            if h.status_code == 200:
                return proc, port, h.json()
        except httpx.HTTPError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise SystemExit("the server did not start:\n" + log_path.read_text()[-2000:])
        time.sleep(0.1)


def ads() -> list[str]:
    texts = [json.loads(x)["text"] for x in (ROOT / "examples" / "ads.jsonl").read_text(encoding="utf-8").splitlines() if x.strip()]
    corpus = ROOT / "training" / "corpus"
    if corpus.is_dir():
        for f in sorted(corpus.glob("*.jsonl")):
            for line in f.read_text(encoding="utf-8").splitlines():
                try:
                    t = json.loads(line).get("text")
                except (ValueError, AttributeError):
                    continue
                if isinstance(t, str) and t.strip():
                    texts.append(t)
    return texts


def real_ads() -> list[str]:
    """The real postings of ../shared/data/postings/ (title, company and text, as a board shows
    them), for --ads real; read, never copied into the project."""
    data = Path(os.environ.get("SCREENING_SHARED_DATA", ROOT.parent / "shared" / "data")) / "postings"
    if not data.is_dir():
        raise SystemExit(f"--ads real: the real postings are not here: {data} (set SCREENING_SHARED_DATA)")
    out = []
    for name in ("topcv", "vietnamworks", "careerviet", "facebook_it_groups", "itviec"):
        with open(data / f"{name}.jsonl", encoding="utf-8") as fh:
            for line in fh:
                r = json.loads(line)
                if isinstance(r.get("text"), str) and r["text"].strip():
                    out.append("\n".join(x for x in (r.get("title"), r.get("company"), r["text"]) if isinstance(x, str) and x))
    return out


def median_ad(texts: list[str]) -> str:
    by_len = sorted(texts, key=len)
    return by_len[len(by_len) // 2]


class Conn:
    """A minimal HTTP/1.1 keep-alive client over asyncio streams: the load generator must cost
    far less CPU than the server it measures (httpx's async client costs more than the service
    itself), since both share the machine."""

    def __init__(self, host: str, port: int):
        self.host, self.port = host, port
        self.reader = self.writer = None

    async def open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)

    async def post(self, path: str, body: bytes, headers: bytes) -> tuple[int, bytes]:
        self.writer.write(b"POST " + path.encode() + b" HTTP/1.1\r\nHost: " + self.host.encode() + b"\r\n" + headers
                          + b"Content-Type: application/json\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        for line in head.split(b"\r\n")[1:]:
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        return status, await self.reader.readexactly(length)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


async def screen_latency(base: str, key: str, text: str, clients: int, total: int, warmup: int) -> tuple[list[float], float]:
    host, port = base.split("//")[1].split(":")
    body = json.dumps({"text": text}, ensure_ascii=False).encode()
    headers = b"Authorization: Bearer " + key.encode() + b"\r\n"
    conns = [Conn(host, int(port)) for _ in range(clients)]
    await asyncio.gather(*(c.open() for c in conns))
    try:
        for _ in range(warmup):
            status, _ = await conns[0].post("/v1/screen", body, headers)
            assert status == 200, status
        lat: list[float] = []
        todo = iter(range(total))

        async def worker(conn: Conn):
            for _ in todo:
                t0 = time.perf_counter()
                status, _ = await conn.post("/v1/screen", body, headers)
                lat.append(time.perf_counter() - t0)
                assert status == 200, status

        t0 = time.perf_counter()
        await asyncio.gather(*(worker(c) for c in conns))
        return lat, time.perf_counter() - t0
    finally:
        for c in conns:
            c.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--requests", type=int, default=2000, help="POST /v1/screen requests timed")
    ap.add_argument("--clients", type=int, default=20)
    ap.add_argument("--postings", type=int, default=3000, help="postings ingested")
    ap.add_argument("--batch", type=int, default=500, help="postings per POST /v1/postings")
    ap.add_argument("--no-model", action="store_true", help="rules only")
    ap.add_argument("--workers", type=int, default=1, help="server processes")
    ap.add_argument("--database-url", help="default: a new SQLite file in a temporary folder")
    ap.add_argument("--ads", choices=("corpus", "real"), default="corpus",
                    help="corpus: the project's examples and seed corpus (median 329 characters); real: the real job-board postings of ../shared/data (median about 1,300 characters)")
    args = ap.parse_args()

    from service.cli import add_user

    tmp = tempfile.TemporaryDirectory(prefix="service-bench-")
    url = args.database_url or f"sqlite:///{Path(tmp.name) / 'bench.db'}"
    job_key = add_user("bench-job-centre", "job_centre", url)[1]
    scan_key = add_user("bench-scanner", "scanner", url)[1]
    proc, port, health = start_server(url, Path(tmp.name) / "server.log", no_model=args.no_model, workers=args.workers)
    base = f"http://127.0.0.1:{port}"
    try:
        versions = health["versions"]
        texts = real_ads() if args.ads == "real" else ads()
        ad = median_ad(texts)
        print(f"service on {base} ({health['database']}, {args.workers} worker(s)); versions {versions}; {os.cpu_count()} CPUs; python {sys.version.split()[0]}")
        print(f"median ad: {len(ad)} characters (of {len(texts)} {'real postings' if args.ads == 'real' else 'example and corpus ads'})")

        import resource

        check = httpx.post(base + "/v1/screen", json={"text": ad}, headers={"Authorization": f"Bearer {job_key}"}, timeout=30)
        check.raise_for_status()
        assert {"flagged", "risk_score", "risk_band", "indicators"} <= set(check.json())

        cpu0 = resource.getrusage(resource.RUSAGE_SELF)
        srv0 = server_cpu(proc.pid, tree=True)
        lat, wall = asyncio.run(screen_latency(base, job_key, ad, args.clients, args.requests, warmup=100))
        cpu1 = resource.getrusage(resource.RUSAGE_SELF)
        client_cpu = (cpu1.ru_utime + cpu1.ru_stime - cpu0.ru_utime - cpu0.ru_stime) / (args.requests + 100) * 1000
        server_ms = (server_cpu(proc.pid, tree=True) - srv0) / (args.requests + 100) * 1000
        ms = [x * 1000 for x in lat]
        print(f"POST /v1/screen, {args.clients} concurrent clients, {len(ms)} requests: "
              f"p50 {pct(ms, 50):.1f} ms, p90 {pct(ms, 90):.1f} ms, p99 {pct(ms, 99):.1f} ms, "
              f"max {max(ms):.1f} ms, mean {statistics.fmean(ms):.1f} ms; {len(ms) / wall:.0f} requests/s "
              f"(CPU per request: server {server_ms:.1f} ms, load generator {client_cpu:.1f} ms)")

        headers = {"Authorization": f"Bearer {scan_key}"}
        postings = [{"source": "bench", "external_id": f"p{i}", "text": texts[i % len(texts)] + f"\n(tin #{i})"} for i in range(args.postings)]
        batches = [postings[i:i + args.batch] for i in range(0, len(postings), args.batch)]
        with httpx.Client(base_url=base, headers=headers, timeout=300) as c:
            t0 = time.perf_counter()
            flagged = 0
            for b in batches:
                r = c.post("/v1/postings", json={"postings": b})
                r.raise_for_status()
                flagged += r.json()["flagged"]
            wall = time.perf_counter() - t0
            print(f"POST /v1/postings, {len(postings)} new postings in {len(batches)} batches of {args.batch}: "
                  f"{len(postings) / wall:.0f} postings/s ({wall:.2f} s; {flagged} flagged and queued)")
            t0 = time.perf_counter()
            for b in batches:
                assert c.post("/v1/postings", json={"postings": b}).json()["created"] == 0
            wall = time.perf_counter() - t0
            print(f"POST /v1/postings, the same {len(postings)} sent again (idempotent, nothing changes): {len(postings) / wall:.0f} postings/s")
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
        tmp.cleanup()


if __name__ == "__main__":
    main()
