"""The Spark job (screening/spark.py) in local mode gives the local scan's results."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from test_scan_helpers import postings, write_jsonl

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.slow


def _spark_missing() -> str | None:
    try:
        import pandas  # noqa: F401
        import pyarrow  # noqa: F401
        import pyspark  # noqa: F401
    except ImportError as exc:
        return f"pyspark, pyarrow or pandas is not installed ({exc}): pip install -e '.[spark]'"
    java = shutil.which("java") or (os.environ.get("JAVA_HOME") and Path(os.environ["JAVA_HOME"], "bin", "java").exists())
    if not java:
        return "java is not installed (Spark needs Java 17 or later)"
    return None


def _need_spark() -> None:
    reason = _spark_missing()
    if reason is None:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI must run the Spark test: {reason}")
    pytest.skip(reason)


def _strip(d: dict) -> dict:
    return {k: v for k, v in d.items() if k not in ("line", "group", "duplicate_of", "duplicate", "reused")}


def test_spark_job_equals_the_local_scan(tmp_path):
    _need_spark()
    from screening.scan import read_records, scan

    recs = postings(48, seed=11, risky_share=0.3)
    recs.append({"id": "title-only", "title": "Nhân viên chăm sóc khách hàng", "company": "Công ty TNHH Ánh Dương",
                 "salary": "2000 USD", "location": "Campuchia"})
    recs.append({"id": "no-text", "text": "   ", "source": "testboard"})
    inp = tmp_path / "postings.jsonl"
    write_jsonl(inp, recs)

    local = {str(r["id"]): r for r in scan(read_records(inp), workers=1)}
    assert len(local) == 50 and "error" in local["no-text"] and "risk_band" in local["title-only"]
    assert sum(1 for r in local.values() if r.get("flagged")) >= 5

    out = tmp_path / "results.parquet"
    env = {**os.environ, "PYSPARK_PYTHON": sys.executable, "SPARK_LOCAL_IP": "127.0.0.1"}
    r = subprocess.run(
        [sys.executable, "-m", "screening.spark", str(inp), str(out), "--master", "local[2]", "--partitions", "2"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
    )
    assert r.returncode == 0, r.stderr[-3000:]
    assert "screened 50 postings" in r.stderr

    import pyarrow.parquet as pq

    rows = pq.read_table(out).to_pylist()
    assert len(rows) == 50
    spark = {row["id"]: row for row in rows}
    assert set(spark) == set(local)
    for ident, mine in local.items():
        row = spark[ident]
        if "error" in mine:
            assert row["error"] == mine["error"] and row["risk_band"] is None
            continue
        assert row["risk_score"] == mine["risk_score"], ident
        assert row["risk_band"] == mine["risk_band"], ident
        assert row["flagged"] == mine["flagged"], ident
        assert row["indicators"] == [i["id"] for i in mine["indicators"]], ident
        assert json.loads(row["result"]) == _strip(mine), ident
