"""Sensitivity analysis: which uncertain inputs drive an output, read from an existing run.

Every function here works on the Dataset returned by :func:`nhsrisk.simulate`
and never re-runs the model. The sampled inputs are the variables flagged with
``attrs["sampled_input"] == 1``; a per-year input such as
``"risks.raid_fraction"`` counts as one input per year
(``"risks.raid_fraction[2025/26]"``), and the yearly budget-raid indicator
``raid`` joins them as ``"risks.raid_event[2025/26]"`` and so on.

Measures
--------
rank_correlation
    Spearman rank correlation of each input with the output: the monotone
    association seen when all other inputs vary too.
prcc
    Partial rank correlation coefficient (Iman & Conover 1980): the same after
    removing the linear effect of the ranks of all other inputs, so an input
    is not credited with the influence of others.

Both return a Dataset along a dimension ``input``, sorted by the absolute
coefficient (largest first), with a t-test p-value and a Fisher-z confidence
interval. The user guide is ``docs/sensitivity.md``.

Both read updated results (:func:`nhsrisk.update`) with their importance
weights (the ``weight`` coordinate on ``draw``): ranks become weighted
mid-ranks, correlations and regressions weighted, and Kish's effective sample
size replaces the number of draws in the p-value and the interval.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import xarray as xr

from nhsrisk._validate import WEIGHT, _described, _message, draw_weights, same_weights
from nhsrisk.stats import _effective_draws, _probability, effective_sample_size

__all__ = ["prcc", "rank_correlation"]

#: Label prefix of the yearly budget-raid indicator (the ``raid`` output) when used as an input.
RAID_EVENT = "risks.raid_event"

#: Draws per block when summing rank cross-products: bounds the float64 copy to a few tens of MB.
_BLOCK = 1 << 15

#: A rank correlation matrix whose smallest eigenvalue is below this share of its largest is treated
#: as singular: its inverse would have lost about ten significant digits.
_SINGULAR = 1e-10

#: An input takes part in a (near-)linear dependence when its weight in a null-space eigenvector exceeds
#: this; the weights of uninvolved inputs are of the order of rounding error.
_NULL_WEIGHT = 1e-6


@dataclass(frozen=True)
class _Input:
    label: str
    base: str
    long_name: str
    units: str
    values: np.ndarray


@dataclass(frozen=True)
class _Output:
    name: str
    year: str
    long_name: str
    units: str
    values: np.ndarray


@dataclass(frozen=True)
class _Prepared:
    inputs: list[_Input]
    output: _Output
    constant_inputs: list[str]
    confidence: float
    # (k + 1, n), the output last: doubled centred ranks (int) or, weighted, sqrt(w) times the
    # weighted mid-ranks centred at their weighted mean (float), so plain cross-products are weighted.
    ranks: np.ndarray
    weights: np.ndarray | None  # normalised importance weights, or None
    sample_size: int  # n, or Kish's effective sample size (rounded down) when weighted


def rank_correlation(
    ds: xr.Dataset,
    output: str | xr.DataArray = "npv",
    *,
    inputs: str | Sequence[str] | None = None,
    year: str | None = None,
    confidence: float = 0.95,
) -> xr.Dataset:
    r"""Spearman rank correlation of each sampled input with an output, from an existing run.

    The coefficient is the Pearson correlation of the average ranks of the
    input and of the output over the draws. It measures monotone association
    while every other input varies as sampled: a large value can be borrowed
    from an input correlated with this one (use :func:`prcc` to remove that).
    Results updated by :func:`nhsrisk.update` are read with their importance
    weights (see Notes), so the coefficient describes the updated
    distribution.

    Parameters
    ----------
    ds : xarray.Dataset
        Result of :func:`nhsrisk.simulate`, or of :func:`nhsrisk.update`
        (a ``weight`` coordinate on ``draw``: finite, non-negative, not all 0).
    output : str or xarray.DataArray, default="npv"
        Name of a variable of ``ds`` or a DataArray with a ``draw`` dimension
        of the same draws, in any units (ranks make the result unit-free).
        After selecting ``year`` it must have no dimension but ``draw``: reduce
        the others yourself, e.g. ``ds["value"].sum("programme")``.
    inputs : str or sequence of str, optional
        Inputs to keep: base names (``"risks.raid_fraction"`` selects every
        year) or year-labelled ones (``"risks.raid_fraction[2025/26]"``,
        ``"risks.raid_event[2026/27]"``). Default: every sampled input and the
        yearly raid indicators.
    year : str, optional
        Year label (e.g. ``"2027/28"``) at which to read an output with a
        ``year`` dimension. Default: ``ds.attrs["target_year"]``. Not allowed
        for an output without a ``year`` dimension.
    confidence : float, default=0.95
        Level of the confidence interval, in (0, 1).

    Returns
    -------
    xarray.Dataset
        Along dimension ``input`` (labels, sorted by ``|spearman|``, largest
        first), with coordinates ``long_name`` and ``units`` of each input:

        - ``spearman``: the coefficient, in [-1, 1] (unit-free).
        - ``p_value``: two-sided p-value of the t test of zero correlation,
          ``t = r sqrt((n - 2) / (1 - r^2))`` with ``n - 2`` degrees of freedom
          (as :func:`scipy.stats.spearmanr`).
        - ``conf_low``, ``conf_high``: Fisher-z interval
          ``tanh(atanh(r) -/+ z sqrt((1 + r^2 / 2) / (n - 3)))`` with the
          Bonett & Wright (2000) variance for rank correlations.

        Weighted, ``n`` in both is Kish's effective sample size rounded down.
        Attrs: ``method`` (``"spearman"``), ``output``, ``output_long_name``,
        ``output_units``, ``year`` (``""`` when the output has no year
        dimension), ``n_draws``, ``n_inputs``, ``confidence``,
        ``constant_inputs`` (inputs dropped because they did not vary in this
        run, or, weighted, among the draws of positive weight), ``interval``
        and ``controls``; weighted, also ``effective_sample_size`` (Kish's
        ``1 / sum(w**2)``, unrounded) and ``weights`` (the method, in words).

    Raises
    ------
    TypeError
        If ``ds`` is not a Dataset, or ``output``, ``inputs`` or ``year`` has
        the wrong type.
    ValueError
        If a name or year is unknown (the message lists the valid ones), the
        output keeps a dimension other than ``draw``, any value is NaN or
        infinite, the output or every input is constant, there are fewer
        than 5 draws (effective draws, when weighted), or the weights are
        malformed (not on ``draw`` alone, negative, not finite, all 0) or an
        ``output`` DataArray carries weights other than those of ``ds``.

    See Also
    --------
    prcc : Partial rank correlation, controlling for the other inputs.

    Notes
    -----
    Binary inputs (``programmes.<id>.black_swan``, the raid indicators) and
    discrete ones (``programmes.<id>.support_years``) have tied values; ties
    get the average of the ranks they span, as in :func:`scipy.stats.rankdata`.

    With importance weights ``w`` (normalised to sum to 1), each draw's rank is
    its weighted mid-rank: the weight of the draws below it plus half the
    weight of its tie group, i.e. the middle of its step of the weighted
    empirical CDF. The coefficient is the weighted Pearson correlation of
    these ranks. This is the weighted Spearman correlation of the survey
    statistics package wCorr (Bailey, Emad, Zhang & Xie, "wCorr Formulas",
    vignette of the R package wCorr), whose weighted ranks differ from these
    by a constant that the correlation ignores. The t test and the interval
    take Kish's (1965) effective sample size ``n_eff = 1 / sum(w**2)`` for
    ``n``: an approximation for importance weights (Kong 1992), good while
    ``n_eff`` is large, not an exact sampling theory. Equal weights give the
    unweighted results to rounding (about 1e-12). Whole-number weights give
    the coefficient of each draw repeated that many times (the mid-rank of a
    repeated draw is its weighted mid-rank, up to a constant), but not that
    run's p-value or interval, since repeated draws are not independent.
    Draws of weight 0 take no part.

    Examples
    --------
    >>> import nhsrisk
    >>> ds = nhsrisk.simulate(draws=2_000, seed=1)
    >>> result = rank_correlation(ds, "npv")
    >>> result["spearman"].dims
    ('input',)
    >>> delay = result["spearman"].sel(input="programmes.it_modernisation.delivery_delay")
    >>> float(delay) < 0  # delay cuts NPV
    True
    >>> bool(result["conf_low"][0] < result["spearman"][0] < result["conf_high"][0])
    True

    Updated results are read with their weights:

    >>> seen = nhsrisk.Observation("npv", value=float(ds["npv"].quantile(0.8)), sd=float(ds["npv"].std()) / 2)
    >>> updated = rank_correlation(nhsrisk.update(ds, seen), "npv")
    >>> 100 < updated.attrs["effective_sample_size"] < updated.attrs["n_draws"]
    True
    """
    prepared = _prepare(ds, output, inputs, year, confidence, "rank_correlation", partial=False)
    cross, squares = _rank_cross_products(prepared.ranks)
    coefficients = np.clip(cross[:-1] / np.sqrt(squares[:-1] * squares[-1]), -1.0, 1.0)
    return _result(prepared, coefficients, method="spearman", controls=0)


def prcc(
    ds: xr.Dataset,
    output: str | xr.DataArray = "npv",
    *,
    inputs: str | Sequence[str] | None = None,
    year: str | None = None,
    confidence: float = 0.95,
) -> xr.Dataset:
    r"""Partial rank correlation coefficient (PRCC) of each sampled input with an output.

    For input ``i``, the PRCC is the correlation of the residuals of
    ``rank(x_i)`` and ``rank(y)`` after linear regression on the ranks of all
    the other selected inputs (Iman & Conover 1980). It measures the monotone
    effect of ``x_i`` on ``y`` with the others held fixed, so correlated or
    dominant inputs do not lend it their influence. All coefficients come from
    one inverse: with ``P`` the inverse of the rank correlation matrix of
    ``[inputs, output]``, ``prcc_i = -P[i, y] / sqrt(P[i, i] P[y, y])``.
    Results updated by :func:`nhsrisk.update` are read with their importance
    weights (see Notes).

    Parameters
    ----------
    ds : xarray.Dataset
        Result of :func:`nhsrisk.simulate`, or of :func:`nhsrisk.update`
        (a ``weight`` coordinate on ``draw``: finite, non-negative, not all 0).
    output : str or xarray.DataArray, default="npv"
        Name of a variable of ``ds`` or a DataArray with a ``draw`` dimension
        of the same draws, in any units (ranks make the result unit-free).
        After selecting ``year`` it must have no dimension but ``draw``: reduce
        the others yourself, e.g. ``ds["value"].sum("programme")``.
    inputs : str or sequence of str, optional
        Inputs to keep: base names (``"risks.raid_fraction"`` selects every
        year) or year-labelled ones (``"risks.raid_fraction[2025/26]"``,
        ``"risks.raid_event[2026/27]"``). Default: every sampled input and the
        yearly raid indicators. The coefficients control for the selected
        inputs only.
    year : str, optional
        Year label (e.g. ``"2027/28"``) at which to read an output with a
        ``year`` dimension. Default: ``ds.attrs["target_year"]``. Not allowed
        for an output without a ``year`` dimension.
    confidence : float, default=0.95
        Level of the confidence interval, in (0, 1).

    Returns
    -------
    xarray.Dataset
        Along dimension ``input`` (labels, sorted by ``|prcc|``, largest
        first), with coordinates ``long_name`` and ``units`` of each input:

        - ``prcc``: the coefficient, in [-1, 1] (unit-free).
        - ``p_value``: two-sided p-value of the t test of zero partial
          correlation, ``t = r sqrt(df / (1 - r^2))`` with
          ``df = n - 2 - (k - 1)`` for ``k`` inputs (Marino et al. 2008).
        - ``conf_low``, ``conf_high``: Fisher-z interval
          ``tanh(atanh(r) -/+ z sqrt((1 + r^2 / 2) / (n - 3 - (k - 1))))``:
          the Bonett & Wright (2000) variance for rank correlations, with the
          ``k - 1`` controlled inputs taken off the sample size as for a
          partial correlation (Fisher 1924).

        Weighted, ``n`` in both is Kish's effective sample size rounded down.
        Attrs: ``method`` (``"prcc"``), ``output``, ``output_long_name``,
        ``output_units``, ``year`` (``""`` when the output has no year
        dimension), ``n_draws``, ``n_inputs``, ``confidence``,
        ``constant_inputs`` (inputs dropped because they did not vary in this
        run, or, weighted, among the draws of positive weight), ``interval``
        and ``controls``; weighted, also ``effective_sample_size`` and
        ``weights``, as for :func:`rank_correlation`.

    Raises
    ------
    TypeError
        If ``ds`` is not a Dataset, or ``output``, ``inputs`` or ``year`` has
        the wrong type.
    ValueError
        If a name or year is unknown (the message lists the valid ones), the
        output keeps a dimension other than ``draw``, any value is NaN or
        infinite, the output or every input is constant, the ranks of some
        inputs (or of inputs and the output) are perfectly collinear (the
        message names them), there are no more than ``k + 3`` draws
        (effective draws, when weighted) for ``k`` inputs, or the weights are
        malformed or differ between ``ds`` and an ``output`` DataArray.

    See Also
    --------
    rank_correlation : Spearman rank correlation, without controls.

    Notes
    -----
    Ties (binary and discrete inputs, such as the raid indicators) get
    average ranks. The ranks are computed once and the cost after that is one
    ``(k + 1) x (k + 1)`` matrix, so 100 inputs over a million draws take
    seconds.

    With importance weights the ranks are the weighted mid-ranks of
    :func:`rank_correlation` and the rank correlation matrix is their
    weighted Pearson correlation matrix, so each coefficient is the weighted
    correlation of the residuals of weighted least-squares regressions of the
    ranks on the other inputs' ranks (the identity between the inverse of a
    correlation matrix and residual correlations holds for any inner product).
    The p-value and interval use Kish's effective sample size for ``n``, as
    for :func:`rank_correlation` and with the same caveat. Equal weights give
    the unweighted results to rounding; the weighted ranks are held as
    float64 rather than int32, so memory doubles.

    Examples
    --------
    >>> import nhsrisk
    >>> ds = nhsrisk.simulate(draws=2_000, seed=1)
    >>> result = prcc(ds, "cumulative_value", year="2029/30")
    >>> result.attrs["year"], result.attrs["method"]
    ('2029/30', 'prcc')
    >>> float(abs(result["prcc"][0])) >= float(abs(result["prcc"][-1]))
    True
    """
    prepared = _prepare(ds, output, inputs, year, confidence, "prcc", partial=True)
    correlation = _rank_correlation_matrix(prepared.ranks)
    _check_not_collinear(correlation, [*(i.label for i in prepared.inputs), prepared.output.name], "prcc")
    precision = np.linalg.inv(correlation)
    diagonal = np.diagonal(precision)
    coefficients = np.clip(-precision[:-1, -1] / np.sqrt(diagonal[:-1] * diagonal[-1]), -1.0, 1.0)
    return _result(prepared, coefficients, method="prcc", controls=len(prepared.inputs) - 1)


def _prepare(
    ds: Any,
    output: Any,
    inputs: Any,
    year: Any,
    confidence: Any,
    caller: str,
    *,
    partial: bool,
) -> _Prepared:
    """Check every argument, resolve the output and inputs, then rank them (the heavy step, done last)."""
    if not isinstance(ds, xr.Dataset) or "draw" not in ds.dims:
        raise TypeError(
            _described("ds", caller, "an xarray.Dataset with a 'draw' dimension", f"a {type(ds).__name__}")
        )
    confidence = _probability(confidence, "confidence", caller)
    resolved_output = _resolve_output(ds, output, year, caller)
    candidates = _candidate_inputs(ds)
    selected = _select_inputs(candidates, inputs, caller)
    if any(entry.base == resolved_output.name or entry.label == resolved_output.name for entry in selected):
        raise ValueError(
            _message("output", caller, "a model output, not one of the sampled inputs", resolved_output.name)
        )

    weights = draw_weights(ds, "draw", "ds", caller)
    if isinstance(output, xr.DataArray):
        same_weights(weights, draw_weights(output, "draw", "output", caller), "output", "ds", caller)

    n = resolved_output.values.size
    # The t test has n - 2 - (k - 1) degrees of freedom and the interval divides by n - 3 - (k - 1);
    # n > k + 3 keeps both at 2 or more. Spearman is the case k = 1: 5 draws. Weighted, n is Kish's
    # effective sample size.
    size = n if weights is None else _effective_draws(weights)
    few = (
        f"{n} draws are" if weights is None else f"the weights leave {size} effective draws (Kish), which is"
    )
    if size < 5:
        raise ValueError(f"{caller}: {few} too few for a rank correlation; at least 5 are needed.")
    # Weighted, a variable that varies only among draws of weight 0 is constant for every weighted statistic.
    carried = slice(None) if weights is None else weights > 0
    if weights is not None:
        kept = resolved_output.values[carried]
        if kept.min() == kept.max():
            raise ValueError(
                _described(
                    "output",
                    caller,
                    "varying across the draws that carry weight",
                    f"{resolved_output.name!r}, constant at {kept[0]!r} wherever the weight is positive",
                )
            )

    varying: list[_Input] = []
    constant: list[str] = []
    for entry in selected:
        finite = np.isfinite(entry.values)
        if not finite.all():
            raise ValueError(
                f"The 'ds' parameter of {caller} must hold finite sampled inputs. Got NaN or infinity in "
                f"{entry.label!r} ({int((~finite).sum())} of {n} draws) instead."
            )
        kept = entry.values[carried]
        if kept.min() == kept.max():
            constant.append(entry.label)
        else:
            varying.append(entry)
    if not varying:
        raise ValueError(
            f"{caller}: every selected input is constant in this run ({', '.join(constant)}), "
            "so there is nothing to correlate with the output."
        )
    k = len(varying)
    if partial and size <= k + 3:
        raise ValueError(
            f"{caller}: {few} too few for {k} inputs; at least {k + 4} are needed (more than k + 3), "
            "or select fewer inputs with the 'inputs' parameter."
        )

    if weights is not None:
        weighted_ranks = np.empty((k + 1, n), dtype=np.float64)
        scale = np.sqrt(weights)
        for row, entry in enumerate(varying):
            _weighted_centred_ranks(entry.values, weights, scale, out=weighted_ranks[row])
        _weighted_centred_ranks(resolved_output.values, weights, scale, out=weighted_ranks[k])
        return _Prepared(varying, resolved_output, constant, confidence, weighted_ranks, weights, size)
    dtype = np.int32 if n < 2**31 else np.int64
    ranks = np.empty((k + 1, n), dtype=dtype)
    for row, entry in enumerate(varying):
        _doubled_centred_ranks(entry.values, out=ranks[row])
    _doubled_centred_ranks(resolved_output.values, out=ranks[k])
    return _Prepared(varying, resolved_output, constant, confidence, ranks, None, n)


def _resolve_output(ds: xr.Dataset, output: Any, year: Any, caller: str) -> _Output:
    """Return the output's draws as a finite, varying float vector, after the year selection."""
    if isinstance(output, str):
        choices = [name for name, variable in ds.data_vars.items() if "draw" in variable.dims]
        if output not in choices:
            outputs = [name for name in choices if ds[name].attrs.get("sampled_input") != 1]
            raise ValueError(
                _message(
                    "output", caller, f"a variable of ds with a 'draw' dimension, such as {outputs}", output
                )
            )
        array = ds[output]
        name = output
    elif isinstance(output, xr.DataArray):
        if "draw" not in output.dims:
            raise ValueError(
                _described("output", caller, "a DataArray with a 'draw' dimension", f"dims {output.dims}")
            )
        array = output
        name = str(output.name) if output.name is not None else "output"
        if output.attrs.get("sampled_input") == 1:
            raise ValueError(
                _message("output", caller, "a model output, not one of the sampled inputs", name)
            )
    else:
        raise TypeError(
            _described(
                "output", caller, "a variable name (str) or an xarray.DataArray", f"a {type(output).__name__}"
            )
        )

    if year is not None and not isinstance(year, str):
        raise TypeError(_message("year", caller, "a year label (str) such as '2027/28', or None", year))
    selected_year = ""
    if "year" in array.dims:
        if year is None:
            year = ds.attrs.get("target_year")
            if year is None:
                raise ValueError(
                    _message(
                        "year",
                        caller,
                        f"given: {name!r} has a 'year' dimension and ds has no target_year",
                        None,
                    )
                )
        years = [str(label) for label in array["year"].values] if "year" in array.coords else []
        if year not in years:
            raise ValueError(_message("year", caller, f"one of {years}", year))
        array = array.isel(year=years.index(year))
        selected_year = year
    elif year is not None:
        raise ValueError(
            _message("year", caller, f"None because the output {name!r} has no 'year' dimension", year)
        )

    if array.dims != ("draw",):
        others = [dim for dim in array.dims if dim != "draw"]
        raise ValueError(
            _described(
                "output",
                caller,
                f"reducible to one value per draw; reduce {others} first, e.g. "
                f"ds[{name!r}].sum({others[0]!r}) or .sel({others[0]}=...)",
                f"{name!r} with dims {array.dims}",
            )
        )
    if array.sizes["draw"] != ds.sizes["draw"] or (
        "draw" in array.coords
        and "draw" in ds.coords
        and not np.array_equal(array["draw"].values, ds["draw"].values)
    ):
        raise ValueError(
            _described("output", caller, "defined on the draws of ds", f"{name!r} on other draws")
        )

    values = np.asarray(array.values, dtype=float)
    finite = np.isfinite(values)
    if not finite.all():
        raise ValueError(
            _described(
                "output",
                caller,
                "finite in every draw",
                f"NaN or infinity in {name!r} ({int((~finite).sum())} of {values.size} draws)",
            )
        )
    if values.size and values.min() == values.max():
        raise ValueError(
            _described("output", caller, "varying across draws", f"{name!r}, constant at {values[0]!r}")
        )
    return _Output(
        name=name,
        year=selected_year,
        long_name=str(array.attrs.get("long_name", name)),
        units=str(array.attrs.get("units", "")),
        values=values,
    )


def _candidate_inputs(ds: xr.Dataset) -> list[_Input]:
    """Every sampled input, one entry per year for per-year ones, then the yearly raid indicators."""
    sources = [
        (str(name), str(name), variable)  # str(): xarray types names Hashable; simulate's are str
        for name, variable in ds.data_vars.items()
        if variable.attrs.get("sampled_input") == 1
    ]
    if "raid" in ds.data_vars and "draw" in ds["raid"].dims:
        sources.append(("raid", RAID_EVENT, ds["raid"]))
    candidates: list[_Input] = []
    for variable_name, base, variable in sources:
        variable = variable.transpose(..., "draw")
        long_name = str(variable.attrs.get("long_name", variable_name))
        units = str(variable.attrs.get("units", ""))
        if variable_name == "raid":
            long_name = f"{long_name} (indicator: 1 = raid, 0 = none)"
        values = np.asarray(variable.values)
        if values.dtype == bool:
            values = values.astype(np.float64)
        extra_dims = variable.dims[:-1]
        for index in np.ndindex(*values.shape[:-1]):
            labels = [
                str(variable[dim].values[position]) if dim in variable.coords else str(position)
                for dim, position in zip(extra_dims, index, strict=True)
            ]
            label = f"{base}[{', '.join(labels)}]" if labels else base
            candidates.append(_Input(label, base, long_name, units, values[index]))
    return candidates


def _select_inputs(candidates: list[_Input], inputs: Any, caller: str) -> list[_Input]:
    """Keep the candidates named by base name or label, in dataset order."""
    if inputs is None:
        return candidates
    names = [inputs] if isinstance(inputs, str) else list(inputs) if isinstance(inputs, Iterable) else None
    if names is None or not all(isinstance(name, str) for name in names):
        raise TypeError(_message("inputs", caller, "a list of input names (str) or None", inputs))
    if not names:
        raise ValueError(_message("inputs", caller, "a non-empty list of input names, or None", inputs))
    bases = list(dict.fromkeys(entry.base for entry in candidates))
    known = set(bases) | {entry.label for entry in candidates}
    unknown = [name for name in names if name not in known]
    if unknown:
        per_year = sorted({entry.base for entry in candidates if entry.label != entry.base})
        raise ValueError(
            _message(
                "inputs",
                caller,
                f"names of sampled inputs of ds: one of {bases}; per-year ones ({per_year}) may also be "
                "given for one year, as in 'risks.raid_fraction[2025/26]'",
                unknown,
            )
        )
    wanted = set(names)
    return [entry for entry in candidates if entry.base in wanted or entry.label in wanted]


def _doubled_centred_ranks(values: np.ndarray, *, out: np.ndarray) -> None:
    """Write ``2 * rank - (n + 1)`` of each value into ``out``, ties getting their average rank.

    Average ranks are half-integers, so doubling makes them exact integers, and
    centring them (their mean is exactly ``(n + 1) / 2``) means the rank
    correlations need only cross-products. Equals
    ``2 * scipy.stats.rankdata(values) - (n + 1)``, in a fraction of its time.
    """
    n = values.size
    order = np.argsort(values)
    ordered = values[order]
    starts_tie_group = np.empty(n, dtype=bool)
    starts_tie_group[0] = True
    np.not_equal(ordered[1:], ordered[:-1], out=starts_tie_group[1:])
    if starts_tie_group.all():
        # The value at sorted position i (from 0) has rank i + 1: doubled and centred, 2i + 1 - n.
        out[order] = np.arange(1 - n, n, 2)
        return
    first = np.flatnonzero(starts_tie_group)
    last = np.append(first[1:], n) - 1
    # The mean of 2i + 1 - n over positions first..last of a tie group is first + last + 1 - n.
    out[order] = (first + last + 1 - n)[np.cumsum(starts_tie_group) - 1]


def _weighted_centred_ranks(
    values: np.ndarray, weights: np.ndarray, scale: np.ndarray, *, out: np.ndarray
) -> None:
    """Write ``scale * (R - sum(w R))`` into ``out``, ``R`` the weighted mid-ranks of ``values``.

    The weighted mid-rank of a draw is the weight of the draws below it plus
    half the weight of its tie group (the draws equal to it, itself included):
    the middle of its step of the weighted empirical CDF, in (0, 1). With
    equal weights ``1 / n`` it is ``(rank - 1/2) / n`` for the average rank,
    an affine map that leaves correlations unchanged. ``scale`` is
    ``sqrt(weights)``, so that plain cross-products of two rows are weighted
    covariances.
    """
    order = np.argsort(values, kind="stable")
    ordered = values[order]
    starts_tie_group = np.empty(values.size, dtype=bool)
    starts_tie_group[0] = True
    np.not_equal(ordered[1:], ordered[:-1], out=starts_tie_group[1:])
    group = np.cumsum(starts_tie_group) - 1
    group_weight = np.bincount(group, weights=weights[order])
    below = np.cumsum(group_weight) - group_weight
    ranks = np.empty(values.size)
    ranks[order] = (below + group_weight / 2.0)[group]
    # The weighted mean of the mid-ranks is 1/2 exactly in theory; subtracting the computed one
    # removes the rounding of the running sums too.
    ranks -= ranks @ weights
    np.multiply(ranks, scale, out=out)


def _rank_cross_products(ranks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return the cross-products of every row with the last (the output) and each row's sum of squares."""
    cross = np.zeros(ranks.shape[0])
    squares = np.zeros(ranks.shape[0])
    for start in range(0, ranks.shape[1], _BLOCK):
        block = ranks[:, start : start + _BLOCK].astype(np.float64)
        cross += block @ block[-1]
        squares += np.einsum("ij,ij->i", block, block)
    return cross, squares


def _rank_correlation_matrix(ranks: np.ndarray) -> np.ndarray:
    """Return the Pearson correlation matrix of the rows of centred ranks."""
    gram = np.zeros((ranks.shape[0], ranks.shape[0]))
    for start in range(0, ranks.shape[1], _BLOCK):
        block = ranks[:, start : start + _BLOCK].astype(np.float64)
        gram += block @ block.T
    scale = np.sqrt(np.diagonal(gram))
    correlation = gram / np.outer(scale, scale)
    np.fill_diagonal(correlation, 1.0)
    return correlation


def _check_not_collinear(correlation: np.ndarray, labels: list[str], caller: str) -> None:
    """Refuse a (numerically) singular rank correlation matrix, naming the variables involved."""
    eigenvalues, eigenvectors = np.linalg.eigh(correlation)
    null = eigenvalues <= _SINGULAR * eigenvalues[-1]
    if not null.any():
        return
    involved = np.flatnonzero(np.abs(eigenvectors[:, null]).max(axis=1) > _NULL_WEIGHT)
    names = [labels[i] + (" (the output)" if i == len(labels) - 1 else "") for i in involved]
    raise ValueError(
        _described(
            "inputs",
            caller,
            "inputs whose ranks are not linearly dependent on each other or on the output (drop one of "
            "each dependent set with the 'inputs' parameter)",
            f"perfectly collinear ranks in {names}",
        )
    )


def _result(prepared: _Prepared, coefficients: np.ndarray, *, method: str, controls: int) -> xr.Dataset:
    """Attach the t-test p-values and Fisher-z intervals and sort by absolute coefficient."""
    import scipy.stats

    n = prepared.sample_size  # Kish's effective sample size when weighted
    degrees_of_freedom = n - 2 - controls
    squared = coefficients**2
    # |r| = 1 (an input whose ranks are the output's) gives t = inf, p = 0 and the interval [r, r].
    with np.errstate(divide="ignore"):
        t = coefficients * np.sqrt(degrees_of_freedom / ((1.0 + coefficients) * (1.0 - coefficients)))
        centre = np.arctanh(coefficients)
    p_value = 2.0 * scipy.stats.t.sf(np.abs(t), degrees_of_freedom)
    critical = scipy.stats.norm.ppf(0.5 + prepared.confidence / 2.0)
    half_width = critical * np.sqrt((1.0 + squared / 2.0) / (n - 3 - controls))
    conf_low = np.tanh(centre - half_width)
    conf_high = np.tanh(centre + half_width)

    order = np.argsort(-np.abs(coefficients), kind="stable")
    entries = [prepared.inputs[i] for i in order]
    output = prepared.output
    about = f"{output.long_name}" + (f" in {output.year}" if output.year else "")
    level = f"{prepared.confidence:.4g}"
    title = "Spearman rank correlation" if method == "spearman" else "Partial rank correlation (PRCC)"
    data_vars = {
        method: ("input", coefficients[order], {"long_name": f"{title} with {about}", "units": "1"}),
        "p_value": (
            "input",
            p_value[order],
            {
                "long_name": f"Two-sided p-value, t test with {degrees_of_freedom} degrees of freedom",
                "units": "1",
            },
        ),
        "conf_low": (
            "input",
            conf_low[order],
            {"long_name": f"Lower bound of the {level} interval", "units": "1"},
        ),
        "conf_high": (
            "input",
            conf_high[order],
            {"long_name": f"Upper bound of the {level} interval", "units": "1"},
        ),
    }
    coords = {
        "input": ("input", [entry.label for entry in entries], {"long_name": "Sampled input"}),
        "long_name": ("input", [entry.long_name for entry in entries], {"long_name": "Input (description)"}),
        "units": ("input", [entry.units for entry in entries], {"long_name": "Units of the input"}),
    }
    attrs = {
        "method": method,
        "output": output.name,
        "output_long_name": output.long_name,
        "output_units": output.units,
        "year": output.year,
        "n_draws": prepared.output.values.size,
        "n_inputs": len(entries),
        "confidence": prepared.confidence,
        "constant_inputs": list(prepared.constant_inputs),
        "interval": "Fisher z with the Bonett & Wright (2000) variance (1 + r^2/2) / (n - 3 - controls)",
        "controls": controls,
    }
    if prepared.weights is not None:
        attrs["effective_sample_size"] = effective_sample_size(prepared.weights)
        attrs["weights"] = (
            f"importance weights (the {WEIGHT!r} coordinate): weighted mid-ranks and weighted Pearson "
            f"correlations; the t test and the interval use n = {n}, Kish's effective sample size "
            "rounded down"
        )
    return xr.Dataset(data_vars, coords=coords, attrs=attrs)
