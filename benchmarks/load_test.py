"""Bounded load test on loopback: a mix of POST /v1/screen, GET /v1/flags and GET /healthz from
many concurrent keep-alive clients against a real server process, in several rounds. Prints,
per round, p50 / p99 latency, requests/s, the number of errors (any answer but 200, or a broken
connection) and the server's resident memory after the round, so that growth across rounds shows.

    .venv/bin/python benchmarks/load_test.py [--requests 20000] [--clients 50] [--rounds 3]
                                             [--no-model] [--database-url URL]

Starts `python -m screening serve` on a free port with a fresh SQLite database (its own users
and 500 stored postings, so the queue has items), and stops it at the end. Exits 1 when any
request failed. Speed is reported, never asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from service_bench import ads, pct, start_server  # noqa: E402

MIX = (("screen", 0.6), ("flags", 0.3), ("healthz", 0.1))


def rss_mb(pid: int) -> float:
    """Resident memory of the server process and its children (MB, from /proc)."""
    pids = [pid]
    try:
        pids += [int(x) for x in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        pass
    total = 0
    for p in pids:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total / 1024


class Conn:
    """A minimal HTTP/1.1 keep-alive client (the load generator must cost far less CPU than the
    server it measures: both share the machine)."""

    def __init__(self, host: str, port: int):
        self.host, self.port = host, port
        self.reader = self.writer = None

    async def open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)

    async def request(self, method: str, path: str, headers: bytes, body: bytes = b"") -> int:
        if self.writer is None:
            await self.open()
        head = f"{method} {path} HTTP/1.1\r\nHost: {self.host}\r\n".encode() + headers
        if body:
            head += b"Content-Type: application/json\r\nContent-Length: " + str(len(body)).encode() + b"\r\n"
        self.writer.write(head + b"\r\n" + body)
        resp = await self.reader.readuntil(b"\r\n\r\n")
        status = int(resp[9:12])
        length = 0
        for line in resp.split(b"\r\n")[1:]:
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        await self.reader.readexactly(length)
        return status

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None


async def one_round(host: str, port: int, plan: list[tuple[str, str, bytes, bytes]], clients: int):
    conns = [Conn(host, port) for _ in range(clients)]
    lat: dict[str, list[float]] = {k: [] for k, _ in MIX}
    errors: dict[str, int] = {}
    todo = iter(plan)

    async def worker(conn: Conn):
        for kind, method, path, headers, body in todo:
            t0 = time.perf_counter()
            try:
                status = await conn.request(method, path, headers, body)
            except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
                errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1
                conn.close()
                continue
            lat[kind].append(time.perf_counter() - t0)
            if status != 200:
                errors[str(status)] = errors.get(str(status), 0) + 1

    t0 = time.perf_counter()
    await asyncio.gather(*(worker(c) for c in conns))
    wall = time.perf_counter() - t0
    for c in conns:
        c.close()
    return lat, errors, wall


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--requests", type=int, default=20_000, help="requests per round")
    ap.add_argument("--clients", type=int, default=50, help="concurrent keep-alive clients")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--no-model", action="store_true", help="rules only (no classifier)")
    ap.add_argument("--database-url", help="default: a new SQLite file in a temporary folder")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--mix", default=",".join(f"{k}={w}" for k, w in MIX),
                    help="request kinds and weights (screen, flags, healthz), e.g. screen=1 to isolate one")
    args = ap.parse_args()
    try:
        mix = [(k.strip(), float(w)) for k, w in (x.split("=") for x in args.mix.split(","))]
    except ValueError:
        raise SystemExit(f"--mix {args.mix!r}: give kind=weight pairs, e.g. screen=0.6,flags=0.3,healthz=0.1") from None
    if not mix or any(k not in dict(MIX) for k, _ in mix):
        raise SystemExit(f"--mix {args.mix!r}: kinds are {', '.join(k for k, _ in MIX)}")

    from service.cli import add_user

    tmp = tempfile.TemporaryDirectory(prefix="load-test-")
    url = args.database_url or f"sqlite:///{Path(tmp.name) / 'load.db'}"
    keys = {role: add_user(f"load-{role}", role, url)[1] for role in ("job_centre", "inspector", "scanner")}
    proc, port, health = start_server(url, Path(tmp.name) / "server.log", no_model=args.no_model)
    base = f"http://127.0.0.1:{port}"
    failed = False
    try:
        texts = ads()
        seed = [{"source": "load", "external_id": f"p{i}", "text": texts[i % len(texts)] + f"\n(#{i})"} for i in range(500)]
        r = httpx.post(base + "/v1/postings", json={"postings": seed}, headers={"Authorization": f"Bearer {keys['scanner']}"}, timeout=300)
        r.raise_for_status()
        print(f"service on {base} ({health['database']}), versions {health['versions']}; {os.cpu_count()} CPUs; "
              f"{r.json()['created']} postings stored ({r.json()['flagged']} queued); {len(texts)} ads to screen")
        print(f"{args.rounds} rounds of {args.requests:,} requests at {args.clients} concurrent clients; mix "
              + ", ".join(f"{k} {w / sum(x for _, x in mix):.0%}" for k, w in mix) + f"; server RSS at start {rss_mb(proc.pid):.0f} MB")

        rng = random.Random(args.seed)
        auth = {k: f"Authorization: Bearer {v}\r\n".encode() for k, v in keys.items()}
        bodies = [json.dumps({"text": t}, ensure_ascii=False).encode() for t in texts]
        flag_paths = ["/v1/flags?limit=20", "/v1/flags?limit=20&band=high", "/v1/flags?sort=date&limit=50",
                      "/v1/flags?status=open&limit=10&offset=20"]
        host = "127.0.0.1"
        for n in range(1, args.rounds + 1):
            plan = []
            for _ in range(args.requests):
                kind = rng.choices([k for k, _ in mix], [w for _, w in mix])[0]
                if kind == "screen":
                    plan.append((kind, "POST", "/v1/screen", auth["job_centre"], rng.choice(bodies)))
                elif kind == "flags":
                    plan.append((kind, "GET", rng.choice(flag_paths), auth["inspector"], b""))
                else:
                    plan.append((kind, "GET", "/healthz", b"", b""))
            lat, errors, wall = asyncio.run(one_round(host, port, plan, args.clients))
            all_ms = [x * 1000 for v in lat.values() for x in v]
            nerr = sum(errors.values())
            failed |= nerr > 0
            per = "; ".join(f"{k} p50 {pct([x * 1000 for x in v], 50):.1f} / p99 {pct([x * 1000 for x in v], 99):.1f} ms"
                            for k, v in lat.items() if v)
            print(f"round {n}: {len(plan):,} requests in {wall:.1f} s ({len(plan) / wall:.0f}/s): "
                  f"p50 {pct(all_ms, 50):.1f} ms, p99 {pct(all_ms, 99):.1f} ms, max {max(all_ms):.0f} ms; "
                  f"errors {nerr}{' ' + json.dumps(errors) if errors else ''}; server RSS {rss_mb(proc.pid):.0f} MB")
            print(f"         {per}")
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
