"""Summary statistics with honest Monte Carlo error.

Three layers, as in arviz-stats:

- the array layer (NumPy in, NumPy out, the draws along ``axis``):
  :func:`mcse_mean`, :func:`quantile_interval`, :func:`exceedance_probability`,
  :func:`expected_shortfall`, :func:`expected_shortfall_mcse`;
- the xarray layer (the draws along ``dim="draw"``, other dimensions kept):
  :func:`describe`, :func:`summary`, :func:`payback`, :func:`budget_change_effect`,
  :func:`running_mean`, :func:`draws_needed`;
- one-line accessors on results, ``ds.nhsrisk.summary()`` and friends
  (:mod:`nhsrisk.accessor`).

Every standard error here assumes independent draws, as ``nhsrisk.simulate``
makes them with its default random sampler.
"""

from __future__ import annotations

import difflib
import html
import json
import math
import numbers
from collections.abc import Hashable, Sequence
from typing import TYPE_CHECKING, Any, Literal, cast

import numpy as np
import xarray as xr

if TYPE_CHECKING:
    import pandas as pd

from nhsrisk._format import MoneyUnit, money_unit, percent, significant
from nhsrisk._model import OUTPUTS
from nhsrisk._order import interval_ranks, interval_ranks_exist
from nhsrisk._validate import WEIGHT, _described, _message, check_count, refuse_weighted

__all__ = [
    "SummaryDataset",
    "budget_change_effect",
    "describe",
    "draws_needed",
    "draws_table",
    "minimum_draws",
    "effective_sample_size",
    "exceedance_probability",
    "expected_shortfall",
    "expected_shortfall_mcse",
    "horizon_labels",
    "mcse_mean",
    "payback",
    "quantile_interval",
    "running_mean",
    "summary",
]

#: Reference for the standard error of the expected shortfall (recorded in results).
EXPECTED_SHORTFALL_MCSE_REFERENCE = (
    "Manistre & Hancock (2005), Variance of the CTE estimator, North American Actuarial Journal 9(2), "
    "129-156: Var(ES) = [Var(X | X <= q) + (1 - tail) (q - ES)^2] / (n tail)"
)


# --------------------------------------------------------------------------------------------------
# Array layer
# --------------------------------------------------------------------------------------------------


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


def _probability(value: Any, name: str, caller: str, *, open_interval: bool = True) -> float:
    inside = (
        isinstance(value, numbers.Real)
        and not isinstance(value, bool)
        # typeshed's numbers.Real supports no comparisons; cast (not float(), which overflows on a huge int)
        and (0.0 < cast(float, value) < 1.0 if open_interval else 0.0 <= cast(float, value) <= 1.0)
    )
    if not inside:
        interval = "(0, 1)" if open_interval else "[0, 1]"
        raise ValueError(f"The {name!r} parameter of {caller} must be in {interval}. Got {value!r} instead.")
    return float(value)


def _tail_count(n: int, tail: float) -> int:
    # The tiny offset keeps tail * n = 5.000000000000001 (from 0.05 * 100) at 5 draws.
    return max(1, math.ceil(tail * n - 1e-9))


def _tail_mean_and_mcse(worst_sorted: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean of the ``k`` lowest draws (sorted, last axis) and its standard error (Manistre & Hancock)."""
    count = worst_sorted.shape[-1]
    tail_mean = worst_sorted.mean(axis=-1)
    tail_variance = worst_sorted.var(axis=-1, ddof=1)
    # The estimated quantile moves with the sample; its uncertainty adds the second term,
    # which the naive sqrt(tail variance / k) misses (over half of the variance for a normal at 5%).
    level = worst_sorted[..., -1]
    share = count / n
    variance = (tail_variance + (1.0 - share) * (level - tail_mean) ** 2) / count
    return tail_mean, np.sqrt(variance)


def _draws_for_tail_mcse(tail: float) -> int:
    needed = math.ceil(1.0 / tail)
    while _tail_count(needed, tail) < 2:
        needed += 1
    return needed


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
        ``prob`` (the message gives the smallest number of draws for which it does).

    Examples
    --------
    >>> x = np.arange(1, 1001) / 1000
    >>> estimate, lower, upper = quantile_interval(x, 0.5)
    >>> bool(lower < estimate < upper)
    True
    """
    q = _probability(q, "q", "quantile_interval")
    prob = _probability(prob, "prob", "quantile_interval")
    draws = np.sort(_draws(values, axis, "quantile_interval"), axis=-1)
    lower_rank, upper_rank = interval_ranks(draws.shape[-1], q, prob, "quantile_interval")
    estimate = np.quantile(draws, q, axis=-1)
    return estimate, draws[..., lower_rank - 1], draws[..., upper_rank - 1]


def exceedance_probability(
    values: Any, threshold: Any, axis: int = -1, *, weights: Any = None
) -> tuple[np.ndarray, np.ndarray]:
    """Probability that a draw reaches ``threshold`` (``>=``), with its standard error.

    Parameters
    ----------
    values : array_like
        Draws along ``axis``.
    threshold : float or array_like
        Level to reach, in the units of ``values`` (broadcast against the other axes).
    axis : int, default=-1
        Axis of the draws.
    weights : array_like, optional
        Importance weights of the draws (one per draw along ``axis``; finite,
        non-negative, not all 0; normalised here), such as the ``weight``
        coordinate of :func:`nhsrisk.update`'s results.

    Returns
    -------
    tuple of numpy.ndarray
        ``(p, se)`` with ``se = sqrt(p (1 - p) / n)``. When no draw (or every
        draw) reaches the threshold the standard error is 0, which does not
        mean certainty: report the bound ``1 - 0.05 ** (1 / n)`` (about ``3 / n``)
        instead. With ``weights``, ``p`` is the share of the weight that
        reaches the threshold and ``n`` is Kish's effective number of draws
        ``1 / sum(w**2)`` (normalised weights, rounded down), which treats the
        weighted draws as that many independent ones: good while it is large.

    Examples
    --------
    >>> p, se = exceedance_probability([1.0, 2.0, 3.0, 4.0], 2.5)
    >>> float(p), float(se)
    (0.5, 0.25)
    >>> p, se = exceedance_probability([1.0, 2.0, 3.0, 4.0], 2.5, weights=[1.0, 1.0, 1.0, 5.0])
    >>> float(p), round(float(se), 3)  # 6 of 8 of the weight; 2 effective draws (1 / 0.4375)
    (0.75, 0.306)
    """
    caller = "exceedance_probability"
    draws = _draws(values, axis, caller, minimum=1)
    reached = draws >= np.asarray(threshold, dtype=float)[..., None]
    if weights is None:
        p = reached.mean(axis=-1)
        return p, np.sqrt(p * (1.0 - p) / draws.shape[-1])
    normalised = _check_weights(weights, draws.shape[-1], caller)
    p = np.clip(reached @ normalised, 0.0, 1.0)
    return p, np.sqrt(p * (1.0 - p) / _effective_draws(normalised))


def _check_weights(weights: Any, n: int, caller: str) -> np.ndarray:
    """Return importance weights given to ``caller`` as a normalised float array of ``n``, or raise."""
    allowed = f"{n} finite, non-negative importance weights (one per draw), not all 0"
    w = np.asarray(weights, dtype=float)
    if w.shape != (n,) or not np.isfinite(w).all() or (w < 0).any() or w.sum() <= 0.0:
        shown = weights if w.size <= 8 else f"an array of shape {w.shape}"
        raise ValueError(_message("weights", caller, allowed, shown))
    return w / w.sum()


def expected_shortfall(values: Any, tail: float = 0.05, axis: int = -1) -> np.ndarray:
    """Mean of the worst ``tail`` share of draws: the lowest ``ceil(tail * n)`` values.

    For a benefit such as value delivered, this is the mean of the worst
    outcomes: what arrives on average in the worst 1-in-20 (``tail=0.05``).

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

    See Also
    --------
    expected_shortfall_mcse : Its Monte Carlo standard error.

    Examples
    --------
    >>> float(expected_shortfall(np.arange(100.0), tail=0.05))  # mean of 0..4
    2.0
    """
    tail = _probability(tail, "tail", "expected_shortfall")
    draws = _draws(values, axis, "expected_shortfall", minimum=1)
    count = _tail_count(draws.shape[-1], tail)
    # Sorted so the sum runs in the same order as in describe(): the two agree to the last bit.
    worst = np.sort(np.partition(draws, count - 1, axis=-1)[..., :count], axis=-1)
    return worst.mean(axis=-1)


def expected_shortfall_mcse(values: Any, tail: float = 0.05, axis: int = -1) -> np.ndarray:
    """Monte Carlo standard error of :func:`expected_shortfall` (independent draws).

    The large-sample variance of the mean of the lowest ``k = ceil(tail * n)``
    of ``n`` draws is (Manistre & Hancock 2005; Chen 2008)::

        Var(ES) = [Var(X | X <= q) + (1 - tail) * (q - ES)**2] / (n * tail)

    with ``q`` the ``tail`` quantile, estimated by the ``k``-th lowest draw, and
    ``Var(X | X <= q)`` by the sample variance of the ``k`` lowest draws. The
    second term accounts for the randomness of which draws fall in the tail;
    leaving it out (``sqrt(Var(X | X <= q) / k)``) understates the error.

    Parameters
    ----------
    values : array_like
        Draws along ``axis`` (finite; at least two must fall in the tail).
    tail : float, default=0.05
        Share of draws in the tail, in (0, 1).
    axis : int, default=-1
        Axis of the draws.

    Returns
    -------
    numpy.ndarray
        Standard error, in the units of ``values``, with ``axis`` removed.

    Raises
    ------
    ValueError
        If fewer than two draws fall in the tail (the message says how many draws are needed).

    Notes
    -----
    References: B. J. Manistre and G. H. Hancock, "Variance of the CTE
    estimator", North American Actuarial Journal 9(2), 129-156, 2005,
    doi:10.1080/10920277.2005.10596207; S. X. Chen, "Nonparametric estimation
    of expected shortfall", Journal of Financial Econometrics 6(1), 87-107,
    2008. The formula needs a finite variance of ``X`` in the tail and is
    asymptotic: with fewer than about 50 draws in the tail treat it as rough.

    Examples
    --------
    >>> x = np.random.default_rng(0).normal(size=100_000)
    >>> round(float(expected_shortfall_mcse(x, tail=0.05)), 4)  # about sqrt(0.304 / 5000) = 0.0078
    0.0079
    """
    tail = _probability(tail, "tail", "expected_shortfall_mcse")
    draws = _draws(values, axis, "expected_shortfall_mcse", minimum=1)
    n = draws.shape[-1]
    count = _tail_count(n, tail)
    if count < 2:
        needed = _draws_for_tail_mcse(tail)
        raise ValueError(
            _message("values", "expected_shortfall_mcse", f"at least {needed} draws for tail={tail}", n)
        )
    worst = np.sort(np.partition(draws, count - 1, axis=-1)[..., :count], axis=-1)
    return _tail_mean_and_mcse(worst, n)[1]


def _clopper_pearson_upper(successes: np.ndarray | float, n: int, level: float = 0.95) -> np.ndarray:
    """One-sided Clopper-Pearson upper bound; at 0 successes it is ``1 - (1 - level) ** (1 / n)``.

    ``successes`` may be fractional: weighted results pass ``p * n_eff`` of ``n_eff`` effective draws.
    """
    import scipy.special  # scipy.stats.beta.ppf is this function; scipy.stats costs 0.5 s to import

    successes = np.asarray(successes)
    bound = scipy.special.betaincinv(successes + 1, np.maximum(n - successes, 1), level)
    return np.where(successes >= n, 1.0, bound)


def _effective_count(probability: np.ndarray | float, effective_draws: int) -> np.ndarray:
    """Weighted share ``p`` as a count of ``effective_draws``: ``p * n_eff`` for the Clopper-Pearson bound.

    Treating the weighted share as ``p * n_eff`` successes in ``n_eff`` independent draws is
    an approximation (Kish's effective sample size stands in for the number of draws), good
    while ``n_eff`` is large. A count within 1e-9 of a whole number is that number, so that
    equal weights give exactly the unweighted count (the sums of weights carry rounding).
    """
    count = np.asarray(probability, dtype=float) * effective_draws
    whole = np.rint(count)
    return np.where(np.abs(count - whole) < 1e-9, whole, count)


# --------------------------------------------------------------------------------------------------
# xarray layer: shared checks
# --------------------------------------------------------------------------------------------------


def _check_dataset(ds: Any, caller: str) -> xr.Dataset:
    if not isinstance(ds, xr.Dataset):
        raise TypeError(_message("ds", caller, "an xarray.Dataset from nhsrisk.simulate", type(ds).__name__))
    return ds


def _valid_variables(ds: xr.Dataset, dim: str) -> tuple[list[str], int]:
    """Return the outputs with ``dim`` (by name) and the number of sampled inputs (too many to list)."""
    outputs, inputs = [], 0
    for name, variable in ds.data_vars.items():
        if dim not in variable.dims:
            continue
        if variable.attrs.get("sampled_input") == 1:
            inputs += 1
        else:
            outputs.append(str(name))
    return outputs, inputs


def _variable(
    ds: xr.Dataset,
    name: Any,
    caller: str,
    *,
    parameter: str = "variable",
    dim: str = "draw",
    weighted: bool = False,
) -> xr.DataArray:
    """``ds[name]`` as a DataArray with ``dim``, or an error listing the names that would work.

    Weighted results are refused unless ``weighted`` (the caller uses the weights, which the
    DataArray carries as its ``weight`` coordinate).
    """
    if not isinstance(name, str):
        raise TypeError(_message(parameter, caller, "a variable name (str)", name))
    if not weighted:
        refuse_weighted(ds, caller)
    if name in ds.data_vars and dim in ds[name].dims:
        return ds[name]
    outputs, inputs = _valid_variables(ds, dim)
    allowed = "one of the Dataset's variables with a 'draw' dimension: " + ", ".join(map(repr, outputs))
    if inputs:
        allowed += f" or one of its {inputs} sampled inputs (attrs['sampled_input'] == 1)"
    if name in OUTPUTS and "n_draws" in ds.attrs:
        # an output this run did not keep (the default keeps the headline ones)
        raise ValueError(
            _message(parameter, caller, allowed, name)
            + f" {name!r} is an output this run did not keep: add it, for the same draws, with "
            f"ds.nhsrisk.with_outputs([{name!r}]), or run simulate(..., outputs=[{name!r}])"
        )
    close = difflib.get_close_matches(name, [str(key) for key in ds.data_vars], n=1)
    hint = f" (did you mean {close[0]!r}?)" if close and close[0] != name else ""
    raise ValueError(_message(parameter, caller, allowed, name) + hint)


def _check_dim(da: xr.DataArray, dim: Any, caller: str) -> str:
    if dim not in da.dims:
        raise ValueError(_message("dim", caller, f"one of the dimensions {tuple(map(str, da.dims))}", dim))
    return str(dim)


def _finite_draws(
    da: xr.DataArray, dim: str, caller: str, parameter: str = "da", *, weighted: bool = False
) -> np.ndarray:
    """Values as a C-contiguous float array with ``dim`` last; booleans become 0/1.

    Weighted draws are refused unless ``weighted`` (the caller reads the weights itself).
    """
    if not weighted:
        refuse_weighted(da, caller)
    values = np.ascontiguousarray(da.transpose(..., dim).values, dtype=float)
    bad = values.size - int(np.isfinite(values).sum())
    if bad:
        raise ValueError(
            f"The {parameter!r} parameter of {caller} must hold finite values. "
            f"Got {bad} NaN or infinite values in {_label(da)} instead."
        )
    return values


def _label(da: xr.DataArray) -> str:
    return repr(str(da.name)) if da.name is not None else "the unnamed DataArray"


def _check_quantiles(quantiles: Any, caller: str) -> tuple[float, ...]:
    items = (quantiles,) if isinstance(quantiles, numbers.Real) else quantiles
    allowed = "a non-empty sequence of distinct probabilities in (0, 1)"
    if isinstance(items, str) or not isinstance(items, Sequence | np.ndarray):
        raise TypeError(_message("quantiles", caller, allowed, quantiles))
    if len(items) == 0:
        raise ValueError(_message("quantiles", caller, allowed, quantiles))
    checked = tuple(_probability(q, "quantiles", caller) for q in items)
    if len(set(checked)) != len(checked):
        raise ValueError(_message("quantiles", caller, allowed, quantiles))
    return checked


def _check_inputs(
    n: int, quantiles: Any, confidence: Any, tail: Any, caller: str
) -> tuple[tuple[float, ...], float, float, list[tuple[int, int]]]:
    """Validate the describe options and that ``n`` draws suffice for all of them, before any sorting."""
    quantiles = _check_quantiles(quantiles, caller)
    confidence = _probability(confidence, "confidence", caller)
    tail = _probability(tail, "tail", caller)
    if n < 2:
        raise ValueError(f"{caller}: {n} draws are too few; a standard deviation needs at least 2.")
    ranks = [interval_ranks(n, q, confidence, caller) for q in quantiles]
    if _tail_count(n, tail) < 2:
        needed = _draws_for_tail_mcse(tail)
        raise ValueError(
            f"{caller}: {n} draws are too few for the standard error of the expected shortfall at "
            f"tail={tail} (it needs 2 draws in the tail); about {needed} are needed."
        )
    return quantiles, confidence, tail, ranks


def _statistics(
    draws: np.ndarray, quantiles: tuple[float, ...], ranks: list[tuple[int, int]], tail: float
) -> dict[str, np.ndarray]:
    """Compute the describe statistics of ``draws`` (draws on the last axis), one array each."""
    n = draws.shape[-1]
    count = _tail_count(n, tail)
    # Only a few order statistics are read: a partition at their ranks gives each exactly as a
    # full sort would, at a third of its cost (19 against 56 ms for 11 outputs of 10**5 draws).
    # np.quantile selects the same order statistics wherever they lie, and the worst draws
    # are sorted before they are summed, so every figure is bitwise what sorting gave.
    between = [(n - 1) * q for q in quantiles]  # where np.quantile's "linear" method reads
    ranks_read = {count - 1, *(low - 1 for low, _ in ranks), *(high - 1 for _, high in ranks)}
    ranks_read |= {min(math.floor(x) + step, n - 1) for x in between for step in (0, 1)}
    parted = np.partition(draws, sorted(ranks_read), axis=-1)
    sd = draws.std(axis=-1, ddof=1)
    tail_mean, tail_mcse = _tail_mean_and_mcse(np.sort(parted[..., :count], axis=-1), n)
    quantile_low = np.stack([parted[..., low - 1] for low, _ in ranks], axis=-1)
    quantile_high = np.stack([parted[..., high - 1] for _, high in ranks], axis=-1)
    # Last, as it reorders ``parted``: with the draws moved to axis 0 (a view in which each
    # output's draws stay contiguous) and the values it reads already in place, its own
    # partition is quick.
    estimate = np.quantile(np.moveaxis(parted, -1, 0), quantiles, axis=0, overwrite_input=True)
    return {
        "mean": draws.mean(axis=-1),
        "sd": sd,
        "mcse": sd / math.sqrt(n),
        "quantile_estimate": np.moveaxis(estimate, 0, -1),
        "quantile_low": quantile_low,
        "quantile_high": quantile_high,
        "expected_shortfall": tail_mean,
        "expected_shortfall_mcse": tail_mcse,
    }


def _weights_of(data: xr.Dataset | xr.DataArray) -> np.ndarray | None:
    """Return the normalised importance weights of updated results (the ``weight`` coordinate), or None."""
    if WEIGHT not in data.coords:
        return None
    weights = np.asarray(data.coords[WEIGHT].values, dtype=float)
    return weights / weights.sum()


def effective_sample_size(weights: Any) -> float:
    """Kish's effective sample size of normalised weights, ``1 / sum(w**2)``.

    Examples
    --------
    >>> round(effective_sample_size(np.full(100, 0.01)), 9)
    100.0
    """
    w = np.asarray(weights, dtype=float)
    total = w.sum()
    if w.ndim != 1 or not np.isfinite(w).all() or (w < 0).any() or total <= 0.0:
        allowed = "finite, non-negative, not all 0"
        raise ValueError(_message("weights", "effective_sample_size", allowed, weights))
    w = w / total
    return float(1.0 / np.sum(w * w))


def _effective_draws(weights: np.ndarray) -> int:
    """Return :func:`effective_sample_size` as the whole number of draws it is worth.

    Rounded down, less a rounding margin, so that equal weights give exactly the number of draws.
    """
    return int(math.floor(effective_sample_size(weights) + 1e-6))


def _weighted_quantiles(
    ordered: np.ndarray, cumulative: np.ndarray, probabilities: Sequence[float]
) -> np.ndarray:
    """Inverted-CDF quantiles of weighted draws: the smallest draw whose cumulative weight reaches p.

    ``ordered`` holds each row's draws in ascending order and ``cumulative``
    their running weights. With equal weights ``1/n`` the ``k/n`` quantile is
    the ``k``-th order statistic (NumPy's ``inverted_cdf``); the 1e-12 margin
    absorbs the rounding of the running sums.
    """
    rows = ordered.reshape(-1, ordered.shape[-1])
    sums = cumulative.reshape(-1, cumulative.shape[-1])
    n = rows.shape[-1]
    out = np.empty((rows.shape[0], len(probabilities)))
    for r in range(rows.shape[0]):
        at = np.searchsorted(sums[r], np.asarray(probabilities) - 1e-12, side="left")
        out[r] = rows[r, np.minimum(at, n - 1)]
    return out.reshape(*ordered.shape[:-1], len(probabilities))


def _weighting_text(observations: Any, effective_draws: int) -> str:
    """Say how results were weighted: ``"weighted by 2 observations (1,234 effective draws)"``.

    One wording for every table and figure of updated results (:func:`summary`'s
    title, the plots' titles). ``observations`` is the JSON list that
    :func:`nhsrisk.update` records in ``attrs["observations"]``; weights set
    by hand, with no such record, read ``"importance-weighted (...)"``.

    Examples
    --------
    >>> _weighting_text('[{"output": "spend"}]', 1234)
    'weighted by 1 observation (1,234 effective draws)'
    >>> _weighting_text(None, 80)
    'importance-weighted (80 effective draws)'
    """
    try:
        count = len(json.loads(observations)) if isinstance(observations, str) else 0
    except (ValueError, TypeError):
        count = 0
    effective = f"({int(effective_draws):,} effective draws)"
    if count == 0:
        return f"importance-weighted {effective}"
    return f"weighted by {count} observation{'s' if count != 1 else ''} {effective}"


def _weighted_statistics(
    draws: np.ndarray,
    weights: np.ndarray,
    quantiles: tuple[float, ...],
    confidence: float,
    tail: float,
    caller: str,
) -> dict[str, np.ndarray]:
    """Compute the :func:`_statistics` of importance-weighted draws (weights normalised, one per draw).

    Mean and variance are weighted (the variance with the reliability-weights
    correction ``1 - sum(w**2)``); standard errors use Kish's effective sample
    size ``n_eff`` in place of ``n``. Quantiles invert the weighted empirical
    CDF. A quantile's confidence bounds are the weighted quantiles at the
    probabilities ``l / n_eff`` and ``u / n_eff``, where ``(l, u)`` are the
    distribution-free order-statistic ranks for ``n_eff`` draws: with equal
    weights they are exactly the unweighted bounds; with unequal weights the
    effective sample size stands in for the number of draws, an approximation
    that is good while ``n_eff`` is large (Kish, 1965; Kong, 1992). The
    expected shortfall is the weighted mean of the lowest ``tail`` of the
    weight, with its standard error from the same formula as unweighted,
    with ``tail * n_eff`` draws in the tail.
    """
    n_eff = _effective_draws(weights)
    try:
        ranks = [interval_ranks(n_eff, q, confidence, caller) for q in quantiles]
    except ValueError as err:
        raise ValueError(
            f"{caller}: the weights leave {n_eff:,} effective draws, too few for these statistics ({err})"
        ) from None
    if tail * n_eff < 2:
        raise ValueError(
            f"{caller}: the weights leave {n_eff:,} effective draws, too few for the standard error of the "
            f"expected shortfall at tail={tail} (it needs 2 effective draws in the tail)."
        )
    sum_sq = float(np.sum(weights * weights))
    mean = draws @ weights
    centred = draws - mean[..., None]
    variance = ((centred * centred) @ weights) / (1.0 - sum_sq)
    sd = np.sqrt(variance)
    order = np.argsort(draws, axis=-1, kind="stable")
    ordered = np.take_along_axis(draws, order, axis=-1)
    sorted_weights = weights[order]
    cumulative = np.cumsum(sorted_weights, axis=-1)
    probabilities_low = [low / n_eff for low, _ in ranks]
    probabilities_high = [high / n_eff for _, high in ranks]
    # the lowest ``tail`` of the weight: whole draws, then the share of the draw that crosses it
    rows = ordered.reshape(-1, ordered.shape[-1])
    sums = cumulative.reshape(-1, cumulative.shape[-1])
    row_weights = sorted_weights.reshape(rows.shape)
    tail_mean = np.empty(rows.shape[0])
    tail_mcse = np.empty(rows.shape[0])
    for r in range(rows.shape[0]):
        k = min(int(np.searchsorted(sums[r], tail - 1e-12, side="left")), rows.shape[1] - 1)
        if k == 0:
            raise ValueError(
                f"{caller}: the lowest {tail:g} of the weight lies on a single draw, so the expected "
                "shortfall has no standard error; simulate more draws or loosen the observations."
            )
        part = row_weights[r, : k + 1].copy()
        part[k] = tail - (sums[r, k - 1] if k > 0 else 0.0)
        values = rows[r, : k + 1]
        mass = float(part.sum())
        es = float(part @ values) / mass
        # the tail's variance with the reliability-weights correction (ddof=1 when weights are equal)
        share = part / mass
        spread = float(share @ (values - es) ** 2) / (1.0 - float(share @ share))
        level = float(values[-1])
        tail_mean[r] = es
        tail_mcse[r] = math.sqrt((spread + (1.0 - tail) * (level - es) ** 2) / (tail * n_eff))
    shape = draws.shape[:-1]
    return {
        "mean": mean,
        "sd": sd,
        "mcse": sd / math.sqrt(n_eff),
        "quantile_estimate": _weighted_quantiles(ordered, cumulative, quantiles),
        "quantile_low": _weighted_quantiles(ordered, cumulative, probabilities_low),
        "quantile_high": _weighted_quantiles(ordered, cumulative, probabilities_high),
        "expected_shortfall": tail_mean.reshape(shape),
        "expected_shortfall_mcse": tail_mcse.reshape(shape),
    }


def _statistic_attrs(long_name: str, units: str, confidence: float, tail: float) -> dict[str, dict[str, str]]:
    level = f"{confidence:.3g}"
    return {
        "mean": {"long_name": f"Mean of {long_name}", "units": units},
        "sd": {"long_name": f"Standard deviation of {long_name}", "units": units},
        "mcse": {"long_name": f"Monte Carlo standard error of the mean of {long_name}", "units": units},
        "quantile_estimate": {"long_name": f"Quantiles of {long_name}", "units": units},
        "quantile_low": {
            "long_name": f"Lower {level} confidence bound of the quantiles (order statistic)",
            "units": units,
        },
        "quantile_high": {
            "long_name": f"Upper {level} confidence bound of the quantiles (order statistic)",
            "units": units,
        },
        "expected_shortfall": {
            "long_name": f"Expected shortfall: mean of the lowest {tail:.3g} share of {long_name}",
            "units": units,
        },
        "expected_shortfall_mcse": {
            "long_name": "Monte Carlo standard error of the expected shortfall",
            "units": units,
            "reference": EXPECTED_SHORTFALL_MCSE_REFERENCE,
        },
    }


# --------------------------------------------------------------------------------------------------
# xarray layer: describe
# --------------------------------------------------------------------------------------------------


def describe(
    da: xr.DataArray,
    *,
    quantiles: Sequence[float] = (0.05, 0.5, 0.95),
    confidence: float = 0.95,
    tail: float = 0.05,
    dim: str = "draw",
) -> xr.Dataset:
    """Mean, spread, quantiles and expected shortfall of any output, each with its Monte Carlo error.

    Parameters
    ----------
    da : xarray.DataArray
        Draws along ``dim``, e.g. ``ds["value"]`` (GBP/year) or ``ds["npv"]``
        (GBP). Other dimensions are kept. Booleans (``raid``) count as 0/1, so
        their mean is a probability.
    quantiles : sequence of float, default=(0.05, 0.5, 0.95)
        Probabilities of the quantiles, each in (0, 1).
    confidence : float, default=0.95
        Level of the distribution-free quantile intervals, in (0, 1).
    tail : float, default=0.05
        Share of draws averaged by the expected shortfall: the lowest
        ``ceil(tail * n)``, since low is bad for every value output.
    dim : str, default="draw"
        Dimension of the draws.

    Returns
    -------
    xarray.Dataset
        In the units of ``da`` (attrs ``units`` and ``long_name`` carried over,
        and ``horizon``, the period an output such as ``npv`` covers, when ``da`` has it):
        ``mean``, ``sd`` (ddof=1), ``mcse`` (of the mean, ``sd / sqrt(n)``),
        ``quantile`` (new last dimension ``quantile``; linear interpolation as
        in ``numpy.quantile``), ``quantile_low`` and ``quantile_high`` (order
        statistics with coverage of at least ``confidence`` for any continuous
        distribution, see :func:`quantile_interval`), ``expected_shortfall`` and
        ``expected_shortfall_mcse`` (see :func:`expected_shortfall_mcse`).

    Raises
    ------
    TypeError
        If ``da`` is not a DataArray.
    ValueError
        If ``dim`` is not a dimension of ``da``, an option is out of range,
        ``da`` holds NaN or infinity, or there are too few draws for a quantile
        interval or the expected-shortfall error (the message says how many are needed).

    Notes
    -----
    An output that does not vary has ``sd`` and ``mcse`` 0: its mean is exact,
    not an error. The standard errors assume independent draws.

    Examples
    --------
    >>> import xarray as xr
    >>> draws = np.random.default_rng(1).normal(5e9, 1e9, size=4_000)
    >>> da = xr.DataArray(draws, dims="draw", name="npv", attrs={"long_name": "NPV", "units": "GBP"})
    >>> stats = describe(da)
    >>> round(float(stats["mean"]) / 1e9, 2), round(float(stats["mcse"]) / 1e9, 3), stats["mean"].units
    (4.99, 0.016, 'GBP')
    >>> [round(float(q) / 1e9, 1) for q in stats["quantile_estimate"]]  # about 5 + (-1.645, 0, 1.645)
    [3.4, 5.0, 6.7]
    """
    if not isinstance(da, xr.DataArray):
        raise TypeError(_message("da", "describe", "an xarray.DataArray", type(da).__name__))
    dim = _check_dim(da, dim, "describe")
    if dim != "draw":
        refuse_weighted(da, "describe", f"its importance weights lie along 'draw', and dim={dim!r}")
    weights = _weights_of(da)
    if weights is not None:
        da = da.drop_vars(WEIGHT)
    quantiles, confidence, tail, ranks = _check_inputs(da.sizes[dim], quantiles, confidence, tail, "describe")
    draws = _finite_draws(da, dim, "describe")
    long_name = str(da.attrs.get("long_name", da.name if da.name is not None else "the values"))
    units = str(da.attrs.get("units", "1" if da.dtype == bool else ""))
    kept_coords = da.isel({dim: 0}, drop=True).coords
    kept_dims = tuple(d for d in da.transpose(..., dim).dims if d != dim)
    attrs = _statistic_attrs(long_name, units, confidence, tail)
    data_vars = {}
    if weights is None:
        statistics = _statistics(draws, quantiles, ranks, tail)
    else:
        statistics = _weighted_statistics(draws, weights, quantiles, confidence, tail, "describe")
    for name, values in statistics.items():
        dims = (*kept_dims, "quantile") if name.startswith("quantile") else kept_dims
        data_vars[name] = xr.Variable(dims, values, attrs[name])
    coords = dict(kept_coords)
    coords["quantile"] = xr.Variable("quantile", np.array(quantiles), {"long_name": "Quantile probability"})
    return xr.Dataset(
        data_vars,
        coords=coords,
        attrs={
            "variable": str(da.name) if da.name is not None else "",
            "long_name": long_name,
            "units": units,
            "n_draws": int(draws.shape[-1]),
            **({} if weights is None else {"effective_draws": _effective_draws(weights)}),
            "confidence": confidence,
            "tail": tail,
            # which period a scalar output covers (simulate records it on the appraisal outputs)
            **({"horizon": str(da.attrs["horizon"])} if "horizon" in da.attrs else {}),
        },
    )


# --------------------------------------------------------------------------------------------------
# xarray layer: summary and its printed form
# --------------------------------------------------------------------------------------------------

_OUTPUT_STATISTICS = (
    "mean",
    "sd",
    "mcse",
    "quantile_estimate",
    "quantile_low",
    "quantile_high",
    "expected_shortfall",
    "expected_shortfall_mcse",
)

#: The two horizons of a run, as the ``output_horizon`` coordinate of :func:`summary` names them.
CLAIM_WINDOW = "claim window"
APPRAISAL_PERIOD = "appraisal period"
#: Appraisal-period outputs that :func:`summary` reports, in order, with their printed labels
#: (components of the PV of costs and of benefits indented under their totals). ``npv`` and
#: ``bcr`` are required; the present values are reported when the results hold them.
APPRAISAL_SUMMARY: tuple[tuple[str, str], ...] = (
    ("npv", "NPV"),
    ("bcr", "Benefit-cost ratio"),
    ("pv_costs", "PV of costs"),
    ("pv_capital_cost", "  capital"),
    ("pv_running_cost", "  running"),
    ("pv_dual_running_cost", "  dual running"),
    ("pv_benefits", "PV of benefits"),
    ("pv_cash_releasing", "  cash-releasing"),
    ("pv_non_cash_releasing", "  non-cash-releasing"),
    ("pv_patient", "  patient"),
    ("pv_residual_value", "  residual value"),
    ("npv_distributional", "NPV, equity-weighted"),
)


def horizon_labels(ds: xr.Dataset, *, discount_rate: float | None = None) -> tuple[str, str]:
    """Return the printed titles of the claim window and the appraisal period of a run.

    Parameters
    ----------
    ds : xarray.Dataset
        Results of :func:`nhsrisk.simulate` (or their summary): the attributes
        ``claim_window``, ``appraisal_period`` and ``discount_rate`` are used
        when present, else the ``year`` coordinate and ``attrs["target_year"]``.
    discount_rate : float, optional
        Discount rate [1/year], when ``ds`` records none.

    Returns
    -------
    tuple of str
        ``("Claim window <first> to <target>", "Appraisal period <first> to <last> (Green Book, 3.5%)")``;
        a rate other than the Green Book's 3.5% is printed as ``"(discounted at r%)"``, and
        no rate at all prints nothing.

    Examples
    --------
    >>> import xarray as xr
    >>> ds = xr.Dataset(coords={"year": ["2025/26", "2026/27", "2027/28"]}, attrs={"target_year": "2026/27"})
    >>> horizon_labels(ds, discount_rate=0.035)
    ('Claim window 2025/26 to 2026/27', 'Appraisal period 2025/26 to 2027/28 (Green Book, 3.5%)')
    """
    attrs = ds.attrs
    years = [str(year) for year in ds["year"].values] if "year" in ds.coords else []
    claim = attrs.get("claim_window") or (f"{years[0]} to {attrs['target_year']}" if years else "")
    appraisal = attrs.get("appraisal_period") or (f"{years[0]} to {years[-1]}" if years else "")
    rate = attrs.get("discount_rate", discount_rate)
    if rate is None:
        rate_text = ""
    elif math.isclose(float(rate), 0.035):
        rate_text = " (Green Book, 3.5%)"
    else:
        rate_text = f" (discounted at {100 * float(rate):g}%)"
    return f"Claim window {claim}".rstrip(), f"Appraisal period {appraisal}".rstrip() + rate_text


def _scale(units: str, money: MoneyUnit) -> tuple[float, str]:
    """Divisor and column label of a row: GBP in the table's money unit."""
    if units == "GBP":
        return money.divisor, money.symbol
    if units == "1":
        return 1.0, "ratio"
    return 1.0, units


def cap_binding(ds: xr.Dataset) -> str:
    """Say how often the per-group cap on released staff hours binds, over draws and years.

    Parameters
    ----------
    ds : xarray.Dataset
        Results holding ``hours_capped`` (year, staff_group, draw), as
        :func:`nhsrisk.simulate` gives them with ``keep="all"`` or ``"headline"``.

    Returns
    -------
    str
        ``"never (in no draw, year or staff group)"``, or each staff group whose
        cap binds with the share of draw-years in which it does. For updated
        results (:func:`nhsrisk.update`) each draw counts by its importance
        weight (``"... of draw-years, weighted"``), and a cap that binds only
        in draws of weight 0 never binds.

    Examples
    --------
    >>> import nhsrisk
    >>> cap_binding(nhsrisk.simulate(draws=500, seed=1))
    'never (in no draw, year or staff group)'
    """
    capped = _variable(ds, "hours_capped", "cap_binding", weighted=True)
    weights = _weights_of(capped)
    if weights is None:
        share = capped.mean(("year", "draw"))
        suffix = ""
    else:
        by_draw = capped.drop_vars(WEIGHT).mean("year")
        share = (by_draw * xr.DataArray(weights, dims="draw")).sum("draw")
        suffix = ", weighted"
    groups = share["staff_group"].values
    binding = [
        (str(group), float(value)) for group, value in zip(groups, share.values, strict=True) if value > 0
    ]
    if not binding:
        return "never (in no draw, year or staff group)"
    return ", ".join(f"{group} {value:.2%} of draw-years{suffix}" for group, value in binding)


def minimum_draws(quantiles: Sequence[float] = (0.05, 0.5, 0.95), confidence: float = 0.95) -> int:
    """Fewest draws :func:`summary` can summarise: enough for a confidence interval of every quantile.

    Parameters
    ----------
    quantiles : sequence of float, default=(0.05, 0.5, 0.95)
        The quantiles the summary reports.
    confidence : float, default=0.95
        Level of their distribution-free intervals.

    Returns
    -------
    int
        The smallest number of draws whose order statistics bound every
        quantile at that level (and at least 2, for a standard deviation).

    Examples
    --------
    >>> minimum_draws()
    72
    """
    alpha = 1.0 - confidence
    n = 2
    while not all(interval_ranks_exist(n, float(q), alpha) for q in quantiles):
        n += 1
    return n


def _probability_text(p: float, mcse: float, draws: int | None, upper: float | None = None) -> str:
    """Write a probability with its Monte Carlo error, never claiming a certainty the draws cannot show.

    When no draw or every draw has the event, the standard error is 0 and says
    nothing: the one-sided 95% bound (Clopper-Pearson, ``1 - 0.05 ** (1 / n)``
    from the other side) says how far the probability may be from 0 or 1.
    """
    text = f"{percent(p)} ± {percent(mcse, 2)}"
    if p == 1.0 and draws:
        return f"{text} (all {draws:,} draws; one-sided 95% lower bound {percent(0.05 ** (1.0 / draws))})"
    if p == 0.0 and draws and upper is None:
        upper = 1.0 - 0.05 ** (1.0 / draws)
    if upper is not None:
        text += f" (one-sided 95% upper bound {percent(upper)})"
    return text


def _interval(estimate: float, low: float, high: float) -> str:
    """``estimate [low, high]`` with 3 significant figures, more if the bounds would print equal."""
    digits = 3
    while True:
        texts = [significant(value, digits) for value in (estimate, low, high)]
        distinct = (low == estimate or texts[1] != texts[0]) and (high == estimate or texts[2] != texts[0])
        if distinct or digits >= 8:
            return f"{texts[0]} [{texts[1]}, {texts[2]}]"
        digits += 1


class SummaryDataset(xr.Dataset):
    """The Dataset returned by :func:`summary`, printed as a table.

    It is an ordinary :class:`xarray.Dataset` (``.sel``, ``.to_netcdf`` and
    the rest work and keep the class) whose ``repr`` is an aligned text table,
    one section per horizon (claim window, appraisal period), and whose
    ``_repr_html_`` (Jupyter) is an HTML table. A Dataset that no longer has
    the summary's layout (after ``.sel(output="npv")`` for instance) prints as
    a plain Dataset.

    Examples
    --------
    >>> import nhsrisk
    >>> table = nhsrisk.summary(nhsrisk.simulate(draws=2_000, seed=1))
    >>> "P(benefit-cost ratio < 1)" in repr(table)
    True
    >>> float(table["mean"].sel(output="pv_costs")) > 0
    True
    """

    __slots__ = ()

    def to_dataset(self) -> xr.Dataset:
        """Return the same variables, coordinates and attributes as a plain :class:`xarray.Dataset`.

        Returns
        -------
        xarray.Dataset
            A shallow copy (the data are shared) of class ``xarray.Dataset``.

        Examples
        --------
        >>> import xarray as xr
        >>> summary_ds = SummaryDataset({"p_target": 0.5})
        >>> type(summary_ds.to_dataset()) is xr.Dataset
        True
        """
        return xr.Dataset(
            {name: variable.variable for name, variable in self.data_vars.items()},
            coords={name: coordinate.variable for name, coordinate in self.coords.items()},
            attrs=dict(self.attrs),
        )

    def to_dataframe(self, dim_order: Sequence[Hashable] | None = None) -> pd.DataFrame:
        """Return the summary as a tidy table: one row per output and statistic, with its units.

        Columns: ``output``, ``label``, ``horizon``, ``statistic``, ``quantile``
        (the probability, for the quantile statistics; empty otherwise),
        ``value`` and ``units`` (GBP, ``1`` for ratios and probabilities).
        The statistics of each output are its ``mean``, ``sd``, ``mcse``,
        ``quantile`` with ``quantile_low`` and ``quantile_high`` (the bounds
        of its confidence interval), ``expected_shortfall`` and its ``mcse``;
        then one row for each single figure (``p_target``, ``target``,
        ``median_shortfall`` and the rest), named by its variable. A Dataset
        that no longer has the summary's layout gives xarray's own table.

        Parameters
        ----------
        dim_order : sequence of str, optional
            As :meth:`xarray.Dataset.to_dataframe`; used only without the summary's layout.

        Returns
        -------
        pandas.DataFrame
            The tidy table, ready for a spreadsheet.

        Examples
        --------
        >>> import nhsrisk
        >>> table = nhsrisk.summary(nhsrisk.simulate(draws=2_000, seed=1)).to_dataframe()
        >>> table.columns.tolist()
        ['output', 'label', 'horizon', 'statistic', 'quantile', 'value', 'units']
        >>> row = table[(table.output == "npv") & (table.statistic == "mean")]
        >>> row[["label", "units"]].values.tolist()
        [['NPV', 'GBP']]
        """
        if not self._has_table_layout():
            return xr.Dataset.to_dataframe(self, dim_order=dim_order)
        import pandas as pd

        outputs = [str(output) for output in self["output"].values]
        labels = self._coordinate("output_label", outputs)
        horizons = self._coordinate("output_horizon", [""] * len(outputs))
        units = self._coordinate("output_units", [""] * len(outputs))
        quantiles = [float(q) for q in self["quantile"].values]
        rows: list[tuple[str, str, str, str, float, float, str]] = []
        for i, output in enumerate(outputs):
            here = (output, labels[i], horizons[i])
            for name in ("mean", "sd", "mcse"):
                rows.append((*here, name, math.nan, float(self[name].values[i]), units[i]))
            for k, q in enumerate(quantiles):
                for name, statistic in (
                    ("quantile_estimate", "quantile"),
                    ("quantile_low", "quantile_low"),
                    ("quantile_high", "quantile_high"),
                ):
                    rows.append((*here, statistic, q, float(self[name].values[i, k]), units[i]))
            for name in ("expected_shortfall", "expected_shortfall_mcse"):
                rows.append((*here, name, math.nan, float(self[name].values[i]), units[i]))
        for key, variable in self.data_vars.items():
            if variable.ndim == 0:
                horizon = APPRAISAL_PERIOD if "bcr" in str(key) else CLAIM_WINDOW
                label = str(variable.attrs.get("long_name", key))
                value_units = str(variable.attrs.get("units", ""))
                rows.append((str(key), label, horizon, "value", math.nan, float(variable), value_units))
        columns = ["output", "label", "horizon", "statistic", "quantile", "value", "units"]
        return pd.DataFrame(rows, columns=columns)

    def _has_table_layout(self) -> bool:
        if not set(_OUTPUT_STATISTICS) <= set(self.data_vars) or "output" not in self.dims:
            return False
        return all(
            self[name].dims == ("output",) for name in _OUTPUT_STATISTICS if "quantile" not in name
        ) and all(
            self[name].dims == ("output", "quantile")
            for name in ("quantile_estimate", "quantile_low", "quantile_high")
        )

    def _coordinate(self, name: str, default: list[str]) -> list[str]:
        return [str(v) for v in self[name].values] if name in self.coords else default

    def _sections(
        self,
    ) -> tuple[list[str], list[tuple[str, list[tuple[str, list[str]]], list[tuple[str, str]]]]]:
        """Column header, then per horizon: its title, one row of cells per output, probability lines."""
        outputs = [str(output) for output in self["output"].values]
        units = self._coordinate("output_units", [""] * len(outputs))
        labels = self._coordinate("output_label", outputs)
        horizons = self._coordinate(
            "output_horizon",
            [CLAIM_WINDOW if o.startswith("cumulative_value") else APPRAISAL_PERIOD for o in outputs],
        )
        # one money unit for the whole table, from the largest amount it shows
        amounts = [
            self[name].values[i]
            for i, u in enumerate(units)
            if u == "GBP"
            for name in ("mean", "quantile_estimate", "quantile_low", "quantile_high")
        ]
        amounts += [self[name].values for name in ("target", "median_shortfall") if name in self.data_vars]
        money = money_unit(*amounts)
        scales = [_scale(u, money) for u in units]
        level = f"{100 * float(self.attrs.get('confidence', 0.95)):g}%"
        tail = f"{100 * float(self.attrs.get('tail', 0.05)):g}%"
        header = ["units", "mean ± MCSE"]
        header += [f"{100 * float(q):g}% [{level} CI]" for q in self["quantile"].values]

        def value(name: str, i: int, *index: int) -> float:
            return float(self[name].values[(i, *index)]) / scales[i][0]

        rows: dict[str, list[tuple[str, list[str]]]] = {CLAIM_WINDOW: [], APPRAISAL_PERIOD: []}
        for i, label in enumerate(labels):
            cells = [
                scales[i][1],
                f"{significant(value('mean', i), 3)} ± {significant(value('mcse', i), 2)}",
            ]
            for k in range(self.sizes["quantile"]):
                cells.append(
                    _interval(
                        *(
                            value(name, i, k)
                            for name in ("quantile_estimate", "quantile_low", "quantile_high")
                        )
                    )
                )
            rows.setdefault(horizons[i], []).append((label, cells))

        target_year = self.attrs.get("target_year", "the target year")
        claim_lines: list[tuple[str, str]] = []
        draws = int(self.attrs["n_draws"]) if "n_draws" in self.attrs else None
        if {"p_target", "p_target_mcse", "target"} <= set(self.data_vars):
            upper = float(self["p_target_upper_95"]) if "p_target_upper_95" in self.data_vars else None
            text = _probability_text(float(self["p_target"]), float(self["p_target_mcse"]), draws, upper)
            label = f"P(cumulative value by {target_year} >= {money.amount(float(self['target']))})"
            claim_lines.append((label, text))
        has_shortfall_row = any(output.startswith("shortfall[") for output in outputs)
        if not has_shortfall_row and {
            "median_shortfall",
            "median_shortfall_low",
            "median_shortfall_high",
            "target",
        } <= set(self.data_vars):
            estimate, low, high = (
                money.scaled(float(self[name]))
                for name in ("median_shortfall", "median_shortfall_low", "median_shortfall_high")
            )
            claim_lines.append(
                (
                    f"Median shortfall against {money.amount(float(self['target']))} [{level} CI]",
                    f"£{_interval(estimate, low, high)}{money.prefix}",
                )
            )
        if {"productivity_at_risk", "productivity_at_risk_mcse"} <= set(self.data_vars):
            error = money.amount(float(self["productivity_at_risk_mcse"]), 2)
            text = f"{money.amount(float(self['productivity_at_risk']))} ± {error}"
            # "at risk" read as the amount lost; it is the mean of the worst outcomes, and says so
            claim_lines.append((f"Mean of the worst {tail} of outcomes ({target_year})", text))
        appraisal_lines: list[tuple[str, str]] = []
        if {"p_bcr_below_1", "p_bcr_below_1_mcse"} <= set(self.data_vars):
            text = _probability_text(float(self["p_bcr_below_1"]), float(self["p_bcr_below_1_mcse"]), draws)
            appraisal_lines.append(("P(benefit-cost ratio < 1)", text))

        claim_title, appraisal_title = horizon_labels(self)
        sections = [
            (claim_title, rows[CLAIM_WINDOW], claim_lines),
            (appraisal_title, rows[APPRAISAL_PERIOD], appraisal_lines),
        ]
        return header, [section for section in sections if section[1] or section[2]]

    def _title(self) -> str:
        parts = [f"nhsrisk summary of {self.attrs.get('scenario_name', 'a simulation')}"]
        if "n_draws" in self.attrs:
            parts.append(f"{int(self.attrs['n_draws']):,} draws")
        if "effective_draws" in self.attrs:
            parts.append(_weighting_text(self.attrs.get("observations"), int(self.attrs["effective_draws"])))
        if "seed" in self.attrs:
            parts.append(f"seed {self.attrs['seed']}")
        if "price_base" in self.attrs:
            parts.append(f"{self.attrs['price_base']} prices")
        return ", ".join(parts)

    def __repr__(self) -> str:
        if not self._has_table_layout():
            return xr.Dataset.__repr__(self)
        header, sections = self._sections()
        label_width = max(len(label) for _, rows, _ in sections for label, _ in rows)
        widths = [
            max(len(name), *(len(cells[i]) for _, rows, _ in sections for _, cells in rows))
            for i, name in enumerate(header)
        ]
        lines = [self._title()]
        if self.attrs.get("scenario_title"):
            lines.append(str(self.attrs["scenario_title"]))
        for title, rows, probabilities in sections:
            lines += ["", title]
            if rows:
                lines.append(
                    " " * label_width
                    + "".join(f"  {name:>{width}}" for name, width in zip(header, widths, strict=True))
                )
            for label, cells in rows:
                lines.append(
                    f"{label:<{label_width}}"
                    + "".join(f"  {cell:>{width}}" for cell, width in zip(cells, widths, strict=True))
                )
            if probabilities:
                width = max(len(label) for label, _ in probabilities)
                lines.extend(f"{label:<{width}}  {text}" for label, text in probabilities)
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.__repr__()

    def _repr_html_(self) -> str:
        if not self._has_table_layout():
            return xr.Dataset._repr_html_(self)
        header, sections = self._sections()
        cell = "padding:2px 8px;text-align:right;font-family:monospace;white-space:nowrap"
        head = "padding:2px 8px;text-align:left;white-space:pre"
        parts = [
            '<div style="font-family:sans-serif">',
            f'<p style="margin:0 0 4px 0;font-weight:bold">{html.escape(self._title())}</p>',
            f'<p style="margin:0 0 4px 0">{html.escape(str(self.attrs.get("scenario_title", "")))}</p>',
        ]
        for title, rows, probabilities in sections:
            parts.append(f'<p style="margin:8px 0 2px 0;font-weight:bold">{html.escape(title)}</p>')
            if rows:
                parts.append('<table style="border-collapse:collapse">')
                parts.append(
                    "<tr><th></th>"
                    + "".join(
                        f'<th style="{cell};border-bottom:1px solid #888">{html.escape(name)}</th>'
                        for name in header
                    )
                    + "</tr>"
                )
                for label, cells in rows:
                    parts.append(
                        f'<tr><th style="{head}">{html.escape(label)}</th>'
                        + "".join(f'<td style="{cell}">{html.escape(c)}</td>' for c in cells)
                        + "</tr>"
                    )
                parts.append("</table>")
            if probabilities:
                parts.append('<table style="border-collapse:collapse;margin-top:4px">')
                parts.extend(
                    f'<tr><th style="{head}">{html.escape(label)}</th>'
                    f'<td style="{cell};text-align:left">{html.escape(text)}</td></tr>'
                    for label, text in probabilities
                )
                parts.append("</table>")
        parts.append("</div>")
        return "".join(parts)


def _check_target(target: Any) -> float:
    if isinstance(target, bool) or not isinstance(target, numbers.Real):
        raise TypeError(_message("target", "summary", "a finite amount in GBP or None", target))
    if not math.isfinite(target):
        raise ValueError(_message("target", "summary", "a finite amount in GBP or None", target))
    return float(target)


def _target_year(ds: xr.Dataset, caller: str) -> str:
    target_year = ds.attrs.get("target_year")
    years = [str(year) for year in ds["year"].values] if "year" in ds.coords else []
    if target_year is None or str(target_year) not in years:
        raise ValueError(
            _message(
                "ds", caller, f"a Dataset whose attrs['target_year'] is one of its years {years}", target_year
            )
        )
    return str(target_year)


def summary(
    ds: xr.Dataset,
    *,
    quantiles: Sequence[float] = (0.05, 0.5, 0.95),
    confidence: float = 0.95,
    tail: float = 0.05,
    target: float | None = None,
) -> SummaryDataset:
    """Headline figures of a run over both horizons, each with its Monte Carlo error.

    The *claim window* (the first year to ``attrs["target_year"]``) answers
    the claim test: the cumulative undiscounted value by the target year, the
    probability that it reaches the claimed return and the shortfall. The
    *appraisal period* (every year of the run, ten by default, per the Green
    Book) answers value for money: NPV, benefit-cost ratio, the probability
    that the ratio is below 1, and the present values of costs (capital,
    running) and of benefits by kind (cash-releasing, non-cash-releasing,
    patient, residual value).

    Parameters
    ----------
    ds : xarray.Dataset
        Output of :func:`nhsrisk.simulate`: needs ``cumulative_value``
        (year, draw; GBP), ``npv`` (GBP), ``bcr``, ``attrs["target_year"]`` and,
        unless ``target`` is given, ``claimed_return`` (GBP). The present
        values of :data:`APPRAISAL_SUMMARY` are reported when ``ds`` has them.
    quantiles, confidence, tail
        As in :func:`describe`.
    target : float, optional
        Amount in GBP that the cumulative value should reach by the target
        year. Default: ``ds["claimed_return"]``.

    Returns
    -------
    SummaryDataset
        An :class:`xarray.Dataset` that prints as a table, one section per
        horizon. Along the dimension ``output`` (``"cumulative_value[<target
        year>]"``, then ``"npv"``, ``"bcr"`` and the present values in the order
        of :data:`APPRAISAL_SUMMARY`; coordinates ``output_units``,
        ``output_label``, ``output_long_name`` and ``output_horizon``, which is
        ``"claim window"`` or ``"appraisal period"``): the :func:`describe`
        statistics ``mean``, ``sd``, ``mcse``, ``quantile``, ``quantile_low``,
        ``quantile_high``, ``expected_shortfall``, ``expected_shortfall_mcse``.
        Claim-window scalars: ``target`` (GBP); ``p_target``, the probability
        that the cumulative value by the target year is at least ``target``,
        with ``p_target_mcse`` (``sqrt(p (1 - p) / n)``) and
        ``p_target_upper_95``; ``median_shortfall`` (GBP), the target minus the
        median cumulative value (negative when the median exceeds the target),
        with its distribution-free ``confidence`` interval
        ``median_shortfall_low`` and ``median_shortfall_high``;
        ``productivity_at_risk`` (GBP), the expected shortfall of the
        cumulative value by the target year, and ``productivity_at_risk_mcse``.
        Appraisal-period scalars: ``p_bcr_below_1`` and ``p_bcr_below_1_mcse``.
        Attributes ``claim_window`` and ``appraisal_period`` give the years of
        each horizon.

    Raises
    ------
    TypeError
        If ``ds`` is not a Dataset or ``target`` is not a number.
    ValueError
        If a needed variable is missing (the message lists what is there), the
        data hold NaN, an option is out of range or there are too few draws.

    Notes
    -----
    ``p_target_upper_95`` is the one-sided 95% Clopper-Pearson upper bound,
    the ``0.95`` quantile of Beta(k + 1, n - k) for ``k`` of ``n`` draws reaching
    the target (1 when all do). At ``k = 0``, where the standard error is 0,
    it equals ``1 - 0.05 ** (1 / n)`` (about ``3 / n``, the rule of three): no
    draw reaching the target does not make the probability 0. Clopper-Pearson
    rather than Wilson because it never undercovers.

    Examples
    --------
    >>> import xarray as xr
    >>> rng = np.random.default_rng(2)
    >>> cumulative = np.cumsum(rng.normal(1e9, 0.3e9, size=(3, 2_000)), axis=0)
    >>> benefits = 1.5 * cumulative[-1]
    >>> ds = xr.Dataset(
    ...     {
    ...         "cumulative_value": (("year", "draw"), cumulative, {"units": "GBP"}),
    ...         "npv": ("draw", benefits - 3e9, {"units": "GBP"}),
    ...         "bcr": ("draw", benefits / 3e9, {"units": "1"}),
    ...         "claimed_return": ((), 2.5e9, {"units": "GBP"}),
    ...     },
    ...     coords={"year": ["2025/26", "2026/27", "2027/28"]},
    ...     attrs={"target_year": "2026/27", "discount_rate": 0.035},
    ... )
    >>> result = summary(ds, quantiles=(0.05, 0.95))
    >>> result["output"].values.tolist()
    ['cumulative_value[2026/27]', 'shortfall[2026/27]', 'npv', 'bcr']
    >>> result["output_horizon"].values.tolist()
    ['claim window', 'claim window', 'appraisal period', 'appraisal period']
    >>> round(float(result["p_target"]), 2)  # P(N(2.0e9, 0.42e9) >= 2.5e9) = 0.12
    0.12
    >>> print(result)
    nhsrisk summary of a simulation, 2,000 draws
    <BLANKLINE>
    Claim window 2025/26 to 2026/27
                                 units     mean ± MCSE              5% [95% CI]       95% [95% CI]
    Cumulative value by 2026/27    £bn   1.99 ± 0.0094        1.32 [1.27, 1.36]  2.68 [2.64, 2.71]
    Shortfall against £2.50bn      £bn  0.508 ± 0.0094  -0.177 [-0.212, -0.136]  1.18 [1.14, 1.23]
    P(cumulative value by 2026/27 >= £2.50bn)   12.0% ± 0.73% (one-sided 95% upper bound 13.3%)
    Mean of the worst 5% of outcomes (2026/27)  £1.14bn ± £0.024bn
    <BLANKLINE>
    Appraisal period 2025/26 to 2027/28 (Green Book, 3.5%)
                                 units     mean ± MCSE              5% [95% CI]       95% [95% CI]
    NPV                            £bn    1.51 ± 0.017     0.259 [0.192, 0.313]  2.80 [2.72, 2.89]
    Benefit-cost ratio           ratio   1.50 ± 0.0058        1.09 [1.06, 1.10]  1.93 [1.91, 1.96]
    P(benefit-cost ratio < 1)  1.95% ± 0.31%
    """
    caller = "summary"
    ds = _check_dataset(ds, caller)
    weights = _weights_of(ds)
    if weights is not None:
        # updated results (nhsrisk.update): every figure below is weighted (a streamed summary
        # keeps no draws, so it cannot carry weights)
        ds = ds.drop_vars(WEIGHT)
    if _is_streamed(ds):
        return _summary_of_stream(ds, quantiles, confidence, target, caller)
    target_year = _target_year(ds, caller)
    cumulative = _variable(ds, "cumulative_value", caller, parameter="ds")
    if target is None:
        if "claimed_return" not in ds.data_vars:
            raise ValueError(
                _message("target", caller, "given (in GBP) when ds has no 'claimed_return' variable", target)
            )
        target_value, target_source = float(ds["claimed_return"]), "claimed_return"
    else:
        target_value, target_source = _check_target(target), "target argument"
    if not math.isfinite(target_value):
        raise ValueError(_message("ds", caller, "a Dataset with a finite 'claimed_return'", target_value))
    claim_name = f"cumulative_value[{target_year}]"
    shortfall_name = f"shortfall[{target_year}]"
    claim_draws_da = cumulative.sel(year=target_year, drop=True)
    # the gap to the claim in each draw (negative where a draw exceeds it), with its own quantiles
    shortfall_da = (target_value - claim_draws_da).assign_attrs(
        units="GBP", long_name="Shortfall of the cumulative value against the target"
    )
    outputs = {claim_name: claim_draws_da, shortfall_name: shortfall_da}
    labels = {
        claim_name: f"Cumulative value by {target_year}",
        shortfall_name: _shortfall_label(target_value),
    }
    horizons = {claim_name: CLAIM_WINDOW, shortfall_name: CLAIM_WINDOW}
    for name, label in APPRAISAL_SUMMARY:
        if name in ("npv", "bcr") or name in ds.data_vars:
            outputs[name] = _variable(ds, name, caller, parameter="ds")
            labels[name], horizons[name] = label, APPRAISAL_PERIOD
    for name, da in outputs.items():
        if da.dims != ("draw",):
            raise ValueError(
                _message("ds", caller, f"a Dataset whose {name!r} has dims ('draw',) only", da.dims)
            )
    n = ds.sizes["draw"]
    quantiles, confidence, tail, ranks = _check_inputs(n, quantiles, confidence, tail, caller)
    draws = np.stack([_finite_draws(da, "draw", caller, parameter="ds") for da in outputs.values()])
    if weights is None:
        statistics = _statistics(draws, quantiles, ranks, tail)
    else:
        statistics = _weighted_statistics(draws, weights, quantiles, confidence, tail, caller)

    units = [str(da.attrs.get("units", "")) for da in outputs.values()]
    long_names = [str(da.attrs.get("long_name", name)) for name, da in outputs.items()]
    long_names[0] = f"{long_names[0]} by {target_year}"
    long_names[1] = f"{long_names[1]} by {target_year} (negative where it exceeds the target)"
    varying_units = "varies by output: see the output_units coordinate"
    attrs = _statistic_attrs("each output", varying_units, confidence, tail)
    data_vars: dict[Hashable, xr.Variable] = {
        name: xr.Variable(
            ("output", "quantile") if name.startswith("quantile") else ("output",), values, attrs[name]
        )
        for name, values in statistics.items()
    }

    claim_draws = draws[0]
    bcr_draws = draws[list(outputs).index("bcr")]
    if weights is None:
        reaching: float = int(np.count_nonzero(claim_draws >= target_value))
        p_target, p_below = reaching / n, int(np.count_nonzero(bcr_draws < 1.0)) / n
        low_rank, high_rank = interval_ranks(n, 0.5, confidence, caller)
        # the three order statistics read, not a full sort (np.quantile selects the same ones)
        middle = (n - 1) // 2
        kth = sorted({low_rank - 1, high_rank - 1, middle, min(middle + 1, n - 1)})
        ordered = np.partition(claim_draws, kth)
        low_value, high_value = float(ordered[low_rank - 1]), float(ordered[high_rank - 1])
        median = float(np.quantile(ordered, 0.5, overwrite_input=True))
    else:
        # weighted shares, their errors and bounds from the effective number of draws
        n = _effective_draws(weights)
        p_target = float(np.clip(weights @ (claim_draws >= target_value), 0.0, 1.0))
        p_below = float(np.clip(weights @ (bcr_draws < 1.0), 0.0, 1.0))
        reaching = float(_effective_count(p_target, n))
        low_rank, high_rank = interval_ranks(n, 0.5, confidence, caller)
        order = np.argsort(claim_draws, kind="stable")
        at = _weighted_quantiles(
            claim_draws[order], np.cumsum(weights[order]), (0.5, low_rank / n, high_rank / n)
        )
        median, low_value, high_value = (float(v) for v in at)
    by_year = f"by {target_year}"
    shortfall_attrs = {"units": "GBP", "confidence": confidence}
    data_vars |= {
        "target": xr.Variable(
            (),
            target_value,
            {"long_name": f"Cumulative value to reach {by_year}", "units": "GBP", "source": target_source},
        ),
        "p_target": xr.Variable(
            (),
            p_target,
            {
                "long_name": f"Probability that the cumulative value {by_year} reaches the target",
                "units": "1",
            },
        ),
        "p_target_mcse": xr.Variable(
            (),
            math.sqrt(p_target * (1 - p_target) / n),
            {"long_name": "Monte Carlo standard error of p_target", "units": "1"},
        ),
        "p_target_upper_95": xr.Variable(
            (),
            float(_clopper_pearson_upper(reaching, n)),
            {"long_name": "One-sided 95% Clopper-Pearson upper bound of p_target", "units": "1"},
        ),
        "median_shortfall": xr.Variable(
            (),
            target_value - median,
            {
                "long_name": (
                    f"Shortfall of the median cumulative value {by_year} against the target "
                    "(negative: the median exceeds it)"
                ),
                "units": "GBP",
            },
        ),
        "median_shortfall_low": xr.Variable(
            (),
            target_value - high_value,
            {"long_name": f"Lower {confidence:.3g} confidence bound of median_shortfall", **shortfall_attrs},
        ),
        "median_shortfall_high": xr.Variable(
            (),
            target_value - low_value,
            {"long_name": f"Upper {confidence:.3g} confidence bound of median_shortfall", **shortfall_attrs},
        ),
        "productivity_at_risk": xr.Variable(
            (),
            statistics["expected_shortfall"][0],
            {
                "long_name": (
                    f"Mean of the worst {tail:.3g} of outcomes: expected shortfall of the cumulative value "
                    f"{by_year}"
                ),
                "units": "GBP",
            },
        ),
        "productivity_at_risk_mcse": xr.Variable(
            (),
            statistics["expected_shortfall_mcse"][0],
            {"long_name": "Monte Carlo standard error of productivity_at_risk", "units": "GBP"},
        ),
        "p_bcr_below_1": xr.Variable(
            (),
            p_below,
            {
                "long_name": "Probability that the benefit-cost ratio over the appraisal period is below 1",
                "units": "1",
            },
        ),
        "p_bcr_below_1_mcse": xr.Variable(
            (),
            math.sqrt(p_below * (1 - p_below) / n),
            {"long_name": "Monte Carlo standard error of p_bcr_below_1", "units": "1"},
        ),
    }
    years = [str(year) for year in ds["year"].values]
    attrs_out = {
        key: ds.attrs[key]
        for key in ("scenario_name", "seed", "sampler", "price_base", "currency", "discount_rate")
        if key in ds.attrs
    }
    title = str(ds.attrs.get("title", ""))
    if title.startswith("nhsrisk simulation of ") and ": " in title:
        attrs_out["scenario_title"] = title.split(": ", 1)[1]  # the scenario's own title
    attrs_out |= {
        "target_year": target_year,
        "claim_window": str(ds.attrs.get("claim_window", f"{years[0]} to {target_year}")),
        "appraisal_period": str(ds.attrs.get("appraisal_period", f"{years[0]} to {years[-1]}")),
        "n_draws": int(ds.sizes["draw"]),
        "confidence": confidence,
        "tail": tail,
    }
    if weights is not None:
        attrs_out["effective_draws"] = int(n)
        attrs_out["observations"] = str(ds.attrs.get("observations", "[]"))
    return _summary_dataset(data_vars, labels, long_names, units, horizons, quantiles, attrs_out)


def _shortfall_label(target: float) -> str:
    """Return the label of the summary's shortfall row: ``Shortfall against £7.00bn``, claim in its unit."""
    return f"Shortfall against {money_unit(target).amount(target)}"


def _summary_dataset(
    data_vars: dict[Hashable, xr.Variable],
    labels: dict[str, str],
    long_names: list[str],
    units: list[str],
    horizons: dict[str, str],
    quantiles: Sequence[float],
    attrs: dict[str, Any],
) -> SummaryDataset:
    """Assemble the :class:`SummaryDataset` of :func:`summary`: its output coordinates and attributes."""
    coords = {
        "output": xr.Variable("output", list(labels), {"long_name": "Headline output"}),
        "output_label": xr.Variable("output", list(labels.values()), {"long_name": "Printed label"}),
        "output_long_name": xr.Variable("output", long_names, {"long_name": "Description of the output"}),
        "output_units": xr.Variable("output", units, {"long_name": "Units of the output"}),
        "output_horizon": xr.Variable(
            "output", list(horizons.values()), {"long_name": "Horizon: claim window or appraisal period"}
        ),
        "quantile": xr.Variable("quantile", np.array(quantiles), {"long_name": "Quantile probability"}),
    }
    return SummaryDataset(data_vars, coords=coords, attrs=attrs)


def _is_streamed(ds: xr.Dataset) -> bool:
    """Whether ``ds`` is the output of ``simulate(..., keep="summary")``."""
    return "cumulative_value_mean" in ds.data_vars and "sketch" in ds.attrs


def _summary_of_stream(
    ds: xr.Dataset, quantiles: Sequence[float], confidence: float, target: float | None, caller: str
) -> SummaryDataset:
    """:func:`summary` of a streamed summary: its exact moments and counts, its sketch quantiles.

    The quantile intervals are those :mod:`nhsrisk.streaming` stored (the
    distribution-free ranks widened by the sketch's rank error); the expected
    shortfall cannot be had from a sketch and is left out (NaN).
    """
    import tomllib

    target_year = _target_year(ds, caller)
    n = int(ds.attrs["n_draws"])
    missing = [f"{name}_quantile_low" for name in ("cumulative_value", "npv", "bcr")]
    missing = [name for name in missing if name not in ds.data_vars]
    if missing:
        raise ValueError(
            _message("ds", caller, "a streamed summary with quantile intervals (this version's)", missing)
        )
    stored = [float(q) for q in ds["quantile"].values]
    stored_level = float(ds["cumulative_value_quantile_low"].attrs.get("confidence", math.nan))
    if not math.isclose(confidence, stored_level):
        raise ValueError(_message("confidence", caller, f"{stored_level} for a streamed summary", confidence))

    def position(q: float) -> int | None:
        return next((k for k, held in enumerate(stored) if math.isclose(held, q, abs_tol=1e-12)), None)

    asked = [float(q) for q in quantiles]
    if any(position(q) is None or position(1.0 - q) is None for q in asked):
        allowed = f"quantiles the streamed summary holds, {stored}, each with its complement"
        raise ValueError(_message("quantiles", caller, allowed, tuple(quantiles)))
    if target is None:
        target_value = float(ds["claimed_return"])
    else:
        target_value = _check_target(target)
    at = [cast(int, position(q)) for q in asked]
    mirrored = [cast(int, position(1.0 - q)) for q in asked]
    claim = {"year": target_year}

    def row(name: str, where: dict[str, str]) -> dict[str, np.ndarray]:
        def get(statistic: str) -> np.ndarray:
            return np.asarray(ds[f"{name}_{statistic}"].sel(where).values, dtype=float)

        return {
            "mean": get("mean"),
            "sd": get("sd"),
            "mcse": get("mcse"),
            "quantile_estimate": get("quantile")[at],
            "quantile_low": get("quantile_low")[at],
            "quantile_high": get("quantile_high")[at],
        }

    value = row("cumulative_value", claim)
    shortfall = {
        "mean": target_value - value["mean"],
        "sd": value["sd"],
        "mcse": value["mcse"],
        # the q quantile of the shortfall is the claim less the (1 - q) quantile of the value
        "quantile_estimate": target_value
        - np.asarray(ds["cumulative_value_quantile"].sel(claim).values, dtype=float)[mirrored],
        "quantile_low": target_value
        - np.asarray(ds["cumulative_value_quantile_high"].sel(claim).values, dtype=float)[mirrored],
        "quantile_high": target_value
        - np.asarray(ds["cumulative_value_quantile_low"].sel(claim).values, dtype=float)[mirrored],
    }
    rows = [value, shortfall, row("npv", {}), row("bcr", {})]
    names = [f"cumulative_value[{target_year}]", f"shortfall[{target_year}]", "npv", "bcr"]
    labels = dict(
        zip(
            names,
            [
                f"Cumulative value by {target_year}",
                _shortfall_label(target_value),
                dict(APPRAISAL_SUMMARY)["npv"],
                dict(APPRAISAL_SUMMARY)["bcr"],
            ],
            strict=True,
        )
    )
    units = ["GBP", "GBP", "GBP", "1"]
    horizons = dict(zip(names, [CLAIM_WINDOW, CLAIM_WINDOW, APPRAISAL_PERIOD, APPRAISAL_PERIOD], strict=True))
    long_names = [
        f"Cumulative undiscounted value by {target_year}",
        f"Shortfall of the cumulative value against the target by {target_year}",
        "Net present value over the appraisal period",
        "Benefit-cost ratio over the appraisal period",
    ]
    attrs = _statistic_attrs(
        "each output", "varies by output: see the output_units coordinate", confidence, 0.05
    )
    data_vars: dict[Hashable, xr.Variable] = {}
    for statistic in ("mean", "sd", "mcse"):
        data_vars[statistic] = xr.Variable("output", [float(r[statistic]) for r in rows], attrs[statistic])
    for statistic in ("quantile_estimate", "quantile_low", "quantile_high"):
        data_vars[statistic] = xr.Variable(
            ("output", "quantile"), np.stack([r[statistic] for r in rows]), attrs[statistic]
        )
    not_available = "not available from a streamed summary (a sketch holds no tail mean)"
    for statistic in ("expected_shortfall", "expected_shortfall_mcse"):
        data_vars[statistic] = xr.Variable(
            "output", np.full(len(rows), np.nan), {**attrs[statistic], "note": not_available}
        )
    p_target, p_below = float(ds["p_target"]), float(ds["p_bcr_below_1"])
    reaching = round(p_target * n)
    data_vars |= {
        "target": xr.Variable(
            (), target_value, {"long_name": f"Cumulative value to reach by {target_year}", "units": "GBP"}
        ),
        "p_target": xr.Variable(
            (), p_target, {"units": "1", "long_name": ds["p_target"].attrs.get("long_name", "")}
        ),
        "p_target_mcse": xr.Variable((), float(ds["p_target_mcse"]), {"units": "1"}),
        "p_target_upper_95": xr.Variable(
            (),
            float(_clopper_pearson_upper(reaching, n)),
            {"units": "1", "long_name": "One-sided 95% Clopper-Pearson upper bound"},
        ),
        "p_bcr_below_1": xr.Variable((), p_below, {"units": "1", "long_name": "P(benefit-cost ratio < 1)"}),
        "p_bcr_below_1_mcse": xr.Variable((), float(ds["p_bcr_below_1_mcse"]), {"units": "1"}),
    }
    if target is not None:
        # the stored probability is against the scenario's claim; another target has no count to use
        for name in ("p_target", "p_target_mcse", "p_target_upper_95"):
            del data_vars[name]
    attrs_out: dict[str, Any] = {
        key: ds.attrs[key]
        for key in ("scenario_name", "seed", "claim_window", "appraisal_period")
        if key in ds.attrs
    }
    try:
        scenario = tomllib.loads(str(ds.attrs.get("scenario", "")))
        attrs_out["price_base"] = str(scenario["price_base"])
        attrs_out["scenario_title"] = str(scenario["title"])
        attrs_out["discount_rate"] = float(scenario["discount_rate"]["value"])
    except (tomllib.TOMLDecodeError, KeyError, TypeError, ValueError):
        pass
    attrs_out |= {
        "target_year": target_year,
        "n_draws": n,
        "confidence": confidence,
        "streamed": f"quantiles from a {ds.attrs.get('sketch', 'sketch')}, rank error "
        f"{float(ds.attrs['quantile_rank_error']):.4g}",
    }
    return _summary_dataset(data_vars, labels, long_names, units, horizons, asked, attrs_out)


# --------------------------------------------------------------------------------------------------
# xarray layer: payback
# --------------------------------------------------------------------------------------------------


def draws_table(ds: xr.Dataset) -> pd.DataFrame:
    """Per-draw headline outputs of a run as a table: one row per draw, one column per output.

    The columns are the cumulative value by the target year (the claim test)
    and the appraisal outputs the run holds (NPV, benefit-cost ratio, present
    values of costs and benefits by kind), in GBP or as ratios; the units of
    each column are in ``table.attrs["units"]``. Only these per-draw scalars
    are taken, so no label is repeated for every draw (xarray's own
    ``to_dataframe`` would repeat every coordinate and broadcast every input
    across years and programmes).

    Parameters
    ----------
    ds : xarray.Dataset
        Output of :func:`nhsrisk.simulate`.

    Returns
    -------
    pandas.DataFrame
        Index ``draw``; columns ``cumulative_value[<target year>]``, ``npv``,
        ``bcr`` and the present values; for updated results
        (:func:`nhsrisk.update`) a last column ``weight``, the draw's
        normalised importance weight (units ``"1"``), without which the rows
        describe the prior: weight each row by it (``numpy.average(table.npv,
        weights=table.weight)``).

    Raises
    ------
    ValueError
        If ``ds`` lacks the cumulative value, ``npv`` or ``bcr``, or its target year.

    Examples
    --------
    >>> import nhsrisk
    >>> table = draws_table(nhsrisk.simulate(draws=500, seed=1))
    >>> table.shape, table.columns[:3].tolist(), table.attrs["units"]["npv"]
    ((500, 13), ['cumulative_value[2029/30]', 'npv', 'bcr'], 'GBP')
    """
    import pandas as pd

    caller = "draws_table"
    ds = _check_dataset(ds, caller)
    target_year = _target_year(ds, caller)
    cumulative = _variable(ds, "cumulative_value", caller, parameter="ds", weighted=True).sel(
        year=target_year, drop=True
    )
    columns = {f"cumulative_value[{target_year}]": cumulative}
    for name, _ in APPRAISAL_SUMMARY:
        if name in ("npv", "bcr") or name in ds.data_vars:
            columns[name] = _variable(ds, name, caller, parameter="ds", weighted=True)
    data = {name: np.asarray(da.values) for name, da in columns.items()}
    units = {name: str(da.attrs.get("units", "")) for name, da in columns.items()}
    weights = _weights_of(ds)
    if weights is not None:
        data[WEIGHT], units[WEIGHT] = weights, "1"
    table = pd.DataFrame(data, index=pd.Index(np.asarray(ds["draw"].values), name="draw"))
    table.attrs["units"] = units
    return table


#: Attributes of a run that say which run it is: kept by results derived from it, for their figures.
_RUN_IDENTITY = (
    "scenario_name",
    "scenario_title",
    "scenario_changes",
    "seed",
    "price_base",
    "nhsrisk_version",
)


def payback(ds: xr.Dataset) -> xr.Dataset:
    """Probability that the investment has paid back, year by year over the appraisal period.

    A draw's payback year is the first year in which its cumulative
    undiscounted value (``cumulative_value``, GBP) is at least its cumulative
    cost: capital spent (``spend``) plus the running cost of keeping the
    systems going (``running_cost``) and of keeping non-digital routes open
    (``dual_running_cost``), summed over
    programmes and accumulated over years (GBP, real terms). The years are
    every year of the results: the appraisal period (ten years by default),
    not only the claim window. This is a first crossing: when benefits decay
    after support ends the value can later fall back below the costs, and the
    draw still counts as paid back from its first crossing on.

    Updated results (:func:`nhsrisk.update`) are weighted: each probability
    is the share of the importance weight, not of the draws, and its error
    and bound come from Kish's effective number of draws ``n_eff`` (see Notes).

    Parameters
    ----------
    ds : xarray.Dataset
        Output of :func:`nhsrisk.simulate`, or of :func:`nhsrisk.update`:
        needs ``cumulative_value`` (year, draw), ``spend``, ``running_cost`` and
        ``dual_running_cost`` (year, programme, draw). A Dataset built by hand,
        without the attrs of a run, may leave out either running cost.

    Returns
    -------
    xarray.Dataset
        ``payback_probability`` (year): P(payback year <= year), with
        ``payback_probability_mcse`` and ``payback_probability_upper_95`` (the
        one-sided 95% Clopper-Pearson bound, useful when no draw has paid back);
        ``payback_year_probability`` (payback_year) over the year labels and
        ``"not by <last year>"`` (sums to 1), with
        ``payback_year_probability_mcse``; ``median_payback_year``, the median
        of that ordered distribution: a year label, or ``"not by <last year>"``
        when fewer than half of the draws (of the weight) pay back within the
        appraisal period. Attributes ``n_draws``, ``definition`` (which costs
        were counted) and ``period``, and the run's scenario, seed, price base
        and nhsrisk version where ``ds`` has them (a figure of the result names
        them); for weighted results also ``effective_draws`` and
        ``observations`` (the figure says how it was weighted).

    Raises
    ------
    TypeError
        If ``ds`` is not a Dataset.
    ValueError
        If a variable is missing or holds NaN (the message names it).

    Notes
    -----
    With importance weights ``w`` (normalised), ``payback_probability`` is
    the sum of the weights of the draws paid back by the year, its standard
    error ``sqrt(p (1 - p) / n_eff)`` with ``n_eff = 1 / sum(w**2)`` rounded
    down (Kish), and its Clopper-Pearson bound that of ``p * n_eff``
    successes in ``n_eff`` draws: an approximation that treats the weighted
    sample as ``n_eff`` independent draws, good while ``n_eff`` is large
    (Kish, 1965; Kong, 1992). The median payback year is the first whose
    cumulative weight reaches one half. With equal weights every figure is
    the unweighted one, to rounding.

    Examples
    --------
    >>> import xarray as xr
    >>> years = ["2025/26", "2026/27", "2027/28"]
    >>> cumulative_value = [[0.5, 0.5], [2.5, 1.0], [2.55, 1.5]]  # GBP bn; two draws
    >>> spend = [[[1.0, 1.0]], [[1.0, 1.0]], [[0.0, 0.0]]]  # one programme, GBP bn a year
    >>> running_cost = [[[0.0, 0.0]], [[0.0, 0.0]], [[0.6, 0.6]]]  # from the third year
    >>> ds = xr.Dataset(
    ...     {
    ...         "cumulative_value": (("year", "draw"), cumulative_value),
    ...         "spend": (("year", "programme", "draw"), spend),
    ...         "running_cost": (("year", "programme", "draw"), running_cost),
    ...     },
    ...     coords={"year": years},
    ... )
    >>> result = payback(ds)
    >>> result["payback_probability"].values.tolist()
    [0.0, 0.5, 0.5]
    >>> result["payback_year_probability"].values.tolist()  # draw 0 falls back below: running costs
    [0.0, 0.5, 0.0, 0.5]
    >>> str(result["median_payback_year"].values)
    '2026/27'

    Weighted (draw 1 three times as likely as draw 0), it pays back in the second year with
    probability 0.25 and the median is now no payback at all:

    >>> weighted = payback(ds.assign_coords(weight=("draw", [0.25, 0.75])))
    >>> weighted["payback_probability"].values.tolist(), str(weighted["median_payback_year"].values)
    ([0.0, 0.25, 0.25], 'not by 2027/28')
    """
    caller = "payback"
    ds = _check_dataset(ds, caller)
    weights = _weights_of(ds)
    cumulative_value = _variable(ds, "cumulative_value", caller, parameter="ds", weighted=True)
    spend = _variable(ds, "spend", caller, parameter="ds", weighted=True)
    costs = [spend]
    for name in ("running_cost", "dual_running_cost"):
        # results of nhsrisk.simulate always hold them: a missing one is an error, not a smaller cost
        if name in ds.data_vars or "n_draws" in ds.attrs:
            costs.append(_variable(ds, name, caller, parameter="ds", weighted=True))
    for da in (cumulative_value, *costs):
        if "year" not in da.dims:
            raise ValueError(
                _message("ds", caller, f"a Dataset whose {da.name!r} has a 'year' dimension", da.dims)
            )
    if set(cumulative_value.dims) != {"year", "draw"}:
        raise ValueError(
            _message(
                "ds",
                caller,
                "a Dataset whose 'cumulative_value' has dims ('year', 'draw')",
                cumulative_value.dims,
            )
        )
    value_draws = _finite_draws(
        cumulative_value.transpose("year", "draw"), "draw", caller, parameter="ds", weighted=True
    )
    n_years, n = value_draws.shape
    # Every dimension but year and draw (programme) is summed: costs of the whole investment.
    yearly_cost = np.zeros((n_years, n))
    for da in costs:
        ordered = da.transpose("year", ..., "draw")
        draws = _finite_draws(ordered, "draw", caller, parameter="ds", weighted=True)
        yearly_cost += draws.reshape(n_years, -1, n).sum(axis=1)
    cumulative_cost = np.cumsum(yearly_cost, axis=0)

    years = [str(year) for year in cumulative_value["year"].values]
    paid_back = value_draws >= cumulative_cost
    first_year = np.where(paid_back.any(axis=0), paid_back.argmax(axis=0), n_years)
    categories = [*years, f"not by {years[-1]}"]
    weighting: dict[str, Any] = {}
    if weights is None:
        counts = np.bincount(first_year, minlength=n_years + 1)
        category_probability = counts / n
        by_year: np.ndarray = np.cumsum(counts[:n_years])
        probability = by_year / n
        # The smallest category reached by at least half of the draws, in integers to avoid rounding.
        median = categories[int(np.argmax(2 * np.cumsum(counts) >= n))]
    else:
        # shares of the weight in place of shares of the draws; errors and bounds from the effective
        # number of draws, as in summary()
        category_probability = np.clip(np.bincount(first_year, weights=weights, minlength=n_years + 1), 0, 1)
        probability = np.clip(np.cumsum(category_probability[:n_years]), 0.0, 1.0)
        n = _effective_draws(weights)
        by_year = _effective_count(probability, n)
        # the smallest category whose cumulative weight reaches one half (the weighted median)
        order = np.argsort(first_year, kind="stable")
        at = _weighted_quantiles(first_year[order].astype(float), np.cumsum(weights[order]), (0.5,))
        median = categories[int(at[0])]
        weighting = {"effective_draws": int(n), "observations": str(ds.attrs.get("observations", "[]"))}
    year_coord = cumulative_value["year"].variable.to_base_variable()
    return xr.Dataset(
        {
            "payback_probability": (
                "year",
                probability,
                {
                    "long_name": "Probability that cumulative value has reached cumulative cost by the year",
                    "units": "1",
                },
            ),
            "payback_probability_mcse": (
                "year",
                np.sqrt(probability * (1 - probability) / n),
                {"long_name": "Monte Carlo standard error of payback_probability", "units": "1"},
            ),
            "payback_probability_upper_95": (
                "year",
                _clopper_pearson_upper(by_year, n),
                {
                    "long_name": "One-sided 95% Clopper-Pearson upper bound of payback_probability",
                    "units": "1",
                },
            ),
            "payback_year_probability": (
                "payback_year",
                category_probability,
                {
                    "long_name": (
                        "Probability that the payback year (first crossing) is this one "
                        "(the last category: no payback within the horizon)"
                    ),
                    "units": "1",
                },
            ),
            "payback_year_probability_mcse": (
                "payback_year",
                np.sqrt(category_probability * (1 - category_probability) / n),
                {"long_name": "Monte Carlo standard error of payback_year_probability", "units": "1"},
            ),
            "median_payback_year": (
                (),
                median,
                {"long_name": "Median payback year (first crossing)", "units": "financial year"},
            ),
        },
        coords={
            "year": year_coord,
            "payback_year": ("payback_year", categories, {"long_name": "Payback year (first crossing)"}),
        },
        attrs={
            "n_draws": int(ds.sizes["draw"]),
            **weighting,
            "definition": "first year with cumulative_value >= cumulative "
            + " + ".join(str(cost.name) for cost in costs),
            "period": f"{years[0]} to {years[-1]}",
            # which run this is, for the title and footer of a figure of it
            **{key: ds.attrs[key] for key in _RUN_IDENTITY if key in ds.attrs},
        },
    )


def has_segments(ds: xr.Dataset) -> bool:
    """Tell whether results hold population segments (a scenario with a ``[population]`` table).

    Examples
    --------
    >>> import nhsrisk
    >>> has_segments(nhsrisk.simulate(draws=100, seed=1))
    True
    """
    needed = ("contact_weighted_exclusion", "pv_patient_by_quintile", "people_by_quintile")
    return all(name in ds for name in needed) and ds.sizes.get("quintile", 0) > 1


def _ratio_of_means(numerator: np.ndarray, denominator: np.ndarray) -> tuple[float, float]:
    """Ratio of the means of paired draws and its Monte Carlo standard error (delta method)."""
    ratio = float(numerator.mean() / denominator.mean())
    variance = (
        numerator.var(ddof=1)
        + ratio**2 * denominator.var(ddof=1)
        - 2 * ratio * np.cov(numerator, denominator)[0, 1]
    )
    return ratio, math.sqrt(max(variance, 0.0) / numerator.size) / abs(float(denominator.mean()))


def equity(ds: xr.Dataset, baseline_ds: xr.Dataset | None = None) -> xr.Dataset:
    """Who gains: patient-channel benefit per head by deprivation quintile and age band, and its gap.

    The present value of the patient channel (GBP, appraisal period) is shared
    out by the segment of the patients whose contacts moved online
    (``pv_patient_by_quintile``, ``pv_patient_by_age_band``) and divided by the
    people in each (``people_by_quintile``, ``people_by_age_band``, from the
    scenario's ``[population]`` table). The gap between the most and the least
    deprived is the ratio of their mean benefits per head and their
    difference, each with its Monte Carlo standard error.

    With ``baseline_ds``, every figure is the change against the baseline,
    draw by draw (the runs must share their draws: same seed and number of
    draws, common random numbers): who gains from what the scenario adds, such
    as an inclusion programme aimed at some segments. The ratio is then left
    out, since a segment the scenario does not touch gains about nothing.

    Parameters
    ----------
    ds : xarray.Dataset
        Results of :func:`nhsrisk.simulate` from a scenario with a ``[population]`` table.
    baseline_ds : xarray.Dataset, optional
        Results of the baseline scenario on the same draws, with the same population.

    Returns
    -------
    xarray.Dataset
        ``per_head_by_quintile`` and ``per_head_by_age_band`` (GBP per person) with
        ``statistic`` ``mean``, ``mcse``, ``5%``, ``50%``, ``95%`` (percentiles over the
        draws); ``most_minus_least_deprived`` (GBP per person), the mean benefit per head
        in the first quintile less that in the last, and ``most_minus_least_deprived_mcse``;
        without a baseline also ``most_to_least_deprived``, the ratio of the two means, and
        ``most_to_least_deprived_mcse`` (delta method), and ``to_highest_age_band`` (by
        ``age_band``), each band's mean over the mean of the band that gets the most, with
        ``to_highest_age_band_mcse``. Attribute ``baseline_name`` when compared with a baseline.

    Raises
    ------
    TypeError
        If ``baseline_ds`` is given and is not a Dataset.
    ValueError
        If the results have no segment outputs or no population (a scenario without
        ``[population]``), or carry importance weights, or the baseline does not share the
        run's draws, segments and population.

    Examples
    --------
    >>> import nhsrisk
    >>> table = equity(nhsrisk.simulate(draws=2_000, seed=1))
    >>> table["per_head_by_quintile"].sizes["quintile"]
    5
    >>> bool(table["most_to_least_deprived"] > 0)
    True
    >>> base = nhsrisk.simulate("as-announced", draws=2_000, seed=1)
    >>> plus = nhsrisk.simulate("plus-digital-inclusion", draws=2_000, seed=1)
    >>> gain = equity(plus, base)["per_head_by_age_band"].sel(statistic="mean")
    >>> bool(gain.sel(age_band="75+") > gain.sel(age_band="16-44"))  # the programme is aimed at 65+
    True
    """
    caller = "equity"
    ds = _check_dataset(ds, caller)
    refuse_weighted(ds, caller, "its ratio of means is not yet weighted")
    needed = ["pv_patient_by_quintile", "pv_patient_by_age_band", "people_by_quintile", "people_by_age_band"]

    def per_head(run: xr.Dataset, parameter: str) -> dict[str, np.ndarray]:
        missing = [name for name in needed if name not in run]
        if missing:
            allowed = "results of a scenario with a [population] table (its segment outputs and people)"
            raise ValueError(_message(parameter, caller, allowed, f"results without {missing}"))
        return {
            dim: _finite_draws(
                (run[f"pv_patient_by_{dim}"] / run[f"people_by_{dim}"]).transpose(dim, "draw"),
                "draw",
                caller,
                parameter=parameter,
            )
            for dim in ("quintile", "age_band")
        }

    values = per_head(ds, "ds")
    attrs: dict[str, Any] = {
        "n_draws": int(ds.sizes["draw"]),
        **{k: ds.attrs[k] for k in _RUN_IDENTITY if k in ds.attrs},
    }
    if baseline_ds is not None:
        if not isinstance(baseline_ds, xr.Dataset):
            raise TypeError(
                _message(
                    "baseline_ds",
                    caller,
                    "an xarray.Dataset from nhsrisk.simulate",
                    type(baseline_ds).__name__,
                )
            )
        refuse_weighted(baseline_ds, caller, "its paired differences are not yet weighted")
        same = ds.sizes["draw"] == baseline_ds.sizes.get("draw") and np.array_equal(
            ds["draw"].values, baseline_ds["draw"].values
        )
        for name in ("quintile", "age_band", "people_by_quintile", "people_by_age_band"):
            same = same and name in baseline_ds and np.array_equal(ds[name].values, baseline_ds[name].values)
        if not same:
            allowed = "results on the same draws (seed and number of draws) and the same population as ds"
            raise ValueError(_described("baseline_ds", caller, allowed, "a run that differs"))
        base = per_head(baseline_ds, "baseline_ds")
        values = {dim: values[dim] - base[dim] for dim in values}
        attrs["baseline_name"] = str(baseline_ds.attrs.get("scenario_name", ""))
    out: dict[str, Any] = {}
    what = (
        "Change in patient-channel benefit per head"
        if baseline_ds is not None
        else "Patient-channel benefit per head"
    )
    for dim, draws in values.items():
        n = draws.shape[-1]
        quantiles = np.quantile(draws, [0.05, 0.5, 0.95], axis=-1)
        table = np.stack(
            [draws.mean(axis=-1), draws.std(axis=-1, ddof=1) / math.sqrt(n), *quantiles], axis=-1
        )
        out[f"per_head_by_{dim}"] = (
            (dim, "statistic"),
            table,
            {"long_name": f"{what} by {dim.replace('_', ' ')}", "units": "GBP/person"},
        )
    most, least = values["quintile"][0], values["quintile"][-1]
    n = most.size
    out["most_minus_least_deprived"] = (
        (),
        float(most.mean() - least.mean()),
        {"long_name": f"{what}, most less least deprived quintile", "units": "GBP/person"},
    )
    out["most_minus_least_deprived_mcse"] = (
        (),
        float((most - least).std(ddof=1) / math.sqrt(n)),
        {"long_name": "Monte Carlo standard error of most_minus_least_deprived", "units": "GBP/person"},
    )
    if baseline_ds is None:
        ratio, error = _ratio_of_means(most, least)
        out["most_to_least_deprived"] = (
            (),
            ratio,
            {"long_name": "Mean benefit per head, most over least deprived quintile", "units": "1"},
        )
        out["most_to_least_deprived_mcse"] = (
            (),
            error,
            {
                "long_name": "Monte Carlo standard error of most_to_least_deprived (delta method)",
                "units": "1",
            },
        )
        bands = values["age_band"]
        top = bands[int(np.argmax(bands.mean(axis=-1)))]
        ratios = np.array([_ratio_of_means(band, top) for band in bands])
        out["to_highest_age_band"] = (
            ("age_band",),
            ratios[:, 0],
            {
                "long_name": "Mean benefit per head, over that of the age band that gets the most",
                "units": "1",
            },
        )
        out["to_highest_age_band_mcse"] = (
            ("age_band",),
            ratios[:, 1],
            {"long_name": "Monte Carlo standard error of to_highest_age_band (delta method)", "units": "1"},
        )
    return xr.Dataset(
        out,
        coords={
            "quintile": ds["quintile"].values,
            "age_band": ds["age_band"].values,
            "statistic": ["mean", "mcse", "5%", "50%", "95%"],
        },
        attrs=attrs,
    )


# --------------------------------------------------------------------------------------------------
# xarray layer: a scenario against its baseline
# --------------------------------------------------------------------------------------------------

#: Outputs compared by :func:`budget_change_effect` besides the claim-window value, in order.
BUDGET_CHANGE_OUTPUTS = ("pv_benefits", "pv_costs", "npv")


def _total_capital(ds: xr.Dataset, caller: str, parameter: str) -> np.ndarray:
    """Real capital spent per draw, summed over years and programmes [GBP]."""
    spend = _variable(ds, "spend", caller, parameter=parameter)
    if "year" not in spend.dims:
        raise ValueError(
            _message(parameter, caller, "a Dataset whose 'spend' has a 'year' dimension", spend.dims)
        )
    draws = _finite_draws(spend.transpose(..., "draw"), "draw", caller, parameter=parameter)
    return draws.reshape(-1, draws.shape[-1]).sum(axis=0)


def _mean_difference(scenario: np.ndarray, baseline: np.ndarray, paired: bool) -> tuple[float, float]:
    """Mean of ``scenario - baseline`` and its Monte Carlo standard error (paired or independent)."""
    change = float(scenario.mean() - baseline.mean())
    if paired:
        return change, float((scenario - baseline).std(ddof=1) / math.sqrt(scenario.size))
    variance = scenario.var(ddof=1) / scenario.size + baseline.var(ddof=1) / baseline.size
    return change, float(math.sqrt(variance))


def budget_change_effect(ds: xr.Dataset, baseline_ds: xr.Dataset) -> xr.Dataset:
    """Value lost or gained against a baseline run, in total and per GBP of budget change.

    The *budget change* is the difference in mean total real capital spent
    (``spend`` summed over years and programmes, after budget changes and
    raids; GBP in the price base) between the scenario and its baseline: for
    a cut it is the money lost (less what raids would have taken anyway), for
    a ring fence the money protected from raids, for an added programme its
    cost. Each output's change is the difference of the means; its value per
    GBP is that change divided by the budget change, so a positive value per
    GBP means value moves with the money (a cut loses value, protected or
    added money gains it).

    Parameters
    ----------
    ds : xarray.Dataset
        Output of :func:`nhsrisk.simulate` for the scenario.
    baseline_ds : xarray.Dataset
        Output of :func:`nhsrisk.simulate` for the baseline (``scenario.baseline``),
        with the same years and target year. Run it with the same seed and
        number of draws (common random numbers): draw ``i`` of both then shares
        every input, so the difference carries no sampling noise from inputs
        the scenario leaves alone, and its error is far smaller.

    Returns
    -------
    xarray.Dataset
        Along ``output`` (``"cumulative_value[<target year>]"``, the claim-window
        value, then ``"pv_benefits"``, ``"pv_costs"``, ``"npv"``; units in
        ``output_units``): ``scenario_mean`` and ``baseline_mean`` (GBP),
        ``change`` (GBP) with ``change_mcse``, and ``per_gbp`` (GBP of change
        per GBP of budget change, units ``"1"``) with ``per_gbp_mcse``.
        Scalars: ``budget_change`` (GBP) with ``budget_change_mcse``,
        ``scenario_capital`` and ``baseline_capital`` (mean total real
        capital spent, GBP). Attributes: ``scenario_name``, ``baseline_name``,
        ``n_draws``, ``baseline_n_draws``, ``paired`` (1 when draw ``i`` of one
        run is set against draw ``i`` of the other) and
        ``common_random_numbers`` (1 when both runs share seed, first draw,
        sampler and draws).

    Raises
    ------
    TypeError
        If either argument is not a Dataset.
    ValueError
        If a needed variable is missing or holds NaN, or the two runs do not
        share their years, target year and price base.
    NotImplementedError
        If either run carries importance weights (:func:`nhsrisk.update`):
        the draws are compared in pairs, and the two runs' weights differ.

    Notes
    -----
    With ``n`` draws in each run and the same draw coordinate the draws are
    paired: the standard error of a change is ``sd(x_s - x_b) / sqrt(n)``,
    valid whether or not the runs share their random numbers (pairs of
    independent draws are still independent pairs). Otherwise the runs are
    independent samples, ``sqrt(var_s / n_s + var_b / n_b)``. The error of a
    ratio ``R = mean(D) / mean(B)`` is the delta method's: that of the mean of
    ``D - R B``, divided by ``|mean(B)|``. When the budget change is 0 (the
    runs spend the same) ``per_gbp`` and its error are NaN. The standard
    errors assume independent draws (the random sampler).

    Examples
    --------
    >>> import nhsrisk
    >>> base = nhsrisk.simulate("as-announced", draws=2_000, seed=1)
    >>> cut = nhsrisk.simulate("after-the-cut", draws=2_000, seed=1)
    >>> effect = budget_change_effect(cut, base)
    >>> bool(effect["budget_change"] < 0)  # GBP 325m cash cut in 2026/27, less what raids took anyway
    True
    >>> claim = effect.sel(output="cumulative_value[2029/30]")
    >>> bool(claim["change"] < 0), bool(claim["per_gbp"] > 0)  # the cut loses value: each GBP cut costs
    (True, True)
    >>> effect["per_gbp"].attrs["units"], int(effect.attrs["common_random_numbers"])
    ('1', 1)
    """
    caller = "budget_change_effect"
    ds = _check_dataset(ds, caller)
    if not isinstance(baseline_ds, xr.Dataset):
        raise TypeError(
            _message(
                "baseline_ds", caller, "an xarray.Dataset from nhsrisk.simulate", type(baseline_ds).__name__
            )
        )
    # The observations weight the draws of the run they were applied to; the other run's outputs
    # differ draw by draw, so those weights are not its posterior, and a paired difference under
    # two sets of weights has no error formula here.
    reason = (
        "it sets a scenario's draws against its baseline's in pairs (common random numbers), and "
        "observations weight each run's draws by its own outputs, so a pair has two weights and the "
        "paired difference and its error are not defined; compare the summaries of the updated runs"
    )
    refuse_weighted(ds, caller, reason)
    refuse_weighted(baseline_ds, caller, reason)
    target_year = _target_year(ds, caller)
    for name, getter in (
        ("years", lambda d: [str(y) for y in d["year"].values] if "year" in d.coords else None),
        ("target year", lambda d: d.attrs.get("target_year")),
        ("price base", lambda d: d.attrs.get("price_base")),
    ):
        if getter(ds) != getter(baseline_ds):
            raise ValueError(
                _message(
                    "baseline_ds",
                    caller,
                    f"a run with the same {name} as ds ({getter(ds)!r})",
                    getter(baseline_ds),
                )
            )
    n, n_base = ds.sizes.get("draw", 0), baseline_ds.sizes.get("draw", 0)
    paired = n == n_base and np.array_equal(ds["draw"].values, baseline_ds["draw"].values)
    if min(n, n_base) < 2:
        raise ValueError(_message("ds", caller, "runs of at least 2 draws each", (n, n_base)))
    crn_keys = ("seed", "start", "sampler")
    common = paired and all(ds.attrs.get(key) == baseline_ds.attrs.get(key) for key in crn_keys)

    def outputs(run: xr.Dataset, parameter: str) -> list[np.ndarray]:
        cumulative = _variable(run, "cumulative_value", caller, parameter=parameter).sel(year=target_year)
        values = [_finite_draws(cumulative, "draw", caller, parameter=parameter)]
        for name in BUDGET_CHANGE_OUTPUTS:
            da = _variable(run, name, caller, parameter=parameter)
            if da.dims != ("draw",):
                raise ValueError(
                    _message(parameter, caller, f"a Dataset whose {name!r} has dims ('draw',) only", da.dims)
                )
            values.append(_finite_draws(da, "draw", caller, parameter=parameter))
        return values

    scenario_values, baseline_values = outputs(ds, "ds"), outputs(baseline_ds, "baseline_ds")
    scenario_capital = _total_capital(ds, caller, "ds")
    baseline_capital = _total_capital(baseline_ds, caller, "baseline_ds")
    budget_change, budget_change_mcse = _mean_difference(scenario_capital, baseline_capital, paired)

    names = [f"cumulative_value[{target_year}]", *BUDGET_CHANGE_OUTPUTS]
    change, change_mcse, per_gbp, per_gbp_mcse = [], [], [], []
    for scenario, baseline in zip(scenario_values, baseline_values, strict=True):
        difference, error = _mean_difference(scenario, baseline, paired)
        change.append(difference)
        change_mcse.append(error)
        if budget_change == 0.0:
            per_gbp.append(math.nan)
            per_gbp_mcse.append(math.nan)
            continue
        ratio = difference / budget_change
        # delta method: the error of mean(D - R B), divided by |mean(B)|
        _, residual_error = _mean_difference(
            scenario - ratio * scenario_capital, baseline - ratio * baseline_capital, paired
        )
        per_gbp.append(ratio)
        per_gbp_mcse.append(residual_error / abs(budget_change))

    units = ["GBP"] * len(names)
    gbp = {"units": "GBP"}
    by_year = f"by {target_year}"
    long_names = [
        f"Cumulative value {by_year} (claim window)",
        "Present value of all benefits, appraisal period",
        "Present value of all costs, appraisal period",
        "Net present value, appraisal period",
    ]
    spend_text = "total real capital spent (after budget changes and raids)"
    data_vars = {
        "scenario_mean": (
            "output",
            [float(v.mean()) for v in scenario_values],
            {"long_name": "Mean in the scenario", **gbp},
        ),
        "baseline_mean": (
            "output",
            [float(v.mean()) for v in baseline_values],
            {"long_name": "Mean in the baseline", **gbp},
        ),
        "change": ("output", change, {"long_name": "Change in the mean: scenario minus baseline", **gbp}),
        "change_mcse": ("output", change_mcse, {"long_name": "Monte Carlo standard error of change", **gbp}),
        "per_gbp": (
            "output",
            per_gbp,
            {"long_name": "Change per GBP of budget change (change / budget_change)", "units": "1"},
        ),
        "per_gbp_mcse": (
            "output",
            per_gbp_mcse,
            {"long_name": "Monte Carlo standard error of per_gbp (delta method)", "units": "1"},
        ),
        "budget_change": (
            (),
            budget_change,
            {"long_name": f"Budget change: mean {spend_text}, scenario minus baseline", **gbp},
        ),
        "budget_change_mcse": (
            (),
            budget_change_mcse,
            {"long_name": "Monte Carlo standard error of budget_change", **gbp},
        ),
        "scenario_capital": (
            (),
            float(scenario_capital.mean()),
            {"long_name": f"Mean {spend_text}, scenario", **gbp},
        ),
        "baseline_capital": (
            (),
            float(baseline_capital.mean()),
            {"long_name": f"Mean {spend_text}, baseline", **gbp},
        ),
    }
    coords = {
        "output": ("output", names, {"long_name": "Output compared"}),
        "output_long_name": ("output", long_names, {"long_name": "Description of the output"}),
        "output_units": ("output", units, {"long_name": "Units of the output"}),
    }
    attrs = {
        "scenario_name": str(ds.attrs.get("scenario_name", "")),
        "baseline_name": str(baseline_ds.attrs.get("scenario_name", "")),
        "target_year": target_year,
        "n_draws": int(n),
        "baseline_n_draws": int(n_base),
        "paired": int(paired),
        "common_random_numbers": int(common),
        **{key: ds.attrs[key] for key in ("seed", "price_base", "currency") if key in ds.attrs},
    }
    return xr.Dataset(data_vars, coords=coords, attrs=attrs)


# --------------------------------------------------------------------------------------------------
# xarray layer: convergence
# --------------------------------------------------------------------------------------------------


def _draws_of(data: Any, variable: str | None, caller: str) -> xr.DataArray:
    if isinstance(data, xr.Dataset):
        return _variable(data, "npv" if variable is None else variable, caller, weighted=True)
    if isinstance(data, xr.DataArray):
        if variable is not None:
            raise ValueError(_message("variable", caller, "None when a DataArray is given", variable))
        _check_dim(data, "draw", caller)
        return data
    raise TypeError(_message("ds_or_da", caller, "an xarray.Dataset or DataArray", type(data).__name__))


def running_mean(
    ds_or_da: xr.Dataset | xr.DataArray,
    variable: str | None = None,
    points: int = 100,
    *,
    confidence: float = 0.95,
) -> xr.Dataset:
    """Trace the mean of the first ``n`` draws and its error as ``n`` grows, to judge convergence.

    Updated results (:func:`nhsrisk.update`) give the weighted running mean,
    in draw order: ``sum(w_i x_i) / sum(w_i)`` over the first ``n`` draws,
    with the error from the effective number of those draws (see Notes).

    Parameters
    ----------
    ds_or_da : xarray.Dataset or xarray.DataArray
        Results with a ``draw`` dimension, or one output.
    variable : str, optional
        Variable of a Dataset (default ``"npv"``); must be None for a DataArray.
    points : int, default=100
        Number of draw counts, spaced evenly in log scale from 2 to all draws
        (fewer when counts coincide at small ``n``).
    confidence : float, default=0.95
        Level of the normal interval ``mean ± z * mcse``, in (0, 1).

    Returns
    -------
    xarray.Dataset
        Along the new dimension ``n_draws``, with the other dimensions of the
        variable kept, in its units: ``mean``, ``mcse``, ``ci_low``, ``ci_high``.
        Computed from cumulative sums, so in O(n); the last point is the
        full-sample mean and error exactly as :func:`describe` gives them.
        Weighted, also ``effective_draws`` (n_draws; Kish's effective number
        of the first ``n`` draws) and the attributes ``effective_draws`` and
        ``observations``; ``n_draws`` then starts where two draws of positive
        weight have been seen (the first point with a spread).

    Raises
    ------
    TypeError
        If ``ds_or_da`` is neither a Dataset nor a DataArray, or ``points`` not an int.
    ValueError
        If the variable is unknown (the message lists the valid ones), holds
        NaN, or there are fewer than 2 draws (of positive weight).

    Notes
    -----
    With importance weights ``w`` the mean of the first ``n`` draws is the
    self-normalised estimate ``sum(w x) / sum(w)``, its variance the
    weighted one with the reliability-weights correction ``1 - sum(v**2)``
    (``v`` the weights of those draws normalised to sum 1; ``ddof=1`` when
    they are equal) and its standard error ``sd / sqrt(n_eff)`` with
    ``n_eff = 1 / sum(v**2)`` rounded down (Kish), as in :func:`describe`.
    The draws keep their simulated order, so the trace shows how the
    estimate would have settled had the run stopped at ``n``.

    Examples
    --------
    >>> import xarray as xr
    >>> x = xr.DataArray(np.random.default_rng(3).normal(2.0, 1.0, 10_000), dims="draw", name="npv")
    >>> trace = running_mean(x, points=20)
    >>> int(trace["n_draws"][-1]), bool(trace["mean"][-1] == x.mean())
    (10000, True)

    Weighted (here the second half of the draws twice as heavy as the first), the trace ends on
    the weighted mean:

    >>> w = np.repeat([1.0, 2.0], 5_000)
    >>> weighted = running_mean(x.assign_coords(weight=("draw", w / w.sum())), points=20)
    >>> bool(np.isclose(weighted["mean"][-1], np.average(x, weights=w), rtol=1e-12))
    True
    >>> int(weighted["effective_draws"][-1])  # (sum w)**2 / sum(w**2) = 9,000
    9000
    """
    import scipy.stats

    caller = "running_mean"
    da = _draws_of(ds_or_da, variable, caller)
    points = check_count(points, "points", caller, minimum=2)
    confidence = _probability(confidence, "confidence", caller)
    n = da.sizes["draw"]
    if n < 2:
        raise ValueError(_message("ds_or_da", caller, "data with at least 2 draws", n))
    weights = _weights_of(da)
    if weights is not None:
        da = da.drop_vars(WEIGHT)
    draws = _finite_draws(da, "draw", caller, parameter="ds_or_da")
    extra: dict[str, Any] = {}
    attrs_extra: dict[str, Any] = {}
    if weights is None:
        counts = np.unique(np.rint(np.geomspace(2, n, points)).astype(np.int64))
        full_mean = draws.mean(axis=-1)
        full_sd = draws.std(axis=-1, ddof=1)
        # Sums of squares about the full-sample mean: summing raw squares of GBP-sized numbers
        # would lose the variance to cancellation.
        centred = draws - full_mean[..., None]
        sums = np.cumsum(centred, axis=-1)[..., counts - 1]
        squares = np.cumsum(centred**2, axis=-1)[..., counts - 1]
        mean_offset = sums / counts
        variance = np.maximum(squares - counts * mean_offset**2, 0.0) / (counts - 1)
        mean = full_mean[..., None] + mean_offset
        mcse = np.sqrt(variance / counts)
        full_mcse = full_sd / math.sqrt(n)
    else:
        mean, mcse, full_mean, full_mcse, counts, effective = _weighted_running_mean(
            draws, weights, points, caller
        )
        extra["effective_draws"] = (
            "n_draws",
            effective,
            {"long_name": "Effective number of the first n draws (Kish)", "units": "1"},
        )
        attrs_extra = {
            "effective_draws": _effective_draws(weights),
            "observations": str(ds_or_da.attrs.get("observations", "[]")),
        }
    # Report the last point exactly as describe() does, so the trace ends on the headline number.
    mean[..., -1] = full_mean
    mcse[..., -1] = full_mcse
    z = float(scipy.stats.norm.ppf(0.5 + confidence / 2))
    units = str(da.attrs.get("units", "1" if da.dtype == bool else ""))
    long_name = str(da.attrs.get("long_name", da.name if da.name is not None else "the values"))
    dims = (*(d for d in da.transpose(..., "draw").dims if d != "draw"), "n_draws")
    coords = dict(da.isel(draw=0, drop=True).coords)
    coords["n_draws"] = xr.Variable("n_draws", counts, {"long_name": "Number of draws used", "units": "1"})
    level = f"{confidence:.3g}"
    return xr.Dataset(
        {
            "mean": (dims, mean, {"long_name": f"Running mean of {long_name}", "units": units}),
            "mcse": (
                dims,
                mcse,
                {"long_name": "Monte Carlo standard error of the running mean", "units": units},
            ),
            "ci_low": (
                dims,
                mean - z * mcse,
                {"long_name": f"Lower {level} normal bound of the mean", "units": units},
            ),
            "ci_high": (
                dims,
                mean + z * mcse,
                {"long_name": f"Upper {level} normal bound of the mean", "units": units},
            ),
            **extra,
        },
        coords=coords,
        attrs={
            "variable": str(da.name) if da.name is not None else "",
            "confidence": confidence,
            **attrs_extra,
        },
    )


def _weighted_running_mean(
    draws: np.ndarray, weights: np.ndarray, points: int, caller: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Weighted running mean and MCSE of ``draws`` (draws last) at log-spaced counts; see running_mean.

    Returns the means and errors at the counts, the full-sample mean and error exactly as
    :func:`describe` computes them, the counts, and the effective number of draws at each.
    """
    positive = np.flatnonzero(weights > 0.0)
    if positive.size < 2:
        raise ValueError(
            _message(
                "ds_or_da", caller, "weighted data with at least 2 draws of positive weight", positive.size
            )
        )
    n = weights.size
    start = int(positive[1]) + 1  # the first count with two draws of positive weight: a spread
    counts = np.unique(np.rint(np.geomspace(start, n, points)).astype(np.int64))
    full_mean = draws @ weights
    centred = draws - full_mean[..., None]
    full_sd = np.sqrt(((centred * centred) @ weights) / (1.0 - float(np.sum(weights * weights))))
    total = np.cumsum(weights)[counts - 1]
    share_squared = np.cumsum(weights * weights)[counts - 1] / total**2  # sum(v**2), v normalised
    # sums about the full-sample mean, as unweighted (no cancellation of GBP-sized squares)
    mean_offset = np.cumsum(centred * weights, axis=-1)[..., counts - 1] / total
    spread = np.cumsum(centred * centred * weights, axis=-1)[..., counts - 1] / total
    variance = np.maximum(spread - mean_offset**2, 0.0) / (1.0 - share_squared)
    effective = np.floor(1.0 / share_squared + 1e-6)
    return (
        full_mean[..., None] + mean_offset,
        np.sqrt(variance / effective),
        full_mean,
        full_sd / math.sqrt(_effective_draws(weights)),
        counts,
        effective.astype(np.int64),
    )


def _check_precision(precision: Any) -> float:
    allowed = "a positive finite number in the units of the output (or of a probability)"
    if isinstance(precision, bool) or not isinstance(precision, numbers.Real):
        raise TypeError(_message("precision", "draws_needed", allowed, precision))
    # float(): typeshed's numbers.Real supports no comparisons (and isfinite has converted it already)
    if not (math.isfinite(precision) and float(precision) > 0):
        raise ValueError(_message("precision", "draws_needed", allowed, precision))
    return float(precision)


def draws_needed(
    values_or_da: Any,
    precision: float,
    *,
    statistic: Literal["mean", "probability"] = "mean",
    threshold: float | None = None,
    confidence: float | None = None,
) -> int:
    """Estimate the independent draws needed for a mean or a probability to reach a given precision.

    Uses a pilot run: for ``statistic="mean"`` the draws needed for the Monte
    Carlo standard error ``sd / sqrt(n)`` to be at most ``precision``,
    ``ceil((sd / precision) ** 2)``; for ``statistic="probability"``, with
    ``p`` the pilot's share of draws ``>= threshold``, ``ceil(p (1 - p) /
    precision ** 2)``. With ``confidence`` the precision is instead the
    half-width of the normal interval at that level (``sd`` and ``sqrt(p (1 -
    p))`` multiplied by ``z``).

    A pilot from updated results (a DataArray with the ``weight`` coordinate
    of :func:`nhsrisk.update`) gives the draws to *simulate* for the weighted
    estimate to reach the precision: the requirement above, in effective
    draws, times the weights' inefficiency ``n / n_eff`` (see Notes).

    Parameters
    ----------
    values_or_da : array_like or xarray.DataArray
        Pilot draws: a DataArray with a ``draw`` dimension, or an array with
        the draws on the last axis (at least 2). Over other dimensions (years,
        programmes) the largest requirement is returned.
    precision : float
        Target standard error (or half-width), in the units of the values for
        the mean (GBP for ``npv``) and as a probability (0.01 = 1 point) for a
        probability.
    statistic : {"mean", "probability"}, default="mean"
        What is to be estimated.
    threshold : float, optional
        Level defining the probability ``P(X >= threshold)``; required for, and
        only allowed with, ``statistic="probability"``.
    confidence : float, optional
        Level in (0, 1) if ``precision`` is a half-width rather than a standard error.

    Returns
    -------
    int
        Draws needed, at least 1 (draws to simulate, before the update, for a weighted pilot).

    Raises
    ------
    TypeError
        If an argument has the wrong type.
    ValueError
        If ``precision <= 0``, the values hold NaN, there are fewer than 2
        pilot draws (2 effective draws for a weighted pilot), or ``threshold``
        does not match ``statistic``.

    Notes
    -----
    A pilot with no spread (``sd == 0``) gives 1 draw for the mean: an output
    that does not vary, such as a fixed figure, has a mean with no Monte Carlo
    error, and raising would break loops over outputs. Beware that a pilot too
    short to see a rare event also has no spread. For a probability that is 0
    or 1 in the pilot, ``p`` is replaced by the one-sided 95% bound ``1 -
    0.05 ** (1 / n)`` (or 1 minus it), the largest value the pilot cannot rule
    out, rather than returning 1 draw. The estimate of ``sd`` is itself
    uncertain, by about ``1 / sqrt(2 n)`` relatively for a normal output.

    Weighted pilot: ``sd`` and ``p`` are the weighted ones (as :func:`describe`
    and :func:`payback` compute them) and ``n_eff = 1 / sum(w**2)`` (Kish,
    rounded down) replaces ``n`` in the standard error, so ``(z sd /
    precision) ** 2`` effective draws are needed; a new run updated by the
    same observations keeps about the same share ``n_eff / n`` of effective
    draws (the share converges as the run grows), so the draws to simulate
    are that many times ``n / n_eff``. The pilot's share is itself estimated:
    with a few hundred effective draws it can be off by a good fraction, so
    round the answer up. The bound for a probability of 0 or 1 uses ``n_eff``.

    Examples
    --------
    >>> pilot = np.random.default_rng(4).normal(0.0, 2e9, size=5_000)  # GBP
    >>> draws_needed(pilot, 1e7)  # MCSE of GBP 10m: (sd / 1e7) ** 2, 40,000 for the true sd
    39348
    >>> draws_needed(pilot, 0.005, statistic="probability", threshold=0.0)  # 0.25 / 0.005 ** 2
    9999

    Weighted so that half the draws carry all the weight (``n / n_eff = 2``), twice the draws:

    >>> import xarray as xr
    >>> half = np.where(np.arange(5_000) % 2 == 0, 1 / 2_500, 0.0)
    >>> weighted = xr.DataArray(pilot, dims="draw", coords={"weight": ("draw", half)})
    >>> draws_needed(weighted, 1e7), draws_needed(pilot[::2], 1e7)  # the weighted draws alone, 2x
    (76583, 38292)
    """
    import scipy.stats

    caller = "draws_needed"
    precision = _check_precision(precision)
    if statistic not in ("mean", "probability"):
        raise ValueError(_message("statistic", caller, "'mean' or 'probability'", statistic))
    if (threshold is None) == (statistic == "probability"):
        allowed = "a number" if statistic == "probability" else "None unless statistic='probability'"
        raise ValueError(_message("threshold", caller, allowed, threshold))
    if threshold is not None and (
        isinstance(threshold, bool) or not isinstance(threshold, numbers.Real) or not math.isfinite(threshold)
    ):
        raise TypeError(_message("threshold", caller, "a finite number", threshold))
    z = (
        1.0
        if confidence is None
        else float(scipy.stats.norm.ppf(0.5 + _probability(confidence, "confidence", caller) / 2))
    )
    if isinstance(values_or_da, xr.Dataset):
        raise TypeError(
            _message(
                "values_or_da",
                caller,
                "an array or DataArray of draws (pick a variable: ds['npv'])",
                "a Dataset",
            )
        )
    weights: np.ndarray | None = None
    if isinstance(values_or_da, xr.DataArray):
        _check_dim(values_or_da, "draw", caller)
        weights = _weights_of(values_or_da)
        draws = _finite_draws(values_or_da, "draw", caller, parameter="values_or_da", weighted=True)
    else:
        draws = np.asarray(values_or_da, dtype=float)
        if draws.ndim == 0:
            raise ValueError(_message("values_or_da", caller, "an array of pilot draws", values_or_da))
        bad = draws.size - int(np.isfinite(draws).sum())
        if bad:
            raise ValueError(
                f"The 'values_or_da' parameter of {caller} must hold finite values. "
                f"Got {bad} NaN or infinite values instead."
            )
    n = draws.shape[-1]
    if n < 2:
        raise ValueError(_message("values_or_da", caller, "at least 2 pilot draws", n))
    if weights is None:
        effective, inefficiency = n, 1.0
        if statistic == "mean":
            spread = draws.std(axis=-1, ddof=1)
        else:
            p = (draws >= threshold).mean(axis=-1)
    else:
        effective = _effective_draws(weights)
        if effective < 2:
            raise ValueError(
                _message("values_or_da", caller, "a pilot of at least 2 effective draws", effective)
            )
        inefficiency = n / effective
        if statistic == "mean":
            centred = draws - (draws @ weights)[..., None]
            spread = np.sqrt(((centred * centred) @ weights) / (1.0 - float(np.sum(weights * weights))))
        else:
            p = np.clip((draws >= threshold) @ weights, 0.0, 1.0)
            p = np.where(p > 1.0 - 1e-12, 1.0, p)  # all the weight, to the rounding of its sum
    if statistic == "probability":
        unseen = 1.0 - 0.05 ** (1.0 / effective)
        p = np.where(p == 0, unseen, np.where(p == 1, 1.0 - unseen, p))
        spread = np.sqrt(p * (1.0 - p))
    return max(1, int(np.ceil(np.max((z * spread / precision) ** 2) * inefficiency)))
