"""Distribution-free confidence intervals of quantiles: the ranks of the order statistics that bound them.

Shared by :mod:`nhsrisk.stats` (intervals from the draws themselves) and
:mod:`nhsrisk.streaming` (intervals from a quantile sketch, widened by its
rank error), so both state the same interval.
"""

from __future__ import annotations

import math

__all__ = ["interval_ranks", "interval_ranks_exist"]


def interval_ranks_exist(n: int, q: float, alpha: float) -> bool:
    """Tell whether ``n`` draws have order statistics bounding the ``q`` quantile at level ``1 - alpha``.

    Examples
    --------
    >>> interval_ranks_exist(100, 0.5, 0.05), interval_ranks_exist(20, 0.01, 0.05)
    (True, False)
    """
    import scipy.stats

    return bool(
        scipy.stats.binom.ppf(alpha / 2, n, q) >= 1 and scipy.stats.binom.ppf(1 - alpha / 2, n, q) + 1 <= n
    )


def interval_ranks(n: int, q: float, prob: float, caller: str) -> tuple[int, int]:
    """1-based ranks ``(r, s)`` of the order statistics bounding the ``q`` quantile at level ``prob``.

    ``[x_(r), x_(s)]`` covers the ``q`` quantile with probability at least
    ``prob`` for any continuous distribution (ranks from Binomial(n, q)).

    Raises
    ------
    ValueError
        If ``n`` is too small for such ranks; the message says how many draws are needed.

    Examples
    --------
    >>> interval_ranks(100, 0.5, 0.95, "example")
    (40, 61)
    """
    import scipy.stats

    alpha = 1.0 - prob
    lower_rank = int(scipy.stats.binom.ppf(alpha / 2, n, q))
    upper_rank = int(scipy.stats.binom.ppf(1 - alpha / 2, n, q)) + 1
    if lower_rank < 1 or upper_rank > n:
        # Both conditions are monotone in n: (1 - q)**n < alpha / 2 puts the lower rank at 1 or
        # above and q**n <= alpha / 2 keeps the upper one within n. Start just below the closed
        # form and let scipy's own ppf decide, so the count agrees with the ranks used above.
        closed_form = max(math.log(alpha / 2) / math.log1p(-q), math.log(alpha / 2) / math.log(q))
        needed = max(n + 1, math.floor(closed_form) - 2)
        while not interval_ranks_exist(needed, q, alpha):
            needed += 1
        raise ValueError(
            f"{caller}: {n} draws are too few for a {prob:.0%} interval of the {q} quantile; "
            f"about {needed} are needed."
        )
    return lower_rank, upper_rank
