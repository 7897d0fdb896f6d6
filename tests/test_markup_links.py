"""HTML copies of an ad: grouped with the plain ad, and redacted like it."""

from __future__ import annotations

from screening.links import NearDuplicates, fingerprint, similarity
from screening.markup import mask_markup
from screening.privacy import redact

PLAIN = ("Tuyển lao động đi Nhật, phí trọn gói 160 triệu, liên hệ ngay để được tư vấn, bay nhanh trong "
         "tháng này, không cần tiếng, bao đỗ visa, chỉ cần đặt cọc trước 20 triệu giữ chỗ")
HTML = ("<div><p>Tuyển lao động đi Nhật, <b>phí trọn gói</b> 160&nbsp;triệu, liên hệ ngay để được tư vấn,</p>"
        "<p>bay nhanh trong tháng này, không cần tiếng, bao đỗ visa, chỉ cần đặt cọc trước 20&nbsp;triệu giữ chỗ</p></div>")


def test_an_html_copy_has_the_plain_ads_fingerprint():
    assert mask_markup(HTML) is not None
    (k1, s1), (k2, s2) = fingerprint(PLAIN), fingerprint(HTML)
    assert k1 == k2 and similarity(s1, s2) == 1.0
    other = fingerprint(PLAIN.replace("Nhật", "Hàn Quốc").replace("160", "90"))
    assert other[0] != k1


def test_an_html_copy_joins_the_plain_ads_group():
    nd = NearDuplicates()
    g1 = nd.add("a", PLAIN)
    g2 = nd.add("b", HTML)
    g3 = nd.add("c", "Tuyển công nhân may tại Bình Dương, lương 9 triệu một tháng, làm giờ hành chính, nghỉ chủ nhật, có bảo hiểm đầy đủ")
    assert g1 == g2 and g3 != g1


def test_redaction_reads_contacts_through_html_and_keeps_the_length_of_the_rest():
    for text, placeholder in (("Liên hệ 0912&nbsp;345&nbsp;678 nhé", "[SĐT]"), ("mail hoa&#64;gmail.com", "[EMAIL]"),
                              ("gọi 0912<span>345</span>678 nhé", "[SĐT]")):
        out = redact(text)
        assert placeholder in out and "345" not in out and "hoa&#64;" not in out
        assert out.split(placeholder)[0] == text.split("0912")[0].split("hoa")[0]


def test_redaction_of_html_keeps_the_markup_and_the_lines_around_a_name():
    """Block tags are line breaks: a name is not read across them (as in plain text), so the
    heading, the place on the next line and the tags themselves stay."""
    assert redact("<p>Liên hệ chị Lan</p><p>Hà Nội, 0912345678</p>") == "<p>Liên hệ chị [TÊN]</p><p>Hà Nội, [SĐT]</p>"
    out = redact("<h3>TUYỂN DỤNG</h3>Nguyễn Văn An phụ trách tuyển dụng")
    assert out.startswith("<h3>TUYỂN DỤNG</h3>") and "Nguyễn Văn An" not in out
    firm = "Công ty Hoàng Long"
    assert redact(f"<p>{firm}</p><p>tuyển thợ hàn</p>", keep=[firm]) == f"<p>{firm}</p><p>tuyển thợ hàn</p>"
