"""Redaction of personal data for exports."""

from screening.privacy import redact


def test_contacts_are_redacted_and_evidence_stays():
    text = "Liên hệ Zalo 0912.345.678, email hoa.nguyen@example.com, STK 0123456789012. Công ty TNHH Sông Hồng tuyển lao động đi Nhật."
    out = redact(text, names=False)
    assert "0912" not in out and "hoa.nguyen" not in out and "0123456789012" not in out
    assert "[EMAIL]" in out and "[STK]" in out
    assert "Công ty TNHH Sông Hồng tuyển lao động đi Nhật." in out


def test_personal_names_are_redacted_with_ner():
    out = redact("Liên hệ chị Nguyễn Thị Hoa để được tư vấn đi Nhật.")
    assert "Nguyễn Thị Hoa" not in out and "[TÊN]" in out


def test_kept_names_stay():
    out = redact("Liên hệ chị Nguyễn Thị Hoa.", keep=["Nguyễn Thị Hoa"])
    assert "Nguyễn Thị Hoa" in out


def test_names_ner_misses_in_long_ads_are_redacted_and_places_and_firms_stay():
    text = ("Công ty TNHH Sông Hồng\nTuyển gấp 20 bạn nữ sang Campuchia, lương cao. Liên hệ chị Nguyễn Thị Hoa "
            "hoặc anh Nam, Mr. Tuấn Anh; làm tại Bình Dương, Hà Nội. Người phụ trách: Trần Văn Bình.")
    out = redact(text, keep=["Công ty TNHH Sông Hồng"])
    for name in ("Nguyễn Thị Hoa", "Nam,", "Tuấn Anh", "Trần Văn Bình"):
        assert name not in out, name
    assert out.count("[TÊN]") == 4
    for kept in ("Công ty TNHH Sông Hồng\nTuyển gấp", "Campuchia", "Bình Dương", "Hà Nội"):
        assert kept in out, kept
