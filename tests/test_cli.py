"""The command line contract: check and scan."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run(*args, input=None):
    return subprocess.run([sys.executable, "-m", "screening", *args], cwd=ROOT, input=input, capture_output=True, text=True, timeout=300)


def test_check_json():
    r = run("check", "--json", "Sang Campuchia làm CSKH, việc nhẹ lương cao, bao vé máy bay")
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["flagged"] and d["risk_band"] == "high"
    assert any(i["id"] == "scam_compound_destination" for i in d["indicators"])


def test_check_reads_stdin_and_prints_a_verdict():
    r = run("check", "-", input="Không thu phí. Tuyển công nhân may, bao ăn ở.")
    assert r.returncode == 0, r.stderr
    assert "THẤP" in r.stdout


def test_check_without_input_is_a_clear_error():
    r = subprocess.run([sys.executable, "-m", "screening", "check", "--file", "/nonexistent/ad.txt"], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 2 and "cannot read" in r.stderr


def test_scan_keeps_order_and_reports_bad_lines(tmp_path):
    inp = tmp_path / "in.jsonl"
    lines = [
        json.dumps({"id": "a", "text": "Sang Campuchia làm CSKH, việc nhẹ lương cao"}, ensure_ascii=False),
        "{not json",
        json.dumps({"id": "c", "title": "Nhân viên kế toán"}),
        json.dumps({"id": "d", "text": 42}),
        json.dumps(["not", "an", "object"]),
        json.dumps({"id": "f", "text": "Tuyển nhân viên kế toán, lương 12 triệu"}, ensure_ascii=False),
    ]
    inp.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    r = run("scan", str(inp), "--out", str(out), "--workers", "2", "--no-model")
    assert r.returncode == 0, r.stderr
    res = [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines()]
    assert [x.get("id", x.get("line")) for x in res] == ["a", 2, "c", "d", 5, "f"]
    assert res[0]["flagged"] and not res[5]["flagged"]
    assert "error" in res[1] and "JSON" in res[1]["error"] and res[1]["line"] == 2
    assert "error" in res[3] and "text" in res[3]["error"]
    assert "error" in res[4]
    assert "risk_band" in res[2]  # a title-only listing is screened
    assert "3 errors" in r.stderr


def test_scan_csv_gzip(tmp_path):
    import csv
    import gzip

    p = tmp_path / "in.csv.gz"
    with gzip.open(p, "wt", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, ["id", "text"])
        w.writeheader()
        w.writerow({"id": "x1", "text": "Đặt cọc trước 10 triệu để giữ slot đi Nhật"})
        w.writerow({"id": "x2", "text": "Tuyển bảo vệ ca đêm"})
    r = run("scan", str(p), "--out", "-", "--workers", "1", "--no-model")
    assert r.returncode == 0, r.stderr
    res = [json.loads(x) for x in r.stdout.splitlines()]
    assert [x["id"] for x in res] == ["x1", "x2"] and res[0]["flagged"]


def test_examples_command_screens_the_example_ads():
    r = run("examples")
    assert r.returncode == 0, r.stderr
    assert "ex01" in r.stdout and "high" in r.stdout and "low" in r.stdout
