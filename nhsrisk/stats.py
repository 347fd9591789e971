"""Summary statistics with honest Monte Carlo error, on plain arrays of draws.

This is the array layer (NumPy in, NumPy out, the draws along ``axis``). The
Dataset-level summary (``ds.nhsrisk.summary()``) is built on it.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

__all__ = ["expected_shortfall", "exceedance_probability", "mcse_mean", "quantile_interval"]


def _draws(values: Any, axis: int, caller: str, minimum: int = 2) -> np.ndarray:
    array = np.moveaxis(np.asarray(values, dtype=float), axis, -1)
    if array.shape[-1] < minimum:
        raise ValueError(
            f"The 'values' parameter of {caller} must hold at least {minimum} draws along axis {axis}. "
            f"Got {array.shape[-1]} instead."
        )
    if not np.isfinite(array).all():
        raise ValueError(f"The 'values' parameter of {caller} must be finite; it holds NaN or infinity.")
    return array


def _probability(value: float, name: str, caller: str, *, open_interval: bool = True) -> float:
    inside = 0.0 < value < 1.0 if open_interval else 0.0 <= value <= 1.0
    if isinstance(value, bool) or not isinstance(value, int | float) or not inside:
        interval = "(0, 1)" if open_interval else "[0, 1]"
        raise ValueError(f"The {name!r} parameter of {caller} must be in {interval}. Got {value!r} instead.")
    return float(value)


def mcse_mean(values: Any, axis: int = -1) -> np.ndarray:
    """Monte Carlo standard error of the mean of independent draws: ``sd / sqrt(n)``.

    Parameters
    ----------
    values : array_like
        Draws along ``axis`` (at least 2, finite).
    axis : int, default=-1
        Axis of the draws.

    Returns
    -------
    numpy.ndarray
        Standard error, in the units of ``values``, with ``axis`` removed.

    Examples
    --------
    >>> float(mcse_mean([1.0, 2.0, 3.0, 4.0]))  # sd 1.29 / sqrt(4)
    0.6454972243679028
    """
    draws = _draws(values, axis, "mcse_mean")
    return draws.std(axis=-1, ddof=1) / math.sqrt(draws.shape[-1])


def quantile_interval(values: Any, q: float, prob: float = 0.95, axis: int = -1) -> tuple[np.ndarray, ...]:
    """Quantile ``q`` of the draws and a distribution-free confidence interval for it.

    The interval is ``[x_(r), x_(s)]``, order statistics whose ranks come from
    the Binomial(n, q) distribution of the number of draws below the true
    quantile: ``r = B^-1((1 - prob) / 2)`` and ``s = B^-1((1 + prob) / 2) + 1``
    (1-based). Its coverage is at least ``prob`` for any continuous
    distribution (exact, not asymptotic).

    Parameters
    ----------
    values : array_like
        Draws along ``axis``.
    q : float
        Probability of the quantile, in (0, 1).
    prob : float, default=0.95
        Confidence level of the interval, in (0, 1).
    axis : int, default=-1
        Axis of the draws.

    Returns
    -------
    tuple of numpy.ndarray
        ``(estimate, lower, upper)``: ``numpy.quantile`` (linear) and the bounds.

    Raises
    ------
    ValueError
        If there are too few draws for the interval to exist at this ``q`` and
        ``prob`` (the message says how many are needed).

    Examples
    --------
    >>> x = np.arange(1, 1001) / 1000
    >>> estimate, lower, upper = quantile_interval(x, 0.5)
    >>> bool(lower < estimate < upper)
    True
    """
    import scipy.stats

    q = _probability(q, "q", "quantile_interval")
    prob = _probability(prob, "prob", "quantile_interval")
    draws = np.sort(_draws(values, axis, "quantile_interval"), axis=-1)
    n = draws.shape[-1]
    alpha = 1.0 - prob
    lower_rank = int(scipy.stats.binom.ppf(alpha / 2, n, q))
    upper_rank = int(scipy.stats.binom.ppf(1 - alpha / 2, n, q)) + 1
    if lower_rank < 1 or upper_rank > n:
        needed = n
        while True:
            needed *= 2
            if (
                scipy.stats.binom.ppf(alpha / 2, needed, q) >= 1
                and scipy.stats.binom.ppf(1 - alpha / 2, needed, q) + 1 <= needed
            ):
                break
        raise ValueError(
            f"quantile_interval: {n} draws are too few for a {prob:.0%} interval of the {q} quantile; "
            f"about {needed} are needed."
        )
    estimate = np.quantile(draws, q, axis=-1)
    return estimate, draws[..., lower_rank - 1], draws[..., upper_rank - 1]


def exceedance_probability(values: Any, threshold: Any, axis: int = -1) -> tuple[np.ndarray, np.ndarray]:
    """Probability that a draw reaches ``threshold`` (``>=``), with its standard error.

    Parameters
    ----------
    values : array_like
        Draws along ``axis``.
    threshold : float or array_like
        Level to reach, in the units of ``values`` (broadcast against the other axes).
    axis : int, default=-1
        Axis of the draws.

    Returns
    -------
    tuple of numpy.ndarray
        ``(p, se)`` with ``se = sqrt(p (1 - p) / n)``. When no draw (or every
        draw) reaches the threshold the standard error is 0, which does not
        mean certainty: report the bound ``1 - 0.05 ** (1 / n)`` (about ``3 / n``)
        instead.

    Examples
    --------
    >>> p, se = exceedance_probability([1.0, 2.0, 3.0, 4.0], 2.5)
    >>> float(p), float(se)
    (0.5, 0.25)
    """
    draws = _draws(values, axis, "exceedance_probability", minimum=1)
    reached = draws >= np.asarray(threshold, dtype=float)[..., None]
    p = reached.mean(axis=-1)
    return p, np.sqrt(p * (1.0 - p) / draws.shape[-1])


def expected_shortfall(values: Any, tail: float = 0.05, axis: int = -1) -> np.ndarray:
    """Mean of the worst ``tail`` share of draws: the lowest ``ceil(tail * n)`` values.

    For a benefit such as value delivered, this is the "productivity at risk":
    what arrives on average in the worst 1-in-20 outcomes (``tail=0.05``).

    Parameters
    ----------
    values : array_like
        Draws along ``axis``.
    tail : float, default=0.05
        Share of draws in the tail, in (0, 1).
    axis : int, default=-1
        Axis of the draws.

    Returns
    -------
    numpy.ndarray
        Expected shortfall, in the units of ``values``.

    Examples
    --------
    >>> float(expected_shortfall(np.arange(100.0), tail=0.05))  # mean of 0..4
    2.0
    """
    tail = _probability(tail, "tail", "expected_shortfall")
    draws = _draws(values, axis, "expected_shortfall", minimum=1)
    count = max(1, math.ceil(tail * draws.shape[-1] - 1e-9))
    worst = np.partition(draws, count - 1, axis=-1)[..., :count]
    return worst.mean(axis=-1)
