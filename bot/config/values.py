"""The personal values of a scenario, as typed -> normal form; and the site URL's check.

Every function raises ValueError with a message that never holds the value (it may be a mobile
number, a code or ID digits): the message says what is wrong, the caller adds file, line and key.
"""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import urlsplit

__all__ = [
    "CODE_PATTERN",
    "ID_LAST6_PATTERN",
    "MOBILE_PATTERN",
    "SITE_PATTERN",
    "check_base_url",
    "extract_code",
    "normalize_id_last6",
    "normalize_mobile",
]

MOBILE_PATTERN = r"^1[3-9][0-9]{9}$"
CODE_PATTERN = r"^[0-9]{6}$"
ID_LAST6_PATTERN = r"^[0-9]{5}[0-9X]$"
SITE_PATTERN = r"^[a-z0-9][a-z0-9_-]*$"

MOBILE_MESSAGE = "is not a valid mainland mobile number (11 digits starting with 1)"
ID_MESSAGE = "is not the last 6 characters of an ID (5 digits, then a digit or X)"


def check_base_url(url: str) -> str | None:
    """None when ``url`` is an http(s) URL with a host, else what is wrong."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        return "must be an http:// or https:// URL"
    if not parts.hostname:
        return "must name a host"
    return None


# -- normalisation ---------------------------------------------------------------------------------

_MOBILE_SEPARATORS = re.compile(r"[\s\-\u2010-\u2015.()]")


def normalize_mobile(value: str) -> str:
    """``+86 139-1234-5678`` -> ``13912345678``; raises ValueError (without the value) if invalid.

    Full-width characters are folded first (NFKC), then spaces, dashes, dots and parentheses are
    dropped, then a leading ``+86``, ``0086`` or ``86`` when exactly 11 digits follow.
    """
    text = _MOBILE_SEPARATORS.sub("", unicodedata.normalize("NFKC", value))
    for prefix in ("+86", "0086", "86"):
        rest = text[len(prefix) :]
        if text.startswith(prefix) and re.fullmatch(r"[0-9]{11}", rest):
            text = rest
            break
    if not re.fullmatch(MOBILE_PATTERN, text):
        raise ValueError(MOBILE_MESSAGE)
    return text


def normalize_id_last6(value: str) -> str:
    """`` 30721x `` -> ``30721X``; raises ValueError (without the value) if invalid."""
    text = re.sub(r"\s", "", unicodedata.normalize("NFKC", value)).upper()
    if re.fullmatch(ID_LAST6_PATTERN, text):
        return text
    if re.fullmatch(r"[0-9A-Z]{15,18}", text):
        raise ValueError("looks like a whole ID number; give only its last 6 characters")
    raise ValueError(ID_MESSAGE)


# Links carry digits that are not the code. Bare hosts are limited to a few top-level domains so
# that "864209.Please" is not taken for a host name.
_URL = re.compile(
    r"(?:https?://|www\.)[\x21-\x7e]*"
    r"|(?<![A-Za-z0-9-])(?:[A-Za-z0-9-]+\.)+(?:cn|com|net|org|gov|edu|info|top|xyz|io|cc)"
    r"(?![A-Za-z0-9-])(?:[/:?#][\x21-\x7e]*)?",
    re.IGNORECASE,
)
_SIX_DIGITS = re.compile(r"(?<![0-9])[0-9]{6}(?![0-9])")
_KEYED_CODE = re.compile(
    r"(?:验证码|校验码|code)\s*(?:为|是|:|is)?\s*([0-9]{6})(?![0-9])", re.IGNORECASE
)


def extract_code(text: str) -> str:
    """The 6-digit code from the code itself or from a pasted SMS; raises ValueError if unclear.

    ``【工信部ICP备案】您的短信核验验证码为864209，请于24小时内登录https://beian.miit.gov.cn/…``
    gives ``864209``. Messages never contain the text.
    """
    folded = unicodedata.normalize("NFKC", text).strip()
    if re.fullmatch(r"[0-9][0-9 \-]*", folded):  # the code alone, perhaps typed as "864 209"
        digits = re.sub(r"[ \-]", "", folded)
        if len(digits) != 6:
            raise ValueError("is not a 6-digit SMS code")
        return digits
    without_links = _URL.sub(" ", folded)
    runs: list[str] = list(dict.fromkeys(_SIX_DIGITS.findall(without_links)))
    if len(runs) == 1:
        return runs[0]
    if not runs:
        raise ValueError(
            "is neither a 6-digit code nor an SMS holding one (digits inside links do not count)"
        )
    keyed = list(dict.fromkeys(m.group(1) for m in _KEYED_CODE.finditer(without_links)))
    if len(keyed) == 1:
        return keyed[0]
    raise ValueError("the SMS text holds more than one 6-digit number; give the code alone")
