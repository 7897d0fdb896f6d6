"""Screening postings on Spark, for when one machine is not enough.

``screen_dataframe(df)`` applies the very screener of the local scan (``python -m screening
scan``) to a DataFrame of postings with ``mapInArrow``. The screener is loaded once, on the
driver (rules and model read and checked there), and shipped to the executors once as a
broadcast variable; each Python worker unpickles it once and keeps it in a module global. Each
row is read and screened like a line of the local scan (:func:`screening.scan.prepare`), so the
results are equal; duplicate grouping belongs to the local scan only.

Command line (also as the script given to ``spark-submit``)::

    python -m screening.spark IN OUT [--master local[*]] [--no-model] [--only-flagged]

IN and OUT are JSON lines (``.jsonl``, ``.json``, ``.gz`` too; CSV with a header by ``.csv``) or
Parquet (``.parquet``, or a folder of Parquet files). A JSON-lines OUT is a folder of part files
with one JSON object per posting, as the local scan writes them; a Parquet OUT has the columns
of :data:`OUTPUT_SCHEMA`. Needs the optional extra: ``pip install -e '.[spark]'`` and Java 17+.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import uuid
from pathlib import Path
from typing import Any, Iterator

if __name__ == "__main__" and not __package__:  # run as a file (spark-submit screening/spark.py):
    _HERE = os.path.dirname(os.path.abspath(__file__))  # screening/ must not shadow packages
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != _HERE]  # (catalogue, ...)
    sys.path.insert(0, os.path.dirname(_HERE))

from screening.scan import _assess, _dumps, prepare  # absolute: this file runs as a script too

__all__ = ["screen_dataframe", "OUTPUT_SCHEMA", "INPUT_FIELDS", "main"]

OUTPUT_SCHEMA = (
    "id string, source string, flagged boolean, risk_score double, risk_band string, "
    "indicators array<string>, error string, result string"
)
INPUT_FIELDS = ("id", "external_id", "text", "title", "company", "url", "source", "salary", "location", "locations", "posted_at")

_SCREENERS: dict[str, Any] = {}


def _executor_screener(token: str, shipped: Any) -> Any:
    """The screener of this Python worker: unpickled from the broadcast once per process."""
    s = _SCREENERS.get(token)
    if s is None:
        _SCREENERS.clear()
        s = _SCREENERS[token] = shipped.value
    return s


def _screen_rows(rows: list[dict[str, Any]], screener: Any) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {k: [] for k in ("id", "source", "flagged", "risk_score", "risk_band", "indicators", "error", "result")}
    for row in rows:
        rec = {k: v for k, v in row.items() if v is not None}
        error, p = prepare(0, rec, None)
        ident = rec.get("id", rec.get("external_id"))
        if p is not None:
            try:
                d = _assess(screener, p.text, p.title, p.company, p.url)
            except Exception as exc:  # as the local scan: one bad posting does not stop the job
                error = {"id": ident, "error": f"screening failed: {type(exc).__name__}: {exc}"[:500]}
            else:
                head: dict[str, Any] = {"id": ident}
                if p.source is not None:
                    head["source"] = p.source
                out["id"].append(None if ident is None else str(ident))
                out["source"].append(None if p.source is None else str(p.source))
                out["flagged"].append(bool(d["flagged"]))
                out["risk_score"].append(float(d["risk_score"]))
                out["risk_band"].append(d["risk_band"])
                out["indicators"].append([i["id"] for i in d["indicators"]])
                out["error"].append(None)
                out["result"].append(_dumps({**head, **d}))
                continue
        assert error is not None
        error = {k: v for k, v in error.items() if k != "line"}
        error["id"] = ident
        src = rec.get("source")
        out["id"].append(None if ident is None else str(ident))
        out["source"].append(None if src is None else str(src))
        for k in ("flagged", "risk_score", "risk_band"):
            out[k].append(None)
        out["indicators"].append([])
        out["error"].append(error["error"])
        out["result"].append(_dumps(error))
    return out


def screen_dataframe(df: Any, *, screener: Any = None, rules_dir: str | Path | None = None, model: Any = None) -> Any:
    """Screen a DataFrame of postings (columns among :data:`INPUT_FIELDS`; ``text`` or
    ``title`` needed) into a DataFrame of :data:`OUTPUT_SCHEMA`, one row per posting."""
    import pyarrow as pa
    from pyspark.sql import functions as F

    if screener is None:
        from screening.screener import Screener

        screener = Screener.load(rules_dir, model=model)
    spark = df.sparkSession
    shipped = spark.sparkContext.broadcast(screener)  # shipped to each executor once
    token = uuid.uuid4().hex
    cols = [c for c in df.columns if c in INPUT_FIELDS]
    if "text" not in cols and "title" not in cols:
        raise ValueError("the postings need a `text` or a `title` column")
    schema = pa.schema([
        ("id", pa.string()), ("source", pa.string()), ("flagged", pa.bool_()), ("risk_score", pa.float64()),
        ("risk_band", pa.string()), ("indicators", pa.list_(pa.string())), ("error", pa.string()), ("result", pa.string()),
    ])

    def screen_batches(batches: Iterator[Any]) -> Iterator[Any]:
        s = _executor_screener(token, shipped)
        for batch in batches:
            yield pa.RecordBatch.from_pydict(_screen_rows(batch.to_pylist(), s), schema=schema)

    return df.select(*[F.col(c) for c in cols]).mapInArrow(screen_batches, OUTPUT_SCHEMA)


# -- command line ----------------------------------------------------------------------------


def _is_parquet(path: str) -> bool:
    p = path.rstrip("/")
    if p.endswith(".parquet"):
        return True
    return os.path.isdir(p) and any(f.endswith(".parquet") for f in os.listdir(p))


def read_postings(spark: Any, path: str) -> Any:
    if _is_parquet(path):
        return spark.read.parquet(path)
    if path.lower().endswith((".csv", ".csv.gz")):
        return spark.read.csv(path, header=True, multiLine=True, escape='"')
    return spark.read.json(path)  # JSON lines; gzip by its extension


def _session(master: str | None, app: str = "screening-scan") -> Any:
    from pyspark import SparkConf
    from pyspark.sql import SparkSession

    conf = SparkConf()
    builder = SparkSession.builder.appName(app)
    if master or not conf.contains("spark.master"):
        master = master or "local[*]"
        builder = builder.master(master)
    if (master or conf.get("spark.master", "")).startswith("local"):
        # local mode: the Python workers are this interpreter (with this project's packages)
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        builder = builder.config("spark.ui.enabled", "false").config("spark.driver.host", "127.0.0.1")
    return builder.getOrCreate()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m screening.spark", description="Screen postings on Spark (same results as `python -m screening scan`).")
    ap.add_argument("input", metavar="IN", help="JSON lines (.jsonl/.json, .gz too), CSV (.csv) or Parquet (.parquet or a folder)")
    ap.add_argument("output", metavar="OUT", help="a folder: Parquet when it ends in .parquet, else JSON lines (gzip when it ends in .gz)")
    ap.add_argument("--master", help="Spark master (default: spark-submit's, else local[*])")
    ap.add_argument("--rules", help="rules folder (default: the project's rules/)")
    ap.add_argument("--no-model", action="store_true", help="rules only, without the classifier")
    ap.add_argument("--only-flagged", action="store_true", help="write flagged postings only")
    ap.add_argument("--partitions", type=int, help="repartition the input into this many partitions first")
    args = ap.parse_args(argv)

    from screening.errors import ScreeningError
    from screening.screener import Screener

    try:
        screener = Screener.load(args.rules, model=False if args.no_model else None)
    except ScreeningError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    spark = _session(args.master)
    try:
        spark.sparkContext.setLogLevel("WARN")
        df = read_postings(spark, args.input)
        if args.partitions:
            df = df.repartition(args.partitions)
        res = screen_dataframe(df, screener=screener)
        if args.only_flagged:
            res = res.where("flagged")
        if args.output.rstrip("/").endswith(".parquet"):
            res.write.mode("overwrite").parquet(args.output)
            written = spark.read.parquet(args.output)
        else:
            opts = {"compression": "gzip"} if args.output.endswith(".gz") else {}
            res.select("result").write.mode("overwrite").options(**opts).text(args.output)
            written = spark.read.json(args.output, schema="flagged boolean, risk_band string, error string")
        counts = {r["k"]: r["n"] for r in written.selectExpr("coalesce(risk_band, 'error') as k").groupBy("k").count().withColumnRenamed("count", "n").collect()}
        total = sum(counts.values())
        print(f"screened {total} postings into {args.output}: " + json.dumps(counts), file=sys.stderr)
    finally:
        spark.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
