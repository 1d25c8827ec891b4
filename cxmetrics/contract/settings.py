"""Company settings: the name, the currency every money figure is shown in, the default
period, and whether churn is recorded. Kept in the contract's ``settings`` table (one row per
key); a database without the table, or without a key, uses the defaults below.

========================  ===============================================================
key                       value
========================  ===============================================================
``company_name``          shown in the page header and the briefing
``currency``              ISO code: GBP, EUR, USD… (default GBP, the sample insurer's)
``currency_symbol``       how amounts are written (default: the code's usual symbol)
``default_period``        30d, 90d, quarter, year or all; unset: the shortest of these
                          that gives the overview at least 30 NPS answers
``churn_recorded``        true / false; unset: true when any customer has a churn date
========================  ===============================================================

Set them with ``python -m cxmetrics settings set KEY VALUE`` (``settings show`` lists them).
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl
import sqlalchemy as sa

from cxmetrics.contract import schema
from cxmetrics.contract.periods import PRESETS
from cxmetrics.contract.registry import format_money

#: Usual symbols of common currencies; any other ISO code is written as "CODE ".
SYMBOLS = {
    "GBP": "£",
    "EUR": "€",
    "USD": "$",
    "CAD": "CA$",
    "AUD": "A$",
    "NZD": "NZ$",
    "JPY": "¥",
    "CNY": "CN¥",
    "INR": "₹",
    "CHF": "CHF ",
    "SEK": "SEK ",
    "NOK": "NOK ",
    "DKK": "DKK ",
    "PLN": "PLN ",
    "BRL": "R$",
    "ZAR": "R ",
}
DEFAULT_CURRENCY = "GBP"
PERIOD_CHOICES = tuple(p for p in PRESETS if p != "custom")
KEYS = ("company_name", "currency", "currency_symbol", "default_period", "churn_recorded")
_TRUE, _FALSE = ("true", "yes", "1"), ("false", "no", "0")


class SettingsError(ValueError):
    """A setting has a value that cannot be used; the message names the key and the value."""


@dataclass(frozen=True)
class Settings:
    company_name: str = ""
    currency: str = DEFAULT_CURRENCY
    currency_symbol: str = SYMBOLS[DEFAULT_CURRENCY]
    default_period: str | None = None  # a preset key; None: chosen from the data
    churn_recorded: bool | None = None  # None: decided by the data (any churn date)

    def money(self, value: float | None) -> str:
        """An amount in the company's currency: £1.23m, €45k, $950; "–" when unknown."""
        return format_money(value, self.currency_symbol)


def parse(values: dict[str, str]) -> Settings:
    """Settings from key/value text; a clear ``SettingsError`` for an unknown key or value."""
    unknown = sorted(set(values) - set(KEYS))
    if unknown:
        raise SettingsError(
            f"unknown setting {', '.join(unknown)}; the settings are {', '.join(KEYS)}"
        )
    out: dict[str, object] = {}
    if "company_name" in values:
        out["company_name"] = values["company_name"].strip()
    code = values.get("currency", DEFAULT_CURRENCY).strip().upper()
    if not (len(code) == 3 and code.isalpha()):
        raise SettingsError(f"currency {values.get('currency')!r} is not a 3-letter ISO code")
    out["currency"] = code
    symbol = values.get("currency_symbol")
    out["currency_symbol"] = symbol if symbol else SYMBOLS.get(code, f"{code} ")
    period = (values.get("default_period") or "").strip()
    if period:
        if period not in PERIOD_CHOICES:
            raise SettingsError(
                f"default_period {period!r} is not one of {', '.join(PERIOD_CHOICES)}"
            )
        out["default_period"] = period
    churn = (values.get("churn_recorded") or "").strip().lower()
    if churn:
        if churn not in (*_TRUE, *_FALSE):
            raise SettingsError(f"churn_recorded {churn!r} is not true or false")
        out["churn_recorded"] = churn in _TRUE
    return Settings(**out)


def read(engine: sa.Engine) -> dict[str, str]:
    """The raw key/value rows (empty when the database has no settings table)."""
    if not sa.inspect(engine).has_table(schema.settings.name):
        return {}
    with engine.connect() as conn:
        rows = conn.execute(sa.select(schema.settings.c.key, schema.settings.c.value)).all()
    return {k: v for k, v in rows}


def load(engine: sa.Engine) -> Settings:
    return parse(read(engine))


def save(engine: sa.Engine, key: str, value: str | None) -> Settings:
    """Set (or, with None, clear) one setting after checking the result; returns them all."""
    values = read(engine)
    if value is None:
        values.pop(key, None)
    else:
        values[key] = value
    result = parse(values)  # refuses before anything is written
    from cxmetrics.contract import store  # store reads the settings: imported here, not at the top

    store.require_writable(engine, "settings")
    schema.settings.create(engine, checkfirst=True)
    with engine.begin() as conn:
        conn.execute(schema.settings.delete().where(schema.settings.c.key == key))
        if value is not None:
            conn.execute(schema.settings.insert().values(key=key, value=value))
    return result


def frame(values: dict[str, str]) -> pl.DataFrame:
    """Settings as rows of the ``settings`` table (for ``store.write_tables``)."""
    parse(values)
    return pl.DataFrame(
        {"key": list(values), "value": list(values.values())},
        schema={"key": pl.String, "value": pl.String},
    )
