"""Value of information: EVPI and EVPPI of a decision between options, on xarray.

The input is the per-draw net benefit (GBP) of each decision option, for
example "fund as planned", "ring-fence the budget" and "add a
digital-inclusion programme", computed with common random numbers (draw ``i``
is the same state of the world for every option). The expected value of
perfect information (EVPI) is what removing all uncertainty before choosing
would be worth; the expected value of partial perfect information (EVPPI) is
what learning only some parameters would be worth. EVPPI is estimated by the
regression method of Strong, Oakley & Brennan (2014) or, for one parameter, by
the binning method of Strong & Oakley (2013). ``docs/voi.md`` explains the
formulas, the defaults and the known biases.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import xarray as xr

from nhsrisk._validate import _described, _message, check_count, draw_weights, same_weights
from nhsrisk.stats import _effective_draws, effective_sample_size

__all__ = ["evpi", "evppi"]

_METHODS = ("spline", "binning")
# A parameter with this many distinct values or fewer is treated as discrete
# (indicator terms, or one bin per value): conditional means per value are
# then exact, where a spline through a handful of values would be degenerate.
_DISCRETE_MAX_LEVELS = 10
# Rule of thumb against overfitting: the upward bias of the estimator grows
# with the number of coefficients per draw.
_DRAWS_PER_COEFFICIENT = 10
_MIN_KNOTS = 3
_MAX_KNOTS_MAIN = 10  # as mgcv's default basis size for one smooth
_MAX_KNOTS_PAIR = 5  # per margin, as mgcv's te(): a 5 x 5 = 25-coefficient surface
# Knots sit at equally spaced quantiles of the parameter between these levels;
# beyond them the natural spline is linear (Harrell's restricted cubic spline).
_KNOT_QUANTILE_RANGE = (0.025, 0.975)

ParameterInput = xr.DataArray | xr.Dataset | Mapping[Any, xr.DataArray] | Sequence[xr.DataArray]


# ----------------------------------------------------------------------------- validation


def _check_dim_name(value: Any, name: str, caller: str) -> str:
    if not isinstance(value, str) or not value:
        raise TypeError(_message(name, caller, "a non-empty str naming a dimension", value))
    return value


def _net_benefit_values(
    net_benefit: Any, option_dim: Any, draw_dim: Any, caller: str
) -> tuple[np.ndarray, xr.DataArray, xr.DataArray]:
    """Return net benefit as float64 ``(slices, options, draws)`` and templates for the outputs.

    The templates carry the coordinates of the other dimensions: one with dims
    ``(*other,)`` and one with ``(*other, option)``.
    """
    if not isinstance(net_benefit, xr.DataArray):
        raise TypeError(
            _described(
                "net_benefit",
                caller,
                "an xarray.DataArray",
                f"an object of type {type(net_benefit).__name__}",
            )
        )
    option_dim = _check_dim_name(option_dim, "option_dim", caller)
    draw_dim = _check_dim_name(draw_dim, "draw_dim", caller)
    if option_dim == draw_dim:
        raise ValueError(_message("draw_dim", caller, f"different from option_dim {option_dim!r}", draw_dim))
    dims = tuple(net_benefit.dims)
    for name, dim in (("option_dim", option_dim), ("draw_dim", draw_dim)):
        if dim not in dims:
            raise ValueError(_message(name, caller, f"a dimension of net_benefit (one of {dims})", dim))
    if not (np.issubdtype(net_benefit.dtype, np.number) or net_benefit.dtype == bool):
        raise TypeError(_described("net_benefit", caller, "numeric", f"dtype {net_benefit.dtype}"))
    options = net_benefit.sizes[option_dim]
    if options < 2:
        # With one option there is no decision, so nothing to learn: EVPI is 0 by definition.
        raise ValueError(
            _described("net_benefit", caller, f"at least 2 options along {option_dim!r}", f"{options} option")
        )
    draws = net_benefit.sizes[draw_dim]
    if draws < 2:
        raise ValueError(
            _described("net_benefit", caller, f"at least 2 draws along {draw_dim!r}", f"{draws} draw")
        )
    other = [dim for dim in dims if dim not in (option_dim, draw_dim)]
    ordered = net_benefit.transpose(*other, option_dim, draw_dim)
    values = np.asarray(ordered.values, dtype=np.float64)
    finite = np.isfinite(values)
    if not finite.all():
        bad = (~finite).reshape(-1, options, draws).sum(axis=(0, 2))
        labels = _option_labels(ordered, option_dim)
        where = ", ".join(f"{int(count)} in option {labels[i]!r}" for i, count in enumerate(bad) if count)
        raise ValueError(
            _described("net_benefit", caller, "finite (no NaN or infinity)", f"non-finite values: {where}")
        )
    per_option = ordered.isel({draw_dim: 0}, drop=True)
    per_slice = per_option.isel({option_dim: 0}, drop=True)
    return values.reshape(-1, options, draws), per_slice, per_option


def _output(template: xr.DataArray, data: np.ndarray, long_name: str, units: str) -> xr.DataArray:
    """Wrap ``data`` (slices first, options last) in the dims and coordinates of ``template``."""
    wrapped = template.copy(data=data.reshape(template.shape))
    wrapped.attrs = {"long_name": long_name, "units": units}
    wrapped.name = None
    return wrapped


def _option_labels(net_benefit: xr.DataArray, option_dim: str) -> list[Any]:
    if option_dim in net_benefit.coords:
        return net_benefit.coords[option_dim].values.tolist()
    return list(range(net_benefit.sizes[option_dim]))


def _parameter_list(parameters: Any, caller: str) -> list[tuple[str, Any]]:
    if isinstance(parameters, xr.DataArray):
        return [(str(parameters.name) if parameters.name is not None else "parameter", parameters)]
    if isinstance(parameters, xr.Dataset):
        named = [(str(name), parameters[name]) for name in parameters.data_vars]
    elif isinstance(parameters, Mapping):
        named = [(str(name), value) for name, value in parameters.items()]
    elif isinstance(parameters, list | tuple):
        named = [
            (
                str(value.name)
                if isinstance(value, xr.DataArray) and value.name is not None
                else f"parameter {i}",
                value,
            )
            for i, value in enumerate(parameters)
        ]
    else:
        raise TypeError(
            _described(
                "parameters",
                caller,
                "a DataArray, a list or tuple of DataArrays, a Dataset or a dict of DataArrays",
                f"an object of type {type(parameters).__name__}",
            )
        )
    if not named:
        raise ValueError(
            _described(
                "parameters", caller, "at least one parameter", f"an empty {type(parameters).__name__}"
            )
        )
    for name, value in named:
        if not isinstance(value, xr.DataArray):
            raise TypeError(
                _described(
                    "parameters",
                    caller,
                    "made of xarray.DataArrays",
                    f"{name!r} of type {type(value).__name__}",
                )
            )
    return named


def _parameter_columns(
    parameters: Any, net_benefit: xr.DataArray, draw_dim: str, caller: str
) -> list[tuple[str, np.ndarray]]:
    """Return ``(name, draws)`` per parameter after checking they share net_benefit's draws."""
    draws = net_benefit.sizes[draw_dim]
    columns = []
    for name, parameter in _parameter_list(parameters, caller):
        if parameter.dims != (draw_dim,):
            raise ValueError(
                _described(
                    "parameters",
                    caller,
                    f"DataArrays with the single dimension {draw_dim!r} (select or split any other "
                    "dimension first, e.g. .sel(year='2025/26'))",
                    f"{name!r} with dims {parameter.dims}",
                )
            )
        if parameter.sizes[draw_dim] != draws:
            raise ValueError(
                _described(
                    "parameters",
                    caller,
                    f"drawn with the same {draws} draws as net_benefit",
                    f"{name!r} with {parameter.sizes[draw_dim]} draws",
                )
            )
        if (
            draw_dim in parameter.coords
            and draw_dim in net_benefit.coords
            and not np.array_equal(parameter.coords[draw_dim].values, net_benefit.coords[draw_dim].values)
        ):
            raise ValueError(
                _described(
                    "parameters",
                    caller,
                    f"drawn with the same draws as net_benefit (equal {draw_dim!r} coordinates)",
                    f"{name!r} with different {draw_dim!r} labels",
                )
            )
        if not (np.issubdtype(parameter.dtype, np.number) or parameter.dtype == bool):
            raise TypeError(
                _described("parameters", caller, "numeric", f"{name!r} of dtype {parameter.dtype}")
            )
        values = np.asarray(parameter.values, dtype=np.float64)
        if not np.isfinite(values).all():
            count = int((~np.isfinite(values)).sum())
            raise ValueError(
                _described(
                    "parameters",
                    caller,
                    "finite (no NaN or infinity)",
                    f"{name!r} with {count} non-finite draws",
                )
            )
        if values.min() == values.max():
            raise ValueError(
                _described(
                    "parameters",
                    caller,
                    "uncertain (varying across draws); a fixed input has no value of information",
                    f"{name!r} constant at {float(values[0])!r}",
                )
            )
        columns.append((name, values))
    return columns


# ----------------------------------------------------------------------------- EVPI


def _weighted_variance(values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Weighted variance along the last axis, with the reliability-weights correction ``1 - sum(w**2)``.

    ``weights`` are normalised; equal weights give exactly the ``ddof=1`` variance.
    """
    centred = values - (values @ weights)[..., None]
    return ((centred * centred) @ weights) / (1.0 - float(weights @ weights))


def _evpi_core(values: np.ndarray, weights: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """EVPI of ``values`` shaped ``(slices, options, draws)``; every output keeps the slice axis.

    With normalised importance ``weights`` every mean over draws is the
    weighted mean and the standard error is the weighted standard deviation
    over the square root of Kish's effective sample size.
    """
    draws = values.shape[-1]
    expected = values.mean(axis=-1) if weights is None else values @ weights
    # Ties between option means go to the first option; EVPI does not depend on the choice.
    best = expected.argmax(axis=-1)
    best_values = np.take_along_axis(values, best[:, None, None], axis=1)[:, 0, :]
    per_draw_max = values.max(axis=1)
    # The mean regret equals E[max] - max E exactly but is computed from differences,
    # so a large common level of net benefit does not swamp a small EVPI in rounding.
    regret = per_draw_max - best_values
    is_best = values == per_draw_max[:, None, :]
    share = is_best / is_best.sum(axis=1, keepdims=True)
    if weights is None:
        return {
            "evpi": regret.mean(axis=-1),
            "evpi_mcse": regret.std(axis=-1, ddof=1) / math.sqrt(draws),
            "expected": expected,
            "best": best,
            "probability_best": share.mean(axis=-1),
        }
    return {
        "evpi": regret @ weights,
        "evpi_mcse": np.sqrt(_weighted_variance(regret, weights) / _effective_draws(weights)),
        "expected": expected,
        "best": best,
        "probability_best": share @ weights,
    }


def _too_few_effective_draws(weights: np.ndarray, needed: int, what: str, caller: str) -> ValueError:
    return ValueError(
        _described(
            "net_benefit",
            caller,
            f"weighted so as to leave at least {needed} effective draws (Kish) for {what}; simulate "
            "more draws or loosen the observations given to nhsrisk.update",
            f"weights worth {effective_sample_size(weights):.4g} effective draws",
        )
    )


def evpi(net_benefit: xr.DataArray, *, option_dim: str = "option", draw_dim: str = "draw") -> xr.Dataset:
    """Compute the expected value of perfect information (EVPI) of a choice between options.

    ``EVPI = E[max_d NB_d] - max_d E[NB_d]``: the expected net benefit of
    choosing the best option in each state of the world minus that of choosing
    the option that is best on average now. It is the most that resolving all
    uncertainty before deciding can be worth. It is computed as the mean of the
    per-draw regret ``max_d NB_d - NB_{d*}``, with ``d*`` the option with the
    best mean, so its Monte Carlo standard error is that of a plain mean.

    Updated results (:func:`nhsrisk.update`) are used with their importance
    weights: every expectation is the weighted mean over the draws, so the
    result is the EVPI under the updated (posterior) distribution.

    Parameters
    ----------
    net_benefit : xarray.DataArray
        Net benefit of each option in each draw, GBP (or the unit in
        ``attrs["units"]``). Must have ``option_dim`` (at least 2 options) and
        ``draw_dim`` (at least 2 draws), be finite, and be computed with common
        random numbers: the same draw index is the same state of the world for
        every option. Any other dimension (e.g. a population size) is kept and
        each of its elements is computed independently. A ``weight``
        coordinate on ``draw_dim`` (importance weights, as from
        :func:`nhsrisk.update`; finite, non-negative, not all 0, normalised
        here) makes every expectation weighted.
    option_dim : str, default="option"
        Dimension of the decision options.
    draw_dim : str, default="draw"
        Dimension of the Monte Carlo draws.

    Returns
    -------
    xarray.Dataset
        ``evpi`` (GBP) and ``evpi_mcse`` (GBP, its Monte Carlo standard error),
        ``expected_net_benefit`` (GBP, per option), ``best_option`` (label of
        the option with the highest expected net benefit; the first one on a
        tie) and ``probability_best`` (per option, the share of draws in which
        it has the highest net benefit; a draw tied between options counts
        equally for each). All keep the dimensions other than ``draw_dim``
        (and ``option_dim`` where it makes sense). ``attrs``: ``option_dim``,
        ``draws`` and, for weighted input, ``effective_sample_size`` (Kish's
        ``1 / sum(w**2)`` of the normalised weights).

    Raises
    ------
    TypeError
        If ``net_benefit`` is not a numeric DataArray or a dimension name is not a str.
    ValueError
        If a dimension is missing, there are fewer than 2 options or draws, or
        net benefit holds NaN or infinity (the message counts them per option),
        or the ``weight`` coordinate is not on ``draw_dim`` alone, is negative,
        not finite or all 0, or leaves fewer than 2 effective draws.

    Notes
    -----
    When the options' expected net benefits are nearly tied, ``max_d`` of the
    sample means is biased upwards, so the EVPI estimate is biased downwards by
    up to about 0.4 standard errors (exactly tied normal means); far from a
    tie the bias vanishes.

    With weights ``w`` (normalised), ``EVPI = sum_i w_i (max_d NB_di -
    NB_d*i)`` with ``d*`` the option of highest weighted mean, which is exactly
    ``E_w[max_d NB_d] - max_d E_w[NB_d]``; ``probability_best`` is the weight
    of the draws in which the option is best. ``evpi_mcse`` is the weighted
    standard deviation of the regret (reliability-weights correction
    ``1 - sum(w**2)``) over ``sqrt(n_eff)``, with ``n_eff`` Kish's effective
    sample size rounded down (Kish 1965; Kong 1992): an approximation to the
    error of a self-normalised importance-sampling mean that is good while
    ``n_eff`` is large. Equal weights give the unweighted results (to
    rounding); whole-number weights give the same estimates as the unweighted
    function on each draw repeated that many times (but not the same
    ``evpi_mcse``: repeated draws are not independent ones).

    Examples
    --------
    Four equally likely states of the world and two options:

    >>> import xarray as xr
    >>> nb = xr.DataArray(
    ...     [[10.0, 0.0, 5.0, 5.0], [0.0, 20.0, 5.0, 1.0]],
    ...     dims=("option", "draw"),
    ...     coords={"option": ["as planned", "ring-fenced"]},
    ... )
    >>> result = evpi(nb)
    >>> float(result.evpi)  # E[max] = (10 + 20 + 5 + 5) / 4 = 10, max E = 6.5
    3.5
    >>> str(result.best_option.values)
    'ring-fenced'
    >>> result.probability_best.values.tolist()  # the tie in draw 3 counts half each
    [0.625, 0.375]

    Importance weights 1, 1, 2, 0 (normalised to 1/4, 1/4, 1/2, 0), as from
    :func:`nhsrisk.update`:

    >>> weighted = evpi(nb.assign_coords(weight=("draw", [1.0, 1.0, 2.0, 0.0])))
    >>> float(weighted.evpi)  # E_w[max] = (10 + 20 + 2 * 5) / 4 = 10, max E_w = (0 + 20 + 2 * 5) / 4 = 7.5
    2.5
    """
    caller = "evpi"
    values, per_slice, per_option = _net_benefit_values(net_benefit, option_dim, draw_dim, caller)
    weights = draw_weights(net_benefit, draw_dim, "net_benefit", caller)
    if weights is not None and _effective_draws(weights) < 2:
        raise _too_few_effective_draws(weights, 2, "a standard error", caller)
    core = _evpi_core(values, weights)
    units = str(net_benefit.attrs.get("units", "GBP"))
    labels = np.asarray(_option_labels(net_benefit, option_dim))

    data_vars = {
        "evpi": _output(per_slice, core["evpi"], "expected value of perfect information", units),
        "evpi_mcse": _output(per_slice, core["evpi_mcse"], "Monte Carlo standard error of evpi", units),
        "expected_net_benefit": _output(per_option, core["expected"], "expected net benefit", units),
        "best_option": _output(
            per_slice, labels[core["best"]], "option with the highest expected net benefit", ""
        ),
        "probability_best": _output(
            per_option, core["probability_best"], "share of draws in which the option is best", "1"
        ),
    }
    attrs: dict[str, Any] = {"option_dim": option_dim, "draws": int(values.shape[-1])}
    if weights is not None:
        attrs["effective_sample_size"] = effective_sample_size(weights)
    return xr.Dataset(data_vars, attrs=attrs)


# ----------------------------------------------------------------------------- EVPPI: smoothers


def _natural_spline_columns(values: np.ndarray, knots: np.ndarray) -> np.ndarray:
    """Natural cubic spline basis without the constant, built from B-splines as R's ``splines::ns``.

    With ``K`` knots it has ``K - 1`` columns: cubic between the knots, linear
    beyond the boundary knots. B-splines (local, a partition of unity) keep the
    design well conditioned where the truncated-power form would reach
    condition numbers of 1e9 or more with 10 knots or a heavy-tailed parameter.
    """
    from scipy.interpolate import BSpline  # 0.5 s to import: only when a spline is fitted

    if knots.size < 2:
        return values[:, None]
    lower, upper = knots[0], knots[-1]
    knot_vector = np.concatenate([[lower] * 4, knots[1:-1], [upper] * 4])
    count = knot_vector.size - 4
    splines = BSpline(knot_vector, np.eye(count), 3)
    basis = splines(np.clip(values, lower, upper))
    slopes = splines.derivative(1)
    for boundary, beyond in ((lower, values < lower), (upper, values > upper)):
        basis[beyond] += (values[beyond] - boundary)[:, None] * slopes(boundary)[None, :]
    # Dropping the first B-spline removes the constant (the intercept is separate); the natural
    # conditions (zero second derivative at both boundary knots) leave the null space of `curvature`.
    curvature = splines.derivative(2)(np.array([lower, upper]))[:, 1:]
    null_space = np.linalg.qr(curvature.T, mode="complete")[0][:, 2:]
    return basis[:, 1:] @ null_space


def _is_discrete(values: np.ndarray) -> bool:
    return np.unique(values).size <= _DISCRETE_MAX_LEVELS


def _indicator_columns(values: np.ndarray) -> np.ndarray:
    levels = np.unique(values)
    return (values[:, None] == levels[None, 1:]).astype(np.float64)


def _weighted_linear_quantiles(values: np.ndarray, weights: np.ndarray, levels: np.ndarray) -> np.ndarray:
    """Quantiles of positively weighted draws, interpolated linearly: NumPy's default method when weighted.

    Each sorted draw sits at the middle of its step of the weighted CDF,
    ``S_k - w_k / 2``, and these positions are rescaled so that the smallest
    draw is at 0 and the largest at 1. With equal weights the positions are
    ``(k - 1) / (n - 1)``, which makes this :func:`numpy.quantile`'s
    ``"linear"`` method (Hyndman & Fan type 7) to rounding.
    """
    order = np.argsort(values, kind="stable")
    ordered = values[order]
    sorted_weights = weights[order]
    middle = np.cumsum(sorted_weights) - sorted_weights / 2.0
    positions = (middle - middle[0]) / (middle[-1] - middle[0])
    return np.asarray(np.interp(levels, positions, ordered))


def _main_effect_columns(values: np.ndarray, knots: int, weights: np.ndarray | None = None) -> np.ndarray:
    if _is_discrete(values):
        return _indicator_columns(values)
    # B-splines do not care about the parameter's scale; standardising only keeps the
    # linear tails of a budget in GBP (1e9) from dwarfing the other columns before scaling.
    z = (values - values.mean()) / values.std()
    levels = np.linspace(*_KNOT_QUANTILE_RANGE, knots)
    # Weighted: the knots sit at quantiles of the weighted (updated) distribution of the parameter.
    quantiles = np.quantile(z, levels) if weights is None else _weighted_linear_quantiles(z, weights, levels)
    # A parameter with a spike of tied values can give repeated quantiles: keep each knot once.
    knot_positions = np.unique(quantiles)
    return _natural_spline_columns(z, knot_positions)


def _coefficient_count(columns: list[tuple[str, np.ndarray]], knots: int) -> int:
    sizes = [np.unique(values).size - 1 if _is_discrete(values) else knots - 1 for _, values in columns]
    interaction = sizes[0] * sizes[1] if len(sizes) == 2 else 0
    return 1 + sum(sizes) + interaction


def _spline_projector(
    columns: list[tuple[str, np.ndarray]], knots: int, weights: np.ndarray | None = None
) -> tuple[Callable[[np.ndarray], np.ndarray], int]:
    """Least-squares projector onto the spline design (with intercept) and its coefficient count.

    With normalised ``weights`` (all positive) it is the weighted least-squares
    projector: orthonormal in the inner product ``sum_i w_i a_i b_i``.
    """
    blocks = [_main_effect_columns(values, knots, weights) for _, values in columns]
    if len(blocks) == 2:
        first, second = blocks
        blocks.append((first[:, :, None] * second[:, None, :]).reshape(first.shape[0], -1))
    design = np.concatenate(blocks, axis=1)
    if weights is not None:
        return _weighted_spline_projector(design, weights)
    design -= design.mean(axis=0)
    norms = np.linalg.norm(design, axis=0)
    # A column can vanish after centring (e.g. a product of two indicators that never both hold).
    keep = norms > 1e-12 * max(1.0, float(norms.max()))
    design = design[:, keep] / norms[keep]
    # Orthonormalise through the eigen-decomposition of the small Gram matrix, twice: one matrix
    # product over the draws per pass instead of a Householder QR or SVD of the tall design (10 to
    # 50 times slower). Squaring the condition number is harmless here: the B-spline design's is
    # below about 1e2, and the second pass restores orthogonality to rounding error for anything up
    # to about 1e6. Directions with a relative eigenvalue below 1e-12 (numerically collinear
    # terms, e.g. the same parameter passed twice) are dropped, as a rank-revealing SVD would.
    basis = design
    for _ in range(2):
        eigenvalues, eigenvectors = np.linalg.eigh(basis.T @ basis)
        keep = eigenvalues > 1e-12 * eigenvalues.max()
        basis = basis @ (eigenvectors[:, keep] / np.sqrt(eigenvalues[keep]))

    def project(targets: np.ndarray) -> np.ndarray:
        # The design columns are centred, so the basis is orthogonal to the intercept.
        means = targets.mean(axis=0)
        return means + basis @ (basis.T @ (targets - means))

    return project, basis.shape[1] + 1


def _weighted_spline_projector(
    design: np.ndarray, weights: np.ndarray
) -> tuple[Callable[[np.ndarray], np.ndarray], int]:
    """Weighted least-squares projector onto ``design`` plus an intercept, as :func:`_spline_projector`.

    The columns are centred at their weighted means and orthonormalised in the
    weighted inner product (``B.T @ diag(w) @ B = I``) by the same two passes
    of the Gram matrix's eigen-decomposition; the fitted values of ``y`` are
    then ``mean_w(y) + B @ (B.T @ (w * (y - mean_w(y))))``. Equal weights give
    the unweighted projector.
    """
    design = design - weights @ design
    norms = np.sqrt(weights @ (design * design))
    keep = norms > 1e-12 * max(1.0, float(norms.max()))
    basis = design[:, keep] / norms[keep]
    for _ in range(2):
        eigenvalues, eigenvectors = np.linalg.eigh(basis.T @ (weights[:, None] * basis))
        keep = eigenvalues > 1e-12 * eigenvalues.max()
        basis = basis @ (eigenvectors[:, keep] / np.sqrt(eigenvalues[keep]))

    def project(targets: np.ndarray) -> np.ndarray:
        means = weights @ targets
        return means + basis @ (basis.T @ (weights[:, None] * (targets - means)))

    return project, basis.shape[1] + 1


def _bin_projector(
    values: np.ndarray, bins: int, weights: np.ndarray | None = None
) -> tuple[Callable[[np.ndarray], np.ndarray], int]:
    """Projector onto bin indicators (bin means) and the number of bins actually used.

    With normalised ``weights`` (all positive) the bins hold equal weight
    instead of equal counts and the bin means are weighted means.
    """
    if weights is not None:
        return _weighted_bin_projector(values, bins, weights)
    draws = values.size
    levels = np.unique(values)
    if levels.size <= max(bins, _DISCRETE_MAX_LEVELS):
        # Few distinct values: one bin per value gives the exact conditional means.
        labels = np.searchsorted(levels, values)
        used = levels.size
    else:
        order = np.argsort(values, kind="stable")
        edges = np.linspace(0, draws, bins + 1).round().astype(np.int64)
        labels = np.empty(draws, dtype=np.int64)
        labels[order] = np.repeat(np.arange(bins), np.diff(edges))
        used = bins
    counts = np.bincount(labels, minlength=used).astype(np.float64)

    def project(targets: np.ndarray) -> np.ndarray:
        sums = np.column_stack([np.bincount(labels, weights=column, minlength=used) for column in targets.T])
        return (sums / counts[:, None])[labels]

    return project, used


def _weighted_bin_projector(
    values: np.ndarray, bins: int, weights: np.ndarray
) -> tuple[Callable[[np.ndarray], np.ndarray], int]:
    """Weighted bin means over bins of equal weight (one bin per value for a few distinct values).

    A draw falls in bin ``floor(bins * m)``, ``m`` the middle of its step of
    the weighted CDF. With equal weights that is the unweighted equal-count
    split except where ``b * n / bins`` is exactly half-way between two whole
    numbers (NumPy rounds such an edge to even, this rule down). A draw
    heavier than ``1 / bins`` can leave a bin empty: empty bins are dropped
    and not counted.
    """
    levels = np.unique(values)
    if levels.size <= max(bins, _DISCRETE_MAX_LEVELS):
        labels = np.searchsorted(levels, values)
    else:
        order = np.argsort(values, kind="stable")
        sorted_weights = weights[order]
        middle = np.cumsum(sorted_weights) - sorted_weights / 2.0
        labels = np.empty(values.size, dtype=np.int64)
        labels[order] = np.minimum(np.floor(middle * bins).astype(np.int64), bins - 1)
        labels = np.unique(labels, return_inverse=True)[1]
    used = int(labels.max()) + 1
    totals = np.bincount(labels, weights=weights, minlength=used)

    def project(targets: np.ndarray) -> np.ndarray:
        sums = np.column_stack(
            [np.bincount(labels, weights=weights * column, minlength=used) for column in targets.T]
        )
        return (sums / totals[:, None])[labels]

    return project, used


# ----------------------------------------------------------------------------- EVPPI


def _default_knots(draws: int, columns: list[tuple[str, np.ndarray]]) -> int:
    cap = _MAX_KNOTS_PAIR if len(columns) == 2 else _MAX_KNOTS_MAIN
    knots = min(cap, max(_MIN_KNOTS, round(draws**0.25)))
    while knots > _MIN_KNOTS and _coefficient_count(columns, knots) * _DRAWS_PER_COEFFICIENT > draws:
        knots -= 1
    return knots


def _too_few_draws(
    draws: int, coefficients: int, what: str, caller: str, *, weighted: bool = False
) -> ValueError:
    kind = "effective draws (Kish, from the importance weights)" if weighted else "draws"
    return ValueError(
        _described(
            "net_benefit",
            caller,
            f"drawn at least {_DRAWS_PER_COEFFICIENT} times per regression coefficient "
            f"({coefficients} coefficients with {what}, so {_DRAWS_PER_COEFFICIENT * coefficients} "
            f"{kind}); use more draws or fewer knots",
            f"{draws} {kind}",
        )
    )


def evppi(
    net_benefit: xr.DataArray,
    parameters: ParameterInput,
    *,
    option_dim: str = "option",
    draw_dim: str = "draw",
    method: str = "spline",
    knots: int | None = None,
) -> xr.Dataset:
    """Compute the expected value of partial perfect information (EVPPI) about some parameters.

    ``EVPPI = E_theta[max_d E[NB_d | theta]] - max_d E[NB_d]``: what learning
    the parameters ``theta`` exactly before deciding is expected to be worth.
    Following Strong, Oakley & Brennan (2014), each option's net benefit is
    regressed on ``theta`` over the draws; with the fitted values ``g_d`` (an
    estimate of ``E[NB_d | theta]`` in each draw),
    ``EVPPI = mean_i max_d g_d(theta_i) - max_d mean_i g_d(theta_i)``.

    Updated results (:func:`nhsrisk.update`) are used with their importance
    weights: the regression becomes weighted least squares, so ``g_d``
    estimates the updated (posterior) conditional mean, and both means over
    draws are weighted (see Notes).

    Parameters
    ----------
    net_benefit : xarray.DataArray
        Net benefit of each option in each draw, GBP, as for :func:`evpi`:
        ``option_dim`` (at least 2 options), ``draw_dim``, finite, common
        random numbers across options; other dimensions are kept. A
        ``weight`` coordinate on ``draw_dim`` (importance weights, as from
        :func:`nhsrisk.update`) makes the fit and the expectations weighted.
    parameters : DataArray, list or tuple of DataArray, Dataset or dict of str to DataArray
        The parameter, or the group of parameters learnt together (a
        Dataset's data variables form the group). Each must have the single
        dimension ``draw_dim``, the same draws as ``net_benefit`` (same size
        and, if both have one, the same ``draw_dim`` coordinate), be finite and
        vary across draws (across the draws of positive weight, when
        weighted). A parameter may carry a ``weight`` coordinate only if it
        equals that of ``net_benefit``: the weights are read from
        ``net_benefit``.
    option_dim : str, default="option"
        Dimension of the decision options.
    draw_dim : str, default="draw"
        Dimension of the Monte Carlo draws.
    method : {"spline", "binning"}, default="spline"
        ``"spline"``: least squares on natural cubic regression splines of the
        standardised parameters, knots at equally spaced quantiles between the
        2.5th and 97.5th percentiles; additive main effects, plus their
        pairwise tensor product for a group of exactly 2 parameters; a group of
        3 or more is additive only (interactions are missed, which biases
        EVPPI downwards when they matter). A parameter with at most 10
        distinct values enters as indicator (one-hot) terms instead.
        ``"binning"`` (one parameter only, Strong & Oakley 2013): sort the
        draws by the parameter, cut them into bins of equal count and use the
        bin means of net benefit (one bin per value for a parameter with few
        distinct values).
    knots : int, optional
        Spline: knots per parameter (at least 3). Default
        ``min(cap, max(3, round(draws ** 0.25)))``, so 6 at 1,000 draws and
        ``cap`` from 10,000 on, with ``cap`` 10 (5 per margin for a pair, a
        25-coefficient surface), lowered if needed to keep 10 draws per
        coefficient.
        Binning: the number of bins (at least 2); default
        ``max(2, round(draws ** (1 / 3)))``, which makes the upward bias from
        noisy bin means and the downward bias from coarse bins both shrink
        like ``draws ** (-2/3)``, faster than the Monte Carlo error.
        Weighted, ``draws`` in these rules is Kish's effective sample size.

    Returns
    -------
    xarray.Dataset
        ``evppi`` (GBP), ``evppi_mcse`` (GBP; delta-method standard error
        combining the Monte Carlo error of the mean over draws and the
        sampling error of the regression coefficients), ``evpi`` (GBP, for
        comparison), ``evppi_share`` (``evppi / evpi``, 0 where EVPI is 0) and
        ``r_squared`` (per option, of the regression; 1 for an option whose
        net benefit does not vary). Other dimensions of ``net_benefit`` are
        kept. ``attrs`` record ``method``, ``parameters``, ``knots`` (spline)
        or ``bins`` (binning), ``coefficients``, ``discrete_parameters``,
        ``terms``, ``option_dim``, ``draws``, and ``warning`` when the estimate
        exceeds EVPI by more than ``evppi_mcse``; weighted, also
        ``effective_sample_size`` (Kish) and ``weighted_draws`` (the draws of
        positive weight).

    Raises
    ------
    TypeError
        If an argument has the wrong type (the message names it).
    ValueError
        If a dimension is missing, there are fewer than 2 options, an input is
        not finite, a parameter does not vary or has other draws, ``method``
        is unknown, ``"binning"`` gets more than one parameter, there are
        fewer than 10 draws (effective draws, when weighted) per regression
        coefficient, or the ``weight`` coordinate is malformed (not on
        ``draw_dim`` alone, negative, not finite, all 0) or differs between
        ``net_benefit`` and a parameter.

    Notes
    -----
    The estimate is not clipped to ``[0, EVPI]``. It is never negative, but
    it is biased: noise in the fitted values makes ``max_d`` too large
    (upwards, roughly in proportion to the coefficients per draw), and a fit
    too smooth to follow ``E[NB_d | theta]`` (too few knots, interactions
    left out) makes it too small. The two biases are reported neither in
    ``evppi_mcse`` nor in ``evppi``; compare ``knots`` settings to see them.

    With importance weights ``w`` (normalised; draws of weight 0 are dropped
    first), ``g_d`` minimises ``sum_i w_i (NB_di - g_d(theta_i))^2`` (weighted
    least squares, which targets the conditional mean under the weighted
    distribution), the spline knots sit at weighted quantiles of each
    parameter (NumPy's linear method with each draw at the middle of its step
    of the weighted CDF), bins hold equal weight, and
    ``EVPPI = sum_i w_i max_d g_d(theta_i) - max_d sum_i w_i NB_di``. The
    standard error is the same delta method with the weighted variance over
    Kish's effective sample size ``n_eff`` and a regression term
    ``sum_i w_i^2 (P c_d)_i (P c_e)_i Sigma_de``, ``Sigma`` the weighted
    residual covariance times ``n_eff / (n_eff - coefficients)``; it assumes
    the residual spread does not change with the weight, and like every
    importance-sampling error it is only as good as ``n_eff`` is large.
    Equal weights give the unweighted results (to rounding, and up to the
    placing of a bin edge that falls exactly half-way between two draws).

    Examples
    --------
    Option 1 pays ``theta + psi`` against 0 for option 0; learning ``theta``
    alone is worth less than learning everything:

    >>> import numpy as np
    >>> import xarray as xr
    >>> rng = np.random.default_rng(1)
    >>> theta = xr.DataArray(rng.normal(0.0, 1.0, 2000), dims="draw", name="theta")
    >>> psi = xr.DataArray(rng.normal(0.0, 1.0, 2000), dims="draw", name="psi")
    >>> nb = xr.concat([0.0 * theta, theta + psi], dim="option")
    >>> partial = evppi(nb, theta)
    >>> bool(0.0 < partial.evppi < partial.evpi)
    True
    >>> round(float(evppi(nb, [theta, psi]).evppi_share), 6)  # both together: all of EVPI
    1.0
    """
    caller = "evppi"
    if not isinstance(method, str):
        raise TypeError(_message("method", caller, f"one of {_METHODS}", method))
    if method not in _METHODS:
        raise ValueError(_message("method", caller, f"one of {_METHODS}", method))
    values, per_slice, per_option = _net_benefit_values(net_benefit, option_dim, draw_dim, caller)
    weights = draw_weights(net_benefit, draw_dim, "net_benefit", caller)
    for _, parameter in _parameter_list(parameters, caller):
        parameter_weights = draw_weights(parameter, draw_dim, "parameters", caller)
        same_weights(weights, parameter_weights, "parameters", "net_benefit", caller)
    columns = _parameter_columns(parameters, net_benefit, draw_dim, caller)
    draws_in_run = values.shape[-1]
    if weights is not None:
        # Draws of weight 0 take no part in any weighted mean or weighted fit: drop them first, so
        # that the knots, the bins and the discreteness of a parameter are those of the draws that count.
        carried = weights > 0
        if not carried.all():
            values = values[..., carried]
            weights = weights[carried] / weights[carried].sum()
            columns = [(name, column[carried]) for name, column in columns]
        for name, column in columns:
            if column.min() == column.max():
                raise ValueError(
                    _described(
                        "parameters",
                        caller,
                        "uncertain across the draws that carry weight; a fixed input has no value of "
                        "information",
                        f"{name!r} constant at {float(column[0])!r} wherever the weight is positive",
                    )
                )
    slices, options, draws = values.shape
    # The regression's budget of coefficients counts effective draws when the draws are weighted.
    budget = draws if weights is None else _effective_draws(weights)
    names = [name for name, _ in columns]
    discrete = [name for name, column in columns if _is_discrete(column)]
    attrs: dict[str, Any] = {"method": method, "parameters": names, "discrete_parameters": discrete}

    if method == "binning":
        if len(columns) != 1:
            raise ValueError(
                _described(
                    "parameters",
                    caller,
                    "a single parameter for method='binning'",
                    f"{len(columns)} parameters",
                )
            )
        bins = (
            max(2, round(budget ** (1 / 3)))
            if knots is None
            else check_count(knots, "knots", caller, minimum=2)
        )
        if budget < _DRAWS_PER_COEFFICIENT * bins:
            raise _too_few_draws(budget, bins, f"{bins} bins", caller, weighted=weights is not None)
        project, coefficients = _bin_projector(columns[0][1], bins, weights)
        attrs.update(bins=coefficients, terms="bin means of net benefit")
    else:
        if knots is None:
            knots = _default_knots(budget, columns)
        else:
            knots = check_count(knots, "knots", caller, minimum=_MIN_KNOTS)
        needed = _coefficient_count(columns, knots)
        if budget < _DRAWS_PER_COEFFICIENT * needed:
            raise _too_few_draws(
                budget, needed, f"{knots} knots per parameter", caller, weighted=weights is not None
            )
        project, coefficients = _spline_projector(columns, knots, weights)
        terms = {1: "natural cubic spline", 2: "natural cubic splines and their tensor product"}
        attrs.update(
            knots=knots, terms=terms.get(len(columns), "additive natural cubic splines, no interactions")
        )
    attrs["coefficients"] = int(coefficients)

    # One least-squares fit serves every option and slice: they share the design.
    targets = values.transpose(2, 0, 1).reshape(draws, slices * options)
    fitted = project(targets)
    residuals = targets - fitted
    fitted = fitted.reshape(draws, slices, options).transpose(1, 2, 0)
    residuals = residuals.reshape(draws, slices, options).transpose(1, 2, 0)

    full = _evpi_core(values, weights)
    best = full["best"]
    fitted_best = np.take_along_axis(fitted, best[:, None, None], axis=1)[:, 0, :]
    partial_regret = fitted.max(axis=1) - fitted_best
    if weights is None:
        estimate = partial_regret.mean(axis=-1)
        outer_variance = partial_regret.var(axis=-1, ddof=1) / draws
    else:
        estimate = partial_regret @ weights
        outer_variance = _weighted_variance(partial_regret, weights) / budget

    # Delta method for the regression error (the linearised form of Strong et al.'s
    # resampling of the coefficients): with P the projection onto the design and
    # c_d = 1[d is best in the draw] - 1[d is best on average], the variance is
    # sum_de Sigma_de (P c_d).(P c_e) / n^2, Sigma the residual covariance between options.
    # Weighted, the estimate is sum_d c_d' W P_w y_d, so each draw's term carries w_i^2 in place
    # of 1 / n^2 and Sigma is the weighted residual covariance, corrected by n_eff / (n_eff - p).
    chosen = fitted.argmax(axis=1)
    gradient = (np.arange(options)[None, :, None] == chosen[:, None, :]).astype(np.float64)
    gradient -= (np.arange(options)[None, :] == best[:, None]).astype(np.float64)[:, :, None]
    projected = project(gradient.transpose(2, 0, 1).reshape(draws, slices * options))
    projected = projected.reshape(draws, slices, options).transpose(1, 2, 0)
    if weights is None:
        residual_covariance = np.einsum("sdi,sei->sde", residuals, residuals) / max(draws - coefficients, 1)
        regression_variance = (
            np.einsum("sdi,sde,sei->s", projected, residual_covariance, projected) / draws**2
        )
    else:
        residual_covariance = (
            np.einsum("sdi,sei,i->sde", residuals, residuals, weights)
            * budget
            / max(budget - coefficients, 1)
        )
        regression_variance = np.einsum(
            "sdi,sde,sei,i->s", projected, residual_covariance, projected, weights * weights
        )
    mcse = np.sqrt(outer_variance + regression_variance)

    if weights is None:
        centred = values - values.mean(axis=-1, keepdims=True)
        total_sum_squares = (centred**2).sum(axis=-1)
        residual_sum_squares = (residuals**2).sum(axis=-1)
    else:
        centred = values - (values @ weights)[..., None]
        total_sum_squares = (centred**2) @ weights
        residual_sum_squares = (residuals**2) @ weights
    r_squared = np.ones_like(total_sum_squares)
    # Not ``total_sum_squares > 0``: the mean of a constant can round, leaving a sum of squares
    # of order 1e-30 that would make R squared any number at all.
    varies = values.max(axis=-1) > values.min(axis=-1)
    r_squared[varies] = 1.0 - residual_sum_squares[varies] / total_sum_squares[varies]

    evpi_value = full["evpi"]
    share = np.divide(estimate, evpi_value, out=np.zeros_like(estimate), where=evpi_value > 0)
    rounding = 1e-12 * np.abs(centred).max(axis=(1, 2))
    excess = estimate - evpi_value
    flagged = excess > np.maximum(mcse, rounding)
    if flagged.any():
        attrs["warning"] = (
            f"EVPPI exceeds EVPI by more than its Monte Carlo standard error in {int(flagged.sum())} of "
            f"{slices} cases (largest excess {float(excess.max()):.6g}): the regression overfits or "
            "rings; use fewer knots or more draws."
        )

    units = str(net_benefit.attrs.get("units", "GBP"))
    data_vars = {
        "evppi": _output(per_slice, estimate, "expected value of partial perfect information", units),
        "evppi_mcse": _output(per_slice, mcse, "standard error of evppi", units),
        "evpi": _output(per_slice, evpi_value, "expected value of perfect information", units),
        "evppi_share": _output(per_slice, share, "evppi as a share of evpi", "1"),
        "r_squared": _output(
            per_option, r_squared, "R squared of the regression of net benefit on the parameters", "1"
        ),
    }
    attrs.update(option_dim=option_dim, draws=int(draws_in_run))
    if weights is not None:
        attrs.update(effective_sample_size=effective_sample_size(weights), weighted_draws=int(draws))
    return xr.Dataset(data_vars, attrs=attrs)
