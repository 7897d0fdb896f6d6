"""Training data handling: reviewed items from the service, grouped splits."""

import json

from training.data import _link_families
from training.train import review_examples, split_groups


def test_reviewed_items_become_labelled_examples(tmp_path):
    p = tmp_path / "export.jsonl"
    rows = [
        {"flag_id": 1, "posting_id": 10, "status": "confirmed", "label": 1, "text": "Sang Campuchia làm CSKH"},
        {"flag_id": 2, "posting_id": 11, "status": "dismissed", "label": 0, "text": "Tuyển thu ngân"},
        {"flag_id": 3, "posting_id": 12, "status": "escalated", "label": None, "text": "Đơn hàng Nhật"},
        {"flag_id": 4, "posting_id": 13, "status": "open", "text": "Tuyển bảo vệ"},
    ]
    p.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n", encoding="utf-8")
    ex = review_examples(p)
    assert [(e.text, e.label) for e in ex] == [("Sang Campuchia làm CSKH", 1), ("Tuyển thu ngân", 0)]
    assert ex[0].group != ex[1].group


def test_families_sharing_a_phone_are_one_group():
    rows = [
        {"family": "a", "text": "Liên hệ 0912 345 678"},
        {"family": "b", "text": "Gọi ngay 0912.345.678 để đăng ký"},
        {"family": "c", "text": "Tuyển thu ngân, gọi 0987 654 321"},
    ]
    g = _link_families(rows)
    assert g["a"] == g["b"] != g["c"]


def test_grouped_split_keeps_groups_whole():
    groups = [f"g{i // 3}" for i in range(300)]
    tr, te = split_groups(groups, 0.2)
    assert not {groups[i] for i in tr} & {groups[i] for i in te}
    assert set(tr) | set(te) == set(range(300))
