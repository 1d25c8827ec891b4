"""Free text shown to people: personal details masked before display."""

from __future__ import annotations

import re

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
# Phone numbers: 9-15 digits with optional +, spaces, dots, dashes and brackets between.
_PHONE = re.compile(r"(?<![\w])\+?\(?\d(?:[\s().-]{0,2}\d){8,14}(?![\w])")


def mask_pii(text: str | None) -> str | None:
    """Replace e-mail addresses and phone numbers with placeholders."""
    if text is None:
        return None
    return _PHONE.sub("[phone]", _EMAIL.sub("[email]", text))
