"""Extraction of what an inspector needs to know from an ad, each with its raw span:
amounts of money (and whether the ad calls them a salary, a fee or a deposit), phone numbers,
chat handles, e-mails, web addresses, bank accounts, ages, durations, working hours, licence
numbers and company names. Places come from the catalogue's gazetteer (see rules.py).

Everything here reads the folded shadow text (so diacritics and case do not matter) and maps
spans back to the raw text.
"""

from __future__ import annotations

import re
from functools import lru_cache

import phonenumbers

from .text import Shadow
from .types import Entity, Span

__all__ = ["extract", "parse_number", "extract_money", "extract_phones"]

_NUM = r"\d{1,3}(?:[.,]\d{3})+(?:[.,]\d+)?|\d+(?:[.,]\d+)?"
_MULT = {
    "trieu": 1e6, "tr": 1e6, "cu": 1e6, "m": 1e6, "ty": 1e9, "ti": 1e9,
    "k": 1e3, "nghin": 1e3, "ngan": 1e3, "ngàn": 1e3, "man": 1e4, "van": 1e4,
}
_CUR = {
    "d": "VND", "dong": "VND", "vnd": "VND", "vnđ": "VND", "₫": "VND",
    "usd": "USD", "$": "USD", "do": "USD", "dola": "USD", "dollar": "USD", "dollars": "USD", "us$": "USD",
    "eur": "EUR", "euro": "EUR", "euros": "EUR", "€": "EUR",
    "yen": "JPY", "¥": "JPY", "jpy": "JPY", "man": "JPY",
    "te": "TWD", "dai te": "TWD", "ntd": "TWD", "twd": "TWD", "nt$": "TWD",
    "won": "KRW", "krw": "KRW", "₩": "KRW",
    "₱": "PHP", "php": "PHP", "peso": "PHP", "pesos": "PHP",
}
_MONEY_RE = re.compile(
    r"(?<![\w.,])(?P<pre>us\$|nt\$|\$|€|¥|₩|₱|usd|eur)?\s?"
    rf"(?P<a>{_NUM})\s?(?P<ma>trieu|tr|cu|ty|ti|k|nghin|ngan|man|van|m)?"
    rf"(?:\s?(?:-|–|~|den|toi|to|hoac)\s?(?:us\$|\$|€|₱)?\s?(?P<b>{_NUM})\s?(?P<mb>trieu|tr|cu|ty|ti|k|nghin|ngan|man|van|m)?)?"
    r"\s?(?P<cur>vnd|vnđ|dong|d|₫|usd|us\$|\$|dollars?|dola|do|euros?|eur|€|yen|jpy|¥|dai te|te|ntd|twd|won|krw|₩|₱|php|pesos?)?"
    r"(?![^\W\d_])"
    r"(?:\s?(?:/|mot|moi|per|a|each|an)\s?(?P<per>thang|th|ngay|ng|gio|h|nam|tuan|month|day|hour|year|week|nguoi|person)\b)?"
)
_ROLE_WORDS = (
    ("deposit", re.compile(r"\b(?:dat coc|coc|ky quy|tien the chan|deposit|bond|collateral)\b")),
    ("ransom", re.compile(r"\b(?:den bu|boi thuong|tien chuoc|chuoc|phat hop dong|ransom|penalty|compensation)\b")),
    ("commission", re.compile(r"\b(?:hoa hong|commission|thuong)\b")),
    ("service_fee", re.compile(r"\b(?:tien dich vu|phi dich vu|service fee|service fees)\b")),
    ("fee", re.compile(r"\b(?:phi|chi phi|tron goi|le phi|fee|fees|cost|costs|package|lo het|gia|price|nop|dong tien|mat|chuyen khoan|pay|bo ra|chi ra)\b")),
    ("salary", re.compile(r"\b(?:luong|lg|thu nhap|tn|income|salary|wage|wages|earn|earning|luong co ban|basic|upto|up to)\b")),
)


def parse_number(s: str) -> float:
    """'1.500' -> 1500, '1,5' -> 1.5, '15.000.000' -> 15000000, '2,000' -> 2000."""
    s = s.strip()
    parts = re.split(r"[.,]", s)
    if len(parts) == 1:
        return float(s)
    if all(len(p) == 3 for p in parts[1:]):
        return float("".join(parts))
    # the last separator is a decimal point, the others group thousands
    return float("".join(parts[:-1]) + "." + parts[-1])


def _role(sh: Shadow, start: int) -> str | None:
    """The nearest role word before an amount, within its sentence (about 40 characters)."""
    lo = max(0, start - 48)
    window = sh.text[lo:start]
    cut = max(window.rfind("\n"), window.rfind(". "), window.rfind("!"), window.rfind("?"))
    if cut >= 0:
        window = window[cut + 1:]
    best: tuple[int, str] | None = None
    for role, rx in _ROLE_WORDS:
        for m in rx.finditer(window):
            if best is None or m.end() > best[0]:
                best = (m.end(), role)
    return best[1] if best else None


def extract_money(sh: Shadow) -> list[Entity]:
    out: list[Entity] = []
    text = sh.text
    for m in _MONEY_RE.finditer(text):
        a, ma, b, mb = m.group("a"), m.group("ma"), m.group("b"), m.group("mb")
        pre, cur, per = m.group("pre"), m.group("cur"), m.group("per")
        if not (ma or mb or pre or cur):
            continue
        if ma == "m" and not (cur or pre):
            ma = "trieu"  # "40M" in salary talk
        mult_a = _MULT.get(ma or mb or "", 1.0)
        mult_b = _MULT.get(mb or ma or "", 1.0)
        try:
            lo = parse_number(a) * mult_a
            hi = parse_number(b) * mult_b if b else lo
        except ValueError:
            continue
        currency = _CUR.get(pre or cur or "", None)
        if currency is None:
            if (ma or mb) in ("man", "van"):
                currency = "JPY"
            elif ma or mb:
                currency = "VND"
            else:
                continue
        if ma in ("man", "van") and currency == "JPY":
            pass
        if hi < lo:
            lo, hi = hi, lo
        if currency == "VND" and hi < 1000:
            continue  # "5 đ" is not money in an ad
        s, e = m.start("a") if not pre else m.start("pre"), m.end()
        # trim trailing spaces kept by optional groups
        while e > s and text[e - 1] == " ":
            e -= 1
        rs, re_ = sh.to_raw(s, e)
        role = _role(sh, s)
        period = {
            "thang": "month", "th": "month", "month": "month", "ngay": "day", "ng": "day", "day": "day",
            "gio": "hour", "h": "hour", "hour": "hour", "nam": "year", "year": "year",
            "tuan": "week", "week": "week", "nguoi": "person", "person": "person",
        }.get(per or "")
        attrs = (("currency", currency), ("min", lo), ("max", hi), ("role", role), ("period", period))
        out.append(Entity("money", Span(rs, re_, sh.raw[rs:re_]), round(lo, 2), attrs))
    return out


_PHONE_RE = re.compile(r"(?:\+(?<![\w+]\+)\s?84|0(?<![\w+]0)(?:084)?|8(?<![\w+]8)4|o(?<![\w+]o))(?:[\s.\-_*·()]{0,2}[\doil]){8,10}(?![\w])")
_DIGIT_MAP = str.maketrans({"o": "0", "i": "1", "l": "1"})


@lru_cache(maxsize=4096)
def _valid_phone(digits: str) -> str | None:
    try:
        num = phonenumbers.parse(digits, "VN")
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(num):
        return None
    return phonenumbers.format_number(num, phonenumbers.PhoneNumberFormat.E164)


def extract_phones(sh: Shadow) -> list[Entity]:
    out = []
    for m in _PHONE_RE.finditer(sh.text):
        raw_digits = m.group(0).translate(_DIGIT_MAP)
        digits = re.sub(r"[^\d+]", "", raw_digits)
        if not digits.startswith(("0", "+", "84")):
            continue
        e164 = _valid_phone(digits)
        if e164 is None:
            continue
        rs, re_ = sh.to_raw(*m.span())
        out.append(Entity("phone", Span(rs, re_, sh.raw[rs:re_]), e164))
    return out


# Possessive quantifiers and look-behinds keep every pattern here linear in the text length.
_EMAIL_RE = re.compile(r"(?<![a-z0-9._%+\-])[a-z0-9._%+\-]{1,64}+@[a-z0-9\-]{1,63}+(?:\.[a-z0-9\-]{1,63}+){0,6}\.[a-z]{2,24}\b")
_URL_RE = re.compile(r"(?:https?://|www\.)[^\s<>\"'()]{1,2000}+")
_DOMAIN_RE = re.compile(
    r"(?<![\w@.\-])(?:[a-z0-9](?:[a-z0-9\-]{0,61}[a-z0-9])?\.){1,6}"
    r"(?:vn|com|net|org|info|xyz|top|online|site|asia|biz|co|me|io|store|shop|club|cc|link|pro|app|vip|work|jobs)"
    r"(?![\w\-])(?:/[^\s<>\"'()]*)?"
)
_TLD_RE = re.compile(r"\.(?:vn|com|net|org|info|xyz|top|online|site|asia|biz|co|me|io|store|shop|club|cc|link|pro|app|vip|work|jobs)(?![\w\-])")  # a cheap first look for _DOMAIN_RE
_TELEGRAM_RE = re.compile(r"(?:t\.me|telegram\.me|telegram\.dog)/([a-z0-9_]{4,32})|(?:tele(?:gram)?|tg)\s*[:\-]?\s*@?([a-z][a-z0-9_]{3,31})\b")
_AT_RE = re.compile(r"(?<![\w.])@([a-z][a-z0-9_]{3,31})\b")
_FB_RE = re.compile(r"(?:facebook\.com|fb\.com|fb\.me|m\.me|messenger\.com)/[a-z0-9_.\-/?=]+")
_ZALO_RE = re.compile(r"(?:zalo\.me/|zalo(?:\s*(?:so|sdt|:|-|/|\.|la|ib|inbox|lien he))*\s*)(\+?[\d][\d\s.\-]{7,14}\d)")
_BANK_RE = re.compile(r"(?:stk|so tai khoan|tai khoan|tk|account(?: number| no\.?)?)\s*(?:so|:|-)?\s*(?:[a-z]+\s*)?[:\-]?\s*(\d[\d\s.\-]{6,20}\d)")


def _ent(sh: Shadow, kind: str, s: int, e: int, value: object, *attrs: tuple[str, object]) -> Entity:
    rs, re_ = sh.to_raw(s, e)
    return Entity(kind, Span(rs, re_, sh.raw[rs:re_]), value, tuple(attrs))


def extract_contacts(sh: Shadow) -> list[Entity]:
    t = sh.text
    out: list[Entity] = []
    at = "@" in t  # e-mails and @handles need one; most ads have none
    emails = [(m.start(), m.end()) for m in _EMAIL_RE.finditer(t)] if at else []
    for s, e in emails:
        out.append(_ent(sh, "email", s, e, t[s:e]))
    taken = list(emails)
    for m in _URL_RE.finditer(t):
        s, e = m.span()
        url = t[s:e].rstrip(".,;:!?")
        e = s + len(url)
        out.append(_ent(sh, "url", s, e, url))
        taken.append((s, e))
    for m in _DOMAIN_RE.finditer(t) if _TLD_RE.search(t) else ():
        s, e = m.span()
        if any(a <= s < b for a, b in taken):
            continue
        dom = t[s:e].rstrip(".,;:!?")
        host = dom.split("/")[0]
        if re.fullmatch(r"[\d.]+", host) or host.count(".") == 0:
            continue
        out.append(_ent(sh, "domain", s, s + len(dom), host))
    for m in _FB_RE.finditer(t) if (".com/" in t or ".me/" in t) else ():
        out.append(_ent(sh, "facebook", m.start(), m.end(), t[m.start():m.end()]))
    tg_spans = []
    for m in _TELEGRAM_RE.finditer(t):
        handle = m.group(1) or m.group(2)
        if handle in ("telegram", "zalo", "inbox"):
            continue
        out.append(_ent(sh, "telegram", m.start(), m.end(), "@" + handle))
        tg_spans.append(m.span())
    for m in _AT_RE.finditer(t) if at else ():
        if any(a <= m.start() < b for a, b in tg_spans) or any(a <= m.start() < b for a, b in emails):
            continue
        out.append(_ent(sh, "handle", m.start(), m.end(), "@" + m.group(1)))
    for m in _ZALO_RE.finditer(t):
        digits = re.sub(r"\D", "", m.group(1))
        e164 = _valid_phone(digits)
        if e164:
            out.append(_ent(sh, "zalo", m.start(), m.end(), e164))
    for m in _BANK_RE.finditer(t) if ("tk" in t or "tai khoan" in t or "account" in t) else ():
        digits = re.sub(r"\D", "", m.group(1))
        if 8 <= len(digits) <= 19 and not _valid_phone(digits):
            out.append(_ent(sh, "bank_account", m.start(1), m.end(1), digits))
    return out


_AGE_WORDS = ("tuoi", "year", "yo", "+", "tro len", "above", "older")
_AGE_RANGE_RE = re.compile(r"(\d\d)(?<!\d\d\d)\s?(?:-|–|~|den|toi|to)\s?(\d{2})\s?(?:tuoi|years? old|yo)\b")
_AGE_FROM_RE = re.compile(r"(?:tu|tren|du|from|aged?|over)\s(\d{2})\s?(?:tuoi|years? old|yo|\+)?(?:\s?(?:tro len|and above|or older))?")
_AGE_RE = re.compile(r"(\d\d)(?<!\d\d\d)\s?(?:tuoi|years? old|yo)\b")


def extract_ages(sh: Shadow) -> list[Entity]:
    t = sh.text
    out: list[Entity] = []
    if not any(w in t for w in _AGE_WORDS):  # each form of age needs one of them
        return out
    covered: list[tuple[int, int]] = []
    for m in _AGE_RANGE_RE.finditer(t):
        a, b = int(m.group(1)), int(m.group(2))
        if 10 <= a <= 70 and a <= b <= 80:
            out.append(_ent(sh, "age", m.start(), m.end(), a, ("min", a), ("max", b), ("form", "range")))
            covered.append(m.span())
    for m in _AGE_FROM_RE.finditer(t):
        if any(a <= m.start() < b for a, b in covered):
            continue
        tail = t[m.start(1):m.end()]
        if not re.search(r"tuoi|year|yo|\+|tro len|above|older", tail):
            continue
        a = int(m.group(1))
        if 10 <= a <= 70:
            out.append(_ent(sh, "age", m.start(), m.end(), a, ("min", a), ("max", None), ("form", "from")))
            covered.append(m.span())
    for m in _AGE_RE.finditer(t):
        if any(a <= m.start() < b for a, b in covered):
            continue
        a = int(m.group(1))
        if 10 <= a <= 80:
            out.append(_ent(sh, "age", m.start(), m.end(), a, ("min", a), ("max", a), ("form", "single")))
    return out


_DURATION_RE = re.compile(r"(\d(?<![\d/]\d)\d?(?:[.,]5)?)\s?(nam|thang|years?|months?)\b(?!\s?(?:kinh nghiem|experience|tuoi))")
_CONTRACT_CTX = re.compile(r"(?:hop dong|hd|contract|thoi han|ky|visa|lam|term|for)\W*(?:\w+\W+){0,4}$")


def extract_durations(sh: Shadow) -> list[Entity]:
    t = sh.text
    out = []
    for m in _DURATION_RE.finditer(t):
        n = parse_number(m.group(1))
        unit = m.group(2)
        months = n * 12 if unit.startswith(("nam", "year")) else n
        if not 1 <= months <= 120:
            continue
        before = t[max(0, m.start() - 40):m.start()]
        if before.rstrip().endswith("/"):
            continue
        contract = bool(_CONTRACT_CTX.search(before))
        out.append(_ent(sh, "duration", m.start(), m.end(), months, ("months", months), ("contract", contract)))
    return out


_HOURS_RE = re.compile(r"(\d(?<!\d\d)\d?)(?:\s?(?:-|–|~|den)\s?(\d{1,2}))?\s?(?:tieng|gio|h|hours?|hrs?)\s?(?:/|mot|moi|a|per)\s?(?:ngay|day)\b")


def extract_hours(sh: Shadow) -> list[Entity]:
    out = []
    for m in _HOURS_RE.finditer(sh.text):
        hi = int(m.group(2) or m.group(1))
        if 1 <= hi <= 24:
            out.append(_ent(sh, "hours", m.start(), m.end(), hi, ("per", "day")))
    return out


_LICENCE_RE = re.compile(
    r"(?:giay phep|gp|license|licence|so gp)\s?(?:hoat dong dich vu dua nguoi lao dong di lam viec o nuoc ngoai\s)?"
    r"(?:so|no\.?|number|#)?\s?:?\s?(\d{1,4}\s?/\s?[a-z0-9\-]{2,20}(?:\s?-\s?[a-z]{2,6})?)"
)


def extract_licences(sh: Shadow) -> list[Entity]:
    out = []
    t = sh.text
    if not ("gp" in t or "giay phep" in t or "licen" in t):  # what every licence pattern starts with
        return out
    for m in _LICENCE_RE.finditer(t):
        s, e = m.span(1)
        rs, re_ = sh.to_raw(s, e)
        value = re.sub(r"\s+", "", sh.raw[rs:re_]).upper()
        out.append(Entity("licence", Span(rs, re_, sh.raw[rs:re_]), value))
    return out


MAX_COMPANY_MENTIONS = 200  # an ad names a few firms; a text naming thousands is not an ad
_COMPANY_HEAD = re.compile(
    r"(?:cong ty|cty|ctcp|tap doan|trung tam)\s(?:(?:tnhh|co phan|cp|trach nhiem huu han)\s)?"
    r"(?:(?:mot|hai) thanh vien\s)?"
)
_COMPANY_EN = re.compile(r"([A-Z](?<![\w&\-][A-Z])[\w&\-]{0,40}+(?:\s[A-Z][\w&\-]{0,40}+){0,5})\s(?:Co\.,?\s?Ltd|Company Limited|JSC|Corporation|Corp\.?|Ltd\.?|Inc\.?|Group)\b")
_COMPANY_EN_WORDS = ("Co", "JSC", "Ltd", "Inc", "Group")  # one is in every ending _COMPANY_EN takes
_GENERIC_AFTER = re.compile(r"(?:chung toi|minh|em|anh|chi|toi|ben|uy tin|lon|nuoc ngoai|ben kia|do|nay|cua|se|dang|tuyen|can|co)\b")


def extract_companies(sh: Shadow) -> list[Entity]:
    """Company names written after "Công ty / Cty / CTCP …" (capitalised words in the raw text),
    and English "… Co., Ltd / JSC / Corporation"."""
    out = []
    raw = sh.raw
    for k, m in enumerate(_COMPANY_HEAD.finditer(sh.text)):
        if k >= MAX_COMPANY_MENTIONS:
            break
        s, e = m.span()
        rest = sh.text[e:e + 80]
        rs, r_head_end = sh.to_raw(s, e)
        if _GENERIC_AFTER.match(rest) and not raw[r_head_end:r_head_end + 1].isupper():
            continue  # "công ty anh", "công ty bên kia" — not "Công ty Ánh Dương"
        # take capitalised words (or all-caps) in the raw text after the head
        pos = r_head_end
        end = pos
        n = 0
        segment = raw[pos:pos + 120].split("\n", 1)[0]  # a name does not run past the line
        for w in re.finditer(r"\S+", segment):
            word = w.group(0)
            core = word.strip(",.;:!?()\"'")
            if not core or not (core[0].isupper() or (n > 0 and core[0].isdigit())) or n >= 7:
                break
            end = pos + w.start() + len(word.rstrip(",.;:!?)\"'"))
            n += 1
            if word != word.rstrip(",.;:!?"):
                break
        if n == 0:
            continue
        name = raw[rs:end]
        out.append(Entity("company", Span(rs, end, name), " ".join(name.split())))
    for m in _COMPANY_EN.finditer(raw) if any(w in raw for w in _COMPANY_EN_WORDS) else ():
        out.append(Entity("company", Span(m.start(), m.end(), m.group(0)), " ".join(m.group(0).split())))
    return out


def extract(sh: Shadow) -> list[Entity]:
    """All regex-based entities of a text (places are added by the rules engine)."""
    ents: list[Entity] = []
    ents += extract_money(sh)
    phones = extract_phones(sh)
    ents += phones
    ents += extract_contacts(sh)
    ents += extract_ages(sh)
    ents += extract_durations(sh)
    ents += extract_hours(sh)
    ents += extract_licences(sh)
    ents += extract_companies(sh)
    ents.sort(key=lambda x: (x.span.start, x.span.end, x.kind))
    return ents
