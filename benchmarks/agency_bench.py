"""Builds the link graph and the near-duplicate groups for the real postings of
../shared/data/postings replicated to N (each copy lightly changed, as reposts are), and prints
time and peak memory at several sizes in one pass (a table), so growth can be read.

With --service, the service's side: the postings stored in batches into a temporary SQLite
database and grouped at ingest (posting_groups, near_dup_bands), agencies made for their firm
names, and agency name searches timed at each size.

Usage: python benchmarks/agency_bench.py [--sizes 25000,50000,100000] [--service]
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DATA = ROOT.parent / "shared" / "data" / "postings"


def base_texts() -> list[str]:
    from training.data import posting_text

    texts = []
    for board in ("topcv", "vietnamworks", "careerviet", "facebook_it_groups", "itviec", "xkld_sites_2018"):
        with (DATA / f"{board}.jsonl").open(encoding="utf-8") as fh:
            for line in fh:
                rec = json.loads(line)
                t = posting_text(rec)
                if t.strip():
                    texts.append("\n".join(x for x in (rec.get("company"), t) if x))
    return texts


def stream(texts: list[str], n: int):
    rng = random.Random(0)
    for i in range(n):
        t = texts[i % len(texts)]
        if i >= len(texts):  # a repost: another phone, a changed line
            t = t + f"\nLiên hệ: 09{rng.randrange(10**8):08d}"
        yield f"p{i}", t


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def service_run(texts: list[str], sizes: list[int], batch: int = 500) -> int:
    """Store the replicated postings in a temporary SQLite database in batches as ingest does
    (rows, then near-duplicate grouping and agencies for the firm names), timing the grouping;
    at each size, time agency name searches."""
    import shutil
    import tempfile

    import sqlalchemy as sa
    from sqlalchemy.orm import Session

    from screening.agency import Resolver
    from screening.screener import Screener
    from service.db import storage
    from service.db.engine import make_engine
    from service.db.migrate import upgrade
    from service.db.models import Posting, utcnow
    from service.settings import Settings

    scoring = Screener.load(model=False).catalogue.scoring
    tmp = tempfile.mkdtemp(prefix="agency-bench-")
    settings = Settings(database_url=f"sqlite:///{tmp}/bench.db")
    upgrade(settings)
    engine = make_engine(settings)
    n, marks = sizes[-1], set(sizes)
    rng = random.Random(1)
    grouping = linking = 0.0
    rows, pending, names = [], [], []
    print(f"{len(texts):,} real postings, replicated to {n:,}, stored in batches of {batch} (SQLite, {tmp})")
    try:
        with Session(engine) as session:
            for k, (pid, text) in enumerate(stream(texts, n), start=1):
                pending.append((pid, text))
                if len(pending) < batch and k not in marks:
                    continue
                now = utcnow()
                ids = list(session.scalars(sa.insert(Posting).returning(Posting.id), [
                    {"source": "bench", "external_id": p, "text": t, "screened_text": t, "assessment": {}, "risk_score": 0.0,
                     "risk_band": "low", "flagged": False, "versions": {}, "created_at": now} for p, t in pending]))
                session.commit()
                t0 = time.perf_counter()
                storage.group_postings(session, list(zip(ids, (t for _, t in pending))))
                session.commit()
                t1 = time.perf_counter()
                facts = []
                for i, (p, t) in zip(ids, pending):
                    first = t.split("\n", 1)[0][:80]
                    if len(first.split()) >= 2:  # the firm's name line, one agency per name and replica
                        name = f"{first} {int(p[1:]) // len(texts)}"
                        facts.append(storage.AgencyFacts(i, (name,)))
                        names.append(name)
                storage.assign_agencies(session, facts, Resolver([]))
                linking += time.perf_counter() - t1
                grouping += t1 - t0
                pending = []
                if k in marks:
                    queries = [q[:-3] for q in rng.sample(names, 20)]  # a name with its last letters missing
                    t0 = time.perf_counter()
                    for q in queries:
                        storage.search_agencies(session, q, scoring, limit=5)
                    search_ms = (time.perf_counter() - t0) / len(queries) * 1000
                    agencies = session.scalar(sa.select(sa.func.count()).select_from(storage.Agency))
                    groups = session.scalar(sa.select(sa.func.count(sa.distinct(storage.PostingGroup.group_id))))
                    rows.append((k, grouping, linking, agencies, groups, search_ms, peak_mb()))
        print(f"{'postings':>9}  {'grouping s':>10}  {'ms per 1k':>9}  {'agencies s':>10}  {'agencies':>9}  {'groups':>7}  {'search ms':>9}  {'peak MB':>8}")
        for k, g, lk, ag, gr, ms, mb in rows:
            print(f"{k:>9,}  {g:>10.1f}  {g / k * 1e6:>9,.0f}  {lk:>10.1f}  {ag:>9,}  {gr:>7,}  {ms:>9.1f}  {mb:>8,.0f}")
        if len(rows) > 1:
            print(f"growth {rows[0][0]:,} -> {rows[-1][0]:,} postings (x{rows[-1][0] / rows[0][0]:.1f}): grouping time "
                  f"x{rows[-1][1] / rows[0][1]:.2f}, search time x{rows[-1][5] / rows[0][5]:.2f} with x{rows[-1][3] / rows[0][3]:.1f} agencies")
    finally:
        engine.dispose()
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="25000,50000,100000",
                    help="comma-separated numbers of postings at which to report (one pass up to the largest)")
    ap.add_argument("--n", type=int, help="one size (same as --sizes N)")
    ap.add_argument("--service", action="store_true",
                    help="the service's side instead: group at ingest into a temporary SQLite database "
                         "(posting_groups, near_dup_bands) and time the agency name search")
    args = ap.parse_args()
    try:
        sizes = sorted({int(x) for x in (str(args.n) if args.n else args.sizes).split(",") if x.strip()})
    except ValueError:
        ap.error(f"--sizes must be whole numbers separated by commas (got {args.sizes!r})")
    if not sizes or sizes[0] < 1:
        ap.error("--sizes needs at least one size of 1 or more")
    if not DATA.is_dir():
        print(f"skipped: {DATA} is absent")
        return 0
    if args.service:
        return service_run(base_texts(), sizes)
    from screening.extract import extract
    from screening.links import LinkGraph, NearDuplicates, identifiers, shared_identifier_signs
    from screening.text import shadow

    texts = base_texts()
    n = sizes[-1]
    extract(shadow(texts[0][:20000]))  # the rules and tokenizer load on first use: not part of the growth
    base = peak_mb()
    print(f"{len(texts):,} real postings, replicated to {n:,}; peak RSS with them and the rules loaded {base:,.0f} MB")
    graph, dups = LinkGraph(), NearDuplicates()
    marks = set(sizes)
    rows = []
    elapsed, t0 = 0.0, time.perf_counter()
    for k, (pid, text) in enumerate(stream(texts, n), start=1):
        graph.add(pid, identifiers(extract(shadow(text[:20000]))))
        dups.add(pid, text[:20000])
        if k in marks:
            elapsed += time.perf_counter() - t0  # counting networks and groups is not timed
            rows.append((k, elapsed, peak_mb(), len(graph.networks()), len(dups.groups())))
            t0 = time.perf_counter()
    print(f"{'postings':>9}  {'seconds':>8}  {'per s':>7}  {'s per 1k':>8}  {'peak MB':>8}  {'MB over base':>12}  {'networks':>9}  {'dup groups':>10}")
    for k, dt, mb, nets, groups in rows:
        print(f"{k:>9,}  {dt:>8.1f}  {k / dt:>7,.0f}  {dt / k * 1000:>8.2f}  {mb:>8,.0f}  {mb - base:>12,.0f}  {nets:>9,}  {groups:>10,}")
    if len(rows) > 1:
        (k0, t_0, m0, *_), (k1, t_1, m1, *_) = rows[0], rows[-1]
        print(f"growth {k0:,} -> {k1:,} postings (x{k1 / k0:.1f}): time x{t_1 / t_0:.2f}, memory over base x{(m1 - base) / max(m0 - base, 1):.2f}")
    print(f"shared-contact signs: {len(shared_identifier_signs(graph)):,}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
