"""Translation catalogs (gettext via Babel), one per supported language.

The `.po` files are the only source: they are compiled in memory when first used, so a stale
`.mo` can never ship. Message ids are English; zh_CN is the default language of the product.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from io import BytesIO
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

LOCALE_DIR = Path(__file__).parents[1] / "locale"
DOMAIN = "zhengfeng"
LANGUAGES = ("zh_CN", "en")
DEFAULT_LANGUAGE = "zh_CN"
LANGUAGE_NAMES = {"zh_CN": "简体中文", "en": "English"}

Translator = Callable[[str], str]


def normalize_language(code: str | None, default: str = DEFAULT_LANGUAGE) -> str:
    """Map Telegram's IETF tags (zh-hans, zh-CN, en-US …) onto the catalogs we have."""
    if not code:
        return default
    primary = code.replace("_", "-").split("-")[0].lower()
    if primary == "zh":
        return "zh_CN"
    if primary == "en":
        return "en"
    return default


@cache
def translations(language: str) -> Translations:
    po_path = LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"
    with po_path.open("rb") as fh:
        catalog = read_po(fh, locale=language, domain=DOMAIN)
    buffer = BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return Translations(fp=buffer, domain=DOMAIN)


def gettext_for(language: str) -> Translator:
    lang = language if language in LANGUAGES else DEFAULT_LANGUAGE
    return translations(lang).gettext


def N_(message: str) -> str:
    """Mark a string for extraction where it is defined; translate it where it is shown."""
    return message
