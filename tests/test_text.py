"""The shadow text, its offset map and tokens."""

import pytest

from screening.text import fold, shadow, tokenize, words


@pytest.mark.parametrize(
    "raw,folded",
    [
        ("Việc NHẸ lương CAO", "viec nhe luong cao"),
        ("Đặt cọc", "dat coc"),
        ("ＺＡＬＯ", "zalo"),  # fullwidth
        ("𝐂𝐚𝐦𝐩𝐮𝐜𝐡𝐢𝐚", "campuchia"),  # math bold
        ("vie\u0301c nhe\u0323", "viec nhe"),  # decomposed diacritics
        ("lư\u200bơng", "luong"),  # zero-width space inside a word
        ("\u202eabc", "abc"),  # bidi override removed
    ],
)
def test_fold(raw, folded):
    assert fold(raw) == folded


@pytest.mark.parametrize("raw", ["Việc NHẸ lương CAO", "vie\u0301c", "ＺＡＬＯ 𝐂𝐚𝐦", "a\u200bb\u202ec"])
def test_fold_is_idempotent(raw):
    assert fold(fold(raw)) == fold(raw)


@pytest.mark.parametrize("raw", ["Lương 15tr/th", "vie\u0301c nhe\u0323 xkld", "l\u200bư\u200bơ\u200bn\u200bg cao", "ＺＡＬＯ 0909"])
def test_token_spans_index_the_raw_text(raw):
    sh = shadow(raw)
    for t in tokenize(sh):
        assert 0 <= t.start < t.end <= len(raw)
        if t.kind == "word" and t.norm not in ("xuat", "khau", "lao", "dong"):
            assert fold(raw[t.start:t.end]).replace(" ", "") in (t.norm, raw[t.start:t.end].lower()) or t.norm


@pytest.mark.parametrize(
    "raw,expected",
    [
        ("ko cần bc", ["khong", "can", "bang", "cap"]),
        ("hok can kn", ["khong", "can", "kinh", "nghiem"]),
        ("lg 15tr/th", ["luong", "<num>", "trieu", "thang"]),
        ("7 củ", ["<num>", "trieu"]),
        ("500k/ngày", ["<num>", "nghin", "ngay"]),
        ("ib zalo, kb zalo", ["inbox", "zalo", "ket", "ban", "zalo"]),
        ("XKLĐ Nhật, tts đh mới", ["xuat", "khau", "lao", "dong", "nhat", "thuc", "tap", "sinh", "don", "hang", "moi"]),
        ("giữ hc, vmb 2 chiều", ["giu", "ho", "chieu", "ve", "may", "bay", "<num>", "chieu"]),
        ("$800 đô", ["usd", "<num>", "usd"]),
        ("800 đô", ["<num>", "usd"]),
        ("15-20 triệu", ["<num>", "trieu"]),
        ("lươnggggg", ["luong"]),
    ],
)
def test_shorthand_and_numbers(raw, expected):
    assert words(raw) == expected


def test_spaced_and_dotted_letters_are_joined():
    sh = shadow("v.i.ệ.c n.h.ẹ")
    toks = tokenize(sh, frozenset({"viec", "nhe"}))
    assert [t.norm for t in toks] == ["viec", "nhe"]
    assert all(sh.raw[t.start:t.end] == "v.i.ệ.c n.h.ẹ" for t in toks)


def test_glued_words_are_split_on_the_vocabulary():
    toks = tokenize(shadow("#vieclamluongcao"), frozenset({"viec", "lam", "luong", "cao"}))
    assert [t.norm for t in toks] == ["viec", "lam", "luong", "cao"]


def test_decomposed_span_maps_back_to_raw():
    raw = "ab vie\u0301c x"
    sh = shadow(raw)
    i = sh.text.index("viec")
    s, e = sh.to_raw(i, i + 4)
    assert raw[s:e] == "vie\u0301c"
