"""Distribution-free confidence intervals of quantiles: the ranks of the order statistics that bound them.

Shared by :mod:`nhsrisk.stats` (intervals from the draws themselves) and
:mod:`nhsrisk.streaming` (intervals from a quantile sketch, widened by its
rank error), so both state the same interval.
"""

from __future__ import annotations

import math

__all__ = ["binomial_quantile", "interval_ranks", "interval_ranks_exist"]


def binomial_quantile(p: float, n: int, q: float) -> int:
    """Smallest ``k`` with P(Binomial(n, q) <= k) >= p, for 0 < p < 1: ``scipy.stats.binom.ppf(p, n, q)``.

    Built on ``scipy.special`` rather than ``scipy.stats``, whose import takes half
    a second, more than ``nhsrisk run`` spends on its summary. The distribution
    function is the regularised incomplete beta function,
    P(X <= k) = I_{1-q}(n - k, k + 1), which ``scipy.special.betainc`` computes as
    ``scipy.stats.binom.cdf`` does (``scipy.special.bdtr`` is not monotone in k
    for n near 10**8). A Cornish-Fisher guess lands within a few steps.

    Examples
    --------
    >>> binomial_quantile(0.025, 100, 0.5), binomial_quantile(0.975, 100, 0.5)
    (40, 60)
    """
    import scipy.special

    def cdf(k: int) -> float:
        return 1.0 if k >= n else float(scipy.special.betainc(n - k, k + 1, 1.0 - q))

    sd = math.sqrt(n * q * (1.0 - q))
    z = float(scipy.special.ndtri(p))
    guess = n * q + z * sd + (z * z - 1.0) * (1.0 - 2.0 * q) / 6.0 - 0.5
    k = min(max(math.ceil(guess), 0), n)
    while k > 0 and cdf(k - 1) >= p:
        k -= 1
    while k < n and cdf(k) < p:
        k += 1
    return k


def interval_ranks_exist(n: int, q: float, alpha: float) -> bool:
    """Tell whether ``n`` draws have order statistics bounding the ``q`` quantile at level ``1 - alpha``.

    Examples
    --------
    >>> interval_ranks_exist(100, 0.5, 0.05), interval_ranks_exist(20, 0.01, 0.05)
    (True, False)
    """
    return binomial_quantile(alpha / 2, n, q) >= 1 and binomial_quantile(1 - alpha / 2, n, q) + 1 <= n


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
    alpha = 1.0 - prob
    lower_rank = binomial_quantile(alpha / 2, n, q)
    upper_rank = binomial_quantile(1 - alpha / 2, n, q) + 1
    if lower_rank < 1 or upper_rank > n:
        # Both conditions are monotone in n: (1 - q)**n < alpha / 2 puts the lower rank at 1 or
        # above and q**n <= alpha / 2 keeps the upper one within n. Start just below the closed
        # form and let the binomial quantile decide, so the count agrees with the ranks used above.
        closed_form = max(math.log(alpha / 2) / math.log1p(-q), math.log(alpha / 2) / math.log(q))
        needed = max(n + 1, math.floor(closed_form) - 2)
        while not interval_ranks_exist(needed, q, alpha):
            needed += 1
        raise ValueError(
            f"{caller}: {n} draws are too few for a {prob:.0%} interval of the {q} quantile; "
            f"about {needed} are needed."
        )
    return lower_rank, upper_rank
