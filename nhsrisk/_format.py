"""How quantities are written for people: one home for the formats the summary, CLI and plots share."""

from __future__ import annotations

import math

__all__ = ["format_bytes", "significant"]


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
