"""The shipped classifier: loaded only from models/, only when its hash matches."""

import json
import shutil
import uuid

import pytest

from screening.classify import load_classifier, models_dir
from screening.errors import ModelFileError


def shipped_version():
    current = models_dir() / "CURRENT"
    if not current.exists():
        pytest.fail("models/CURRENT is missing: the project ships a model")
    return current.read_text().strip()


@pytest.fixture
def model_copy():
    src = models_dir() / shipped_version()
    dst = models_dir() / f"_test_{uuid.uuid4().hex[:8]}"
    shutil.copytree(src, dst)
    yield dst
    shutil.rmtree(dst, ignore_errors=True)


def test_shipped_model_loads_and_predicts():
    clf = load_classifier()
    assert clf is not None and clf.version == shipped_version()
    from screening.screener import Screener

    s = Screener.load()
    risky = s.screen("Tuyển gấp nữ sang Campuchia làm chăm sóc khách hàng online, lương 1.200 USD, bao vé máy bay, ib tele")
    ordinary = s.screen("Công ty TNHH May Việt Tiến tuyển công nhân may tại Bình Dương, lương 8 triệu, có BHXH, làm giờ hành chính.")
    assert risky.classifier.probability > 0.5 > ordinary.classifier.probability
    assert risky.classifier.features and all(w > 0 for _, w in risky.classifier.features)
    assert any(st.source == "classifier" for st in risky.steps)


def test_tampered_model_is_refused(model_copy):
    with (model_copy / "model.joblib").open("ab") as fh:
        fh.write(b"\0")
    with pytest.raises(ModelFileError, match="does not match"):
        load_classifier(model_copy)


def test_metadata_without_hash_is_refused(model_copy):
    meta = json.loads((model_copy / "metadata.json").read_text())
    meta.pop("sha256")
    (model_copy / "metadata.json").write_text(json.dumps(meta))
    with pytest.raises(ModelFileError):
        load_classifier(model_copy)


def test_model_outside_models_folder_is_refused(tmp_path):
    src = models_dir() / shipped_version()
    shutil.copytree(src, tmp_path / "m")
    with pytest.raises(ModelFileError, match="only from"):
        load_classifier(tmp_path / "m")


def test_metadata_records_data_hashes_and_versions():
    meta = json.loads((models_dir() / shipped_version() / "metadata.json").read_text())
    assert meta["sha256"] and meta["libraries"]["scikit-learn"] and meta["seed"] == 0
    assert any(k.endswith(".jsonl") for k in meta["data"])
    assert "test_split" in meta["metrics"]


def test_fast_prediction_equals_the_pipeline():
    """predict_record computes from the fitted parameters what the Pipeline computes."""
    import numpy as np

    from screening.screener import Screener

    s = Screener.load()
    texts = [
        "Tuyển gấp nữ sang Campuchia làm chăm sóc khách hàng online, lương 1.200 USD",
        "Công ty TNHH May Việt Tiến tuyển công nhân may tại Bình Dương, lương 8 triệu",
        "Đơn hàng đi Nhật 3 năm, phí trọn gói 160tr, đặt cọc trước giữ slot, ib zalo",
        "Senior Java developer, Hanoi office, salary up to 2,500 USD, hybrid work",
        "",
        "🙂🙂🙂",
    ]
    recs = [s.record(t) for t in texts]
    ref = s.classifier.pipeline.predict_proba(recs)[:, 1]
    fast = np.array([s.classifier.predict_record(r).probability for r in recs])
    assert np.allclose(ref, fast, atol=1e-6)
