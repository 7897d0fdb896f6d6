"""Throughput and memory of a batch scan (`python -m screening scan`) on real postings.

    python benchmarks/scan_bench.py              # 100,000 postings: 1 core, all cores, underthesea
    python benchmarks/scan_bench.py --n 1000000 --memory-only   # peak memory of a long stream

The input is the real postings of ../shared/data/postings/ (TopCV, VietnamWorks, CareerViet,
Facebook IT groups, ITviec: about 5,000 distinct ads) replicated in shuffled rounds to --n, as
a gzip JSON-lines file. What is measured, so the figures read honestly:

* distinct: the first --distinct postings (each different) scanned on one core with --no-dedupe:
  what screening one posting costs, the rules engine and the classifier included.
* stream, 1 core / all cores: the whole replicated file, as the scan runs by default. A verbatim
  copy of an earlier posting is not screened again (its result is the first's, marked reused),
  so these rates mostly tell how fast the pipeline moves copies; the distinct rate is the
  screening speed.
* underthesea: ``word_tokenize`` alone on a sample of the same texts (title and text), in this
  process, as a yardstick (ratio = scan rate / underthesea rate).

Each scan runs as a child process; rates are postings / the scan's own time (after the model is
loaded, which the start-up column shows apart). Peak memory is sampled every 0.2 s over the
scan's process tree: the largest process (RSS) and the sum over the tree (PSS, pages shared
between the forked workers counted once). The 1,000,000 run takes some minutes on two cores
and writes about 6 GB of results to a temporary folder (deleted).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(os.environ.get("SCREENING_SHARED_DATA", ROOT.parent / "shared" / "data")) / "postings"
FILES = ("topcv", "vietnamworks", "careerviet", "facebook_it_groups", "itviec")


def load_postings() -> list[dict]:
    out = []
    for name in FILES:
        path = DATA / f"{name}.jsonl"
        with open(path, encoding="utf-8") as fh:
            for k, line in enumerate(fh):
                r = json.loads(line)
                if not isinstance(r.get("text"), str):
                    continue
                out.append({"id": f"{name}-{k}", "source": r.get("site") or name, "title": r.get("title"),
                            "company": r.get("company"), "url": r.get("url"), "text": r["text"]})
    return out


def write_input(path: Path, base: list[dict], n: int, seed: int = 1) -> None:
    rng = random.Random(seed)
    written, rnd = 0, 0
    with gzip.open(path, "wt", encoding="utf-8", compresslevel=1) as fh:
        while written < n:
            order = list(range(len(base)))
            rng.shuffle(order)
            for i in order[: n - written]:
                rec = dict(base[i])
                rec["id"] = f"{rec['id']}-r{rnd}"
                fh.write(json.dumps(rec, ensure_ascii=False) + "\n")
            written += min(len(order), n - written)
            rnd += 1


class MemorySampler:
    def __init__(self, pid: int):
        import psutil

        self.proc = psutil.Process(pid)
        self.max_rss = 0
        self.max_pss = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        import psutil

        while not self.stop.is_set():
            try:
                procs = [self.proc] + self.proc.children(recursive=True)
                rss, pss = 0, 0
                for p in procs:
                    try:
                        mi = p.memory_full_info()
                    except (psutil.NoSuchProcess, psutil.AccessDenied):
                        continue
                    self.max_rss = max(self.max_rss, mi.rss)
                    pss += getattr(mi, "pss", mi.rss)
                    rss += mi.rss
                self.max_pss = max(self.max_pss, pss)
            except psutil.NoSuchProcess:
                return
            self.stop.wait(0.2)

    def close(self) -> None:
        self.stop.set()
        self.thread.join()


def run_scan(inp: Path, out: Path, workers: int, *extra: str) -> dict:
    cmd = [sys.executable, "-m", "screening", "scan", str(inp), "--out", str(out), "--workers", str(workers), "--no-progress", *extra]
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    mem = MemorySampler(p.pid)
    _, err = p.communicate()
    wall = time.monotonic() - t0
    mem.close()
    if p.returncode != 0:
        raise SystemExit(f"scan failed ({p.returncode}):\n{err[-3000:]}")
    m = re.search(r"scanned (\d+) lines in ([\d.]+) s", err)
    lines, secs = int(m.group(1)), float(m.group(2))
    d = re.search(r"duplicates: (\d+) exact, (\d+) near; (\d+) reposts reused", err)
    return {
        "lines": lines, "seconds": secs, "wall": wall, "startup": wall - secs, "rate": lines / secs,
        "exact": int(d.group(1)), "near": int(d.group(2)), "reused": int(d.group(3)),
        "screened": lines - int(d.group(3)), "max_rss": mem.max_rss, "max_pss": mem.max_pss,
    }


def underthesea_rate(texts: list[str]) -> float:
    from underthesea import word_tokenize

    word_tokenize("khởi động")  # load the model before timing
    t0 = time.perf_counter()
    for t in texts:
        word_tokenize(t)
    return len(texts) / (time.perf_counter() - t0)


def mb(x: int) -> str:
    return f"{x / 2**20:,.0f} MB"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=100_000, help="postings in the replicated input (default 100,000)")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="'all cores' (default: os.cpu_count())")
    ap.add_argument("--distinct", type=int, default=1500, help="distinct postings for the screening-only rate (0: skip)")
    ap.add_argument("--sample", type=int, default=400, help="texts for underthesea's rate (0: skip)")
    ap.add_argument("--memory-only", action="store_true", help="only the all-cores stream and its peak memory")
    ap.add_argument("--no-model", action="store_true", help="rules only")
    args = ap.parse_args()
    if not DATA.is_dir():
        print(f"the real postings are not here: {DATA} (set SCREENING_SHARED_DATA)", file=sys.stderr)
        return 2
    base = load_postings()
    extra = ["--no-model"] if args.no_model else []
    print(f"postings: {len(base):,} distinct real ads from {', '.join(FILES)}; input {args.n:,} (replicated, shuffled rounds)")
    print(f"machine: {os.cpu_count()} cores; model: {'none (--no-model)' if args.no_model else 'shipped'}")
    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="scan-bench-") as tmp:
        tmpd = Path(tmp)
        inp = tmpd / "postings.jsonl.gz"
        t0 = time.monotonic()
        write_input(inp, base, args.n)
        print(f"wrote {inp.name}: {inp.stat().st_size / 2**20:,.0f} MB gzip in {time.monotonic() - t0:.0f} s\n")
        runs: list[tuple[str, Path, int, list[str]]] = []
        if not args.memory_only:
            if args.distinct:
                dist = tmpd / "distinct.jsonl"
                rng = random.Random(2)
                with open(dist, "w", encoding="utf-8") as fh:
                    for r in rng.sample(base, min(args.distinct, len(base))):
                        fh.write(json.dumps(r, ensure_ascii=False) + "\n")
                runs.append(("distinct, 1 core", dist, 1, ["--no-dedupe"]))
            runs.append(("stream, 1 core", inp, 1, []))
        runs.append((f"stream, {args.workers} cores", inp, args.workers, []))
        hdr = f"{'run':<20} {'postings':>9} {'screened':>9} {'reused':>8} {'scan s':>7} {'start s':>7} {'postings/s':>11} {'max RSS':>9} {'tree PSS':>9}"
        print(hdr)
        print("-" * len(hdr))
        for name, path, w, more in runs:
            out = tmpd / "out.jsonl"
            r = run_scan(path, out, w, *extra, *more)
            out.unlink(missing_ok=True)
            Path(str(out) + ".progress").unlink(missing_ok=True)
            results[name] = r
            print(f"{name:<20} {r['lines']:>9,} {r['screened']:>9,} {r['reused']:>8,} {r['seconds']:>7.1f} {r['startup']:>7.1f} "
                  f"{r['rate']:>11,.0f} {mb(r['max_rss']):>9} {mb(r['max_pss']):>9}", flush=True)
        if args.sample and not args.memory_only:
            rng = random.Random(3)
            texts = ["\n".join(x for x in (r.get("title"), r.get("company"), r["text"]) if x) for r in rng.sample(base, min(args.sample, len(base)))]
            u = underthesea_rate(texts)
            print(f"\nunderthesea word_tokenize alone: {u:,.0f} postings/s on one core ({len(texts)} of the same texts)")
            one = results.get("stream, 1 core")
            dist = results.get("distinct, 1 core")
            if one:
                print(f"  stream, 1 core / underthesea: {one['rate'] / u:.1f}x  ({one['rate']:,.0f} postings/s; "
                      f"{one['reused']:,} of {one['lines']:,} were verbatim copies, not screened again)")
            if dist:
                print(f"  distinct, 1 core / underthesea: {dist['rate'] / u:.2f}x  ({dist['rate']:,.0f} postings/s: screening every posting)")
        allc = results[f"stream, {args.workers} cores"]
        print(f"\npeak memory for {args.n:,} postings on {args.workers} cores: largest process {mb(allc['max_rss'])}, "
              f"whole tree {mb(allc['max_pss'])} (PSS)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
