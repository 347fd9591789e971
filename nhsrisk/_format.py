"""How quantities are written for people: one home for the formats the summary, CLI and plots share."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = [
    "BILLIONS",
    "MILLIONS",
    "POUNDS",
    "THOUSANDS",
    "MoneyUnit",
    "format_bytes",
    "FIGURE_RESOLUTION",
    "money_unit",
    "ordinal",
    "percent",
    "significant",
]

#: Smallest probability a figure states as a number: below it "< 0.01%", within it of 1 "> 99.99%".
FIGURE_RESOLUTION = 1e-4


def significant(value: float, digits: int) -> str:
    """``value`` to ``digits`` significant figures, without an exponent (1,234 not 1.23e+03).

    Examples
    --------
    >>> significant(1234.5, 3), significant(0.0012345, 2), significant(-7.0, 3)
    ('1,230', '0.0012', '-7.00')
    """
    if value == 0 or not math.isfinite(value):
        return f"{value:g}"
    rounded = float(f"{value:.{digits}g}")
    decimals = max(digits - 1 - math.floor(math.log10(abs(rounded))), 0)
    return f"{rounded:,.{decimals}f}"


def ordinal(probability: float) -> str:
    """Write a percentile as an ordinal, for text and legends.

    Examples
    --------
    >>> ordinal(0.1), ordinal(0.9), ordinal(0.01), ordinal(0.025), ordinal(0.12)
    ('10th', '90th', '1st', '2.5th', '12th')
    """
    percentage = 100.0 * probability
    text = f"{percentage:g}"
    if not float(percentage).is_integer():
        return f"{text}th"
    whole = int(round(percentage))
    suffix = "th" if whole % 100 in (11, 12, 13) else {1: "st", 2: "nd", 3: "rd"}.get(whole % 10, "th")
    return f"{text}{suffix}"


def percent(p: float, digits: int = 3, *, resolution: float | None = None) -> str:
    """Write a probability in per cent, never rounding an uncertain event to a certainty.

    Parameters
    ----------
    p : float
        Probability in [0, 1].
    digits : int, default=3
        Significant figures; more are added where fewer would print a ``p``
        strictly between 0 and 1 as ``0%`` or ``100%``.
    resolution : float, optional
        Where a reader needs no more digits (a figure: :data:`FIGURE_RESOLUTION`),
        a ``p`` above 0 and below ``resolution`` prints as ``"< 0.01%"``, and one
        within ``resolution`` of 1 (but below it) as ``"> 99.99%"``. Exactly 0
        and 1 stay ``"0%"`` and ``"100%"``: no draw, or every draw.

    Returns
    -------
    str
        Such as ``"12.3%"``.

    Examples
    --------
    >>> percent(0.123456), percent(0.99998), percent(1e-6)
    ('12.3%', '99.998%', '0.000100%')
    >>> percent(1e-6, resolution=FIGURE_RESOLUTION), percent(0.999999, resolution=FIGURE_RESOLUTION)
    ('< 0.01%', '> 99.99%')
    >>> percent(0.0, resolution=FIGURE_RESOLUTION), percent(0.5, resolution=FIGURE_RESOLUTION)
    ('0%', '50.0%')
    """
    p = float(p)
    if resolution is not None and 0.0 < p < resolution:
        return f"< {significant(100.0 * resolution, 1)}%"
    if resolution is not None and 1.0 - resolution < p < 1.0:
        return f"> {_complement(100.0 * resolution)}%"
    text = significant(100.0 * p, digits)
    # 99.998% must not print as a certain "100%" (nor 0.0001% as "0%"): add digits until it differs.
    while digits < 12 and 0.0 < p < 1.0 and float(text.replace(",", "")) in (0.0, 100.0):
        digits += 1
        text = significant(100.0 * p, digits)
    return f"{text}%"


def _complement(resolution_percent: float) -> str:
    """``0.01`` -> ``"99.99"``: 100 less a resolution, with the resolution's decimals."""
    decimals = max(-math.floor(math.log10(resolution_percent)), 0)
    return f"{100.0 - resolution_percent:.{decimals}f}"


def format_bytes(size: float) -> str:
    """Write a size in bytes with decimal prefixes (kB, MB, GB, TB), to 3 significant figures.

    Examples
    --------
    >>> format_bytes(218_000_000_000), format_bytes(512), format_bytes(3_021_000)
    ('218 GB', '512 bytes', '3.02 MB')
    """
    if size < 1000:
        return f"{size:.0f} bytes"
    for power, prefix in ((4, "TB"), (3, "GB"), (2, "MB"), (1, "kB")):
        if size >= 1000**power:
            return f"{significant(size / 1000**power, 3)} {prefix}"
    raise AssertionError("unreachable")  # pragma: no cover


@dataclass(frozen=True)
class MoneyUnit:
    """A unit of GBP to show amounts in: pounds, thousands, millions or billions.

    Tables and text write it with the pound sign (``£m``, ``-£1.37bn``); axis
    labels with the ISO code (``GBP m``), which reads the same in print and in
    any font. :func:`money_unit` picks it from the amounts shown.
    """

    divisor: float
    prefix: str

    @property
    def symbol(self) -> str:
        """``"£bn"``, ``"£m"``, ``"£k"`` or ``"£"``: a table's unit column or header."""
        return f"£{self.prefix}"

    @property
    def code(self) -> str:
        """``"GBP bn"``, ``"GBP m"``, ``"GBP k"`` or ``"GBP"``: an axis label's unit."""
        return f"GBP {self.prefix}".rstrip()

    def scaled(self, value: float) -> float:
        """``value`` in GBP, in this unit."""
        return float(value) / self.divisor

    def amount(self, value: float, digits: int = 3, *, code: bool = False) -> str:
        """``value`` in GBP written in this unit, such as ``-£1.37bn`` or ``GBP 15.5m``.

        Examples
        --------
        >>> MILLIONS.amount(15_500_000), BILLIONS.amount(-1.366e9), BILLIONS.amount(7e9, code=True)
        ('£15.5m', '-£1.37bn', 'GBP 7.00bn')
        """
        number = significant(abs(self.scaled(value)), digits)
        sign = "-" if value < 0 else ""
        return f"{sign}GBP {number}{self.prefix}" if code else f"{sign}£{number}{self.prefix}"


POUNDS = MoneyUnit(1.0, "")
THOUSANDS = MoneyUnit(1e3, "k")
MILLIONS = MoneyUnit(1e6, "m")
BILLIONS = MoneyUnit(1e9, "bn")


def money_unit(*amounts: Any) -> MoneyUnit:
    """Pick the unit for amounts shown together (a table, an axis) from the largest of them.

    £bn from £1bn up, £m from £1m, £k from £1,000, else £; non-finite amounts are ignored.

    Examples
    --------
    >>> money_unit(1.37e9, -2.4e9).symbol, money_unit([15.5e6, 3e6]).symbol, money_unit(0.0).symbol
    ('£bn', '£m', '£')
    """
    largest = 0.0
    for amount in amounts:
        values = np.abs(np.asarray(amount, dtype=float)).ravel()
        values = values[np.isfinite(values)]
        if values.size:
            largest = max(largest, float(values.max()))
    for unit in (BILLIONS, MILLIONS, THOUSANDS):
        if largest >= unit.divisor:
            return unit
    return POUNDS
