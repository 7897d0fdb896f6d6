"""Training data: our seed corpus, the real training quotes and the real postings (ordinary
class, weakly checked by the rules), each with a group so near-duplicates never straddle the
train/test split. Real data is read from ../shared/data and skipped, with a message, where the
folder is absent."""

from __future__ import annotations

import gzip
import hashlib
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from screening.extract import extract_companies
from screening.text import shadow

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "training" / "corpus"
SHARED = ROOT.parent / "shared" / "data"
TARGET_BOARDS = ("topcv", "vietnamworks", "careerviet", "facebook_it_groups")
OTHER_BOARDS = ("itviec", "xkld_sites_2018")


@dataclass(frozen=True)
class Example:
    text: str
    label: int  # 1 risky, 0 ordinary
    group: str
    source: str  # corpus | real_quotes | board name | reviews
    id: str = ""
    lang: str = "vi"


def log(msg: str) -> None:
    print(msg, file=sys.stderr)


def _jsonl(path: Path) -> Iterator[dict]:
    op = gzip.open if path.suffix == ".gz" else open
    with op(path, "rt", encoding="utf-8") as fh:
        for line in fh:
            line = line.strip()
            if line:
                yield json.loads(line)


_PHONE = re.compile(r"(?<!\d)0\d(?:[ .\-]?\d){7,9}(?!\d)")
_SITE = re.compile(r"\b[\w\-]+\.(?:vn|com|net|org|asia)\b")
# official programme sites that many unrelated notices cite
_PUBLIC_SITE = re.compile(r"gov|moha|molisa|colab|dolab|japan\.vn|eps|hrdkorea|facebook|zalo|gmail|yahoo")


def _link_families(rows: list[dict]) -> dict[str, str]:
    """Families that share a phone number, a website or a firm name are one group, so an
    invented agency seen in training never reappears in the test split."""
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for d in rows:
        fam = "fam:" + d["family"]
        find(fam)
        text = d["text"]
        keys = {"tel:" + re.sub(r"\D", "", m) for m in _PHONE.findall(text)}
        keys |= {"site:" + m.lower() for m in _SITE.findall(text) if not _PUBLIC_SITE.search(m.lower())}
        # firms, but not public bodies that many unrelated ads name (Trung tâm Dịch vụ việc làm…)
        keys |= {"firm:" + e.value.lower() for e in extract_companies(shadow(text)) if not e.value.lower().startswith(("trung tâm", "trung tam"))}
        for k in sorted(keys):
            a, b = find(fam), find(k)
            if a != b:  # the smaller name is the root, so groups do not depend on hash order
                parent[max(a, b)] = min(a, b)
    return {d["family"]: find("fam:" + d["family"]) for d in rows}


def corpus_examples() -> list[Example]:
    rows = [d for path in sorted(CORPUS.glob("*.jsonl")) for d in _jsonl(path)]
    groups = _link_families(rows)
    return [
        Example(d["text"], 1 if d["label"] == "risky" else 0, f"corpus:{groups[d['family']]}", "corpus", d["id"], d.get("lang", "vi"))
        for d in rows
    ]


def real_quote_examples(name: str = "real_quotes_train.jsonl") -> list[Example]:
    path = SHARED / "labelled" / name
    if not path.exists():
        log(f"skipped real quotes: {path} is absent")
        return []
    out = []
    for d in _jsonl(path):
        group = "quote:" + (d.get("source_url") or d["id"])
        out.append(Example(d["text"], 1 if d["label"] == "risky" else 0, group, "real_quotes", d["id"], d.get("lang", "vi")))
    return out


def posting_text(rec: dict) -> str:
    text = rec.get("text")
    if not text and isinstance(rec.get("sections"), dict):
        text = "\n".join(str(v) for v in rec["sections"].values() if v)
    return text or ""


def _posting_group(board: str, text: str, company: str | None) -> str:
    head = re.sub(r"\W+", " ", text.lower())[:120]
    key = (company or "").strip().lower() or hashlib.sha1(head.encode()).hexdigest()[:12]
    return f"{board}:{key}"


def posting_examples(boards: tuple[str, ...]) -> list[Example]:
    out = []
    for board in boards:
        path = SHARED / "postings" / f"{board}.jsonl"
        if not path.exists():
            log(f"skipped postings: {path} is absent")
            continue
        for i, rec in enumerate(_jsonl(path)):
            text = posting_text(rec)
            if not text.strip():
                continue
            title, company = rec.get("title"), rec.get("company")
            full = "\n".join(x for x in (title, company, text) if x)
            out.append(Example(full, 0, _posting_group(board, text, company), board, f"{board}:{i}"))
    return out


def data_hashes(paths: list[Path]) -> dict[str, str]:
    out = {}
    for p in paths:
        if p.exists():
            out[str(p.relative_to(p.parents[2]) if len(p.parents) > 2 else p)] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def source_files() -> list[Path]:
    files = sorted(CORPUS.glob("*.jsonl"))
    files.append(SHARED / "labelled" / "real_quotes_train.jsonl")
    files += [SHARED / "postings" / f"{b}.jsonl" for b in TARGET_BOARDS + OTHER_BOARDS]
    return [f for f in files if f.exists()]
