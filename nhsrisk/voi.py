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

from nhsrisk._validate import _message, check_count

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


def _described(name: str, caller: str, allowed: str, got: str) -> str:
    """Format a message in the project's form when the offending value is described, not shown."""
    return f"The {name!r} parameter of {caller} must be {allowed}. Got {got} instead."


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


def _evpi_core(values: np.ndarray) -> dict[str, np.ndarray]:
    """EVPI of ``values`` shaped ``(slices, options, draws)``; every output keeps the slice axis."""
    draws = values.shape[-1]
    expected = values.mean(axis=-1)
    # Ties between option means go to the first option; EVPI does not depend on the choice.
    best = expected.argmax(axis=-1)
    best_values = np.take_along_axis(values, best[:, None, None], axis=1)[:, 0, :]
    per_draw_max = values.max(axis=1)
    # The mean regret equals E[max] - max E exactly but is computed from differences,
    # so a large common level of net benefit does not swamp a small EVPI in rounding.
    regret = per_draw_max - best_values
    is_best = values == per_draw_max[:, None, :]
    share = is_best / is_best.sum(axis=1, keepdims=True)
    return {
        "evpi": regret.mean(axis=-1),
        "evpi_mcse": regret.std(axis=-1, ddof=1) / math.sqrt(draws),
        "expected": expected,
        "best": best,
        "probability_best": share.mean(axis=-1),
    }


def evpi(net_benefit: xr.DataArray, *, option_dim: str = "option", draw_dim: str = "draw") -> xr.Dataset:
    """Compute the expected value of perfect information (EVPI) of a choice between options.

    ``EVPI = E[max_d NB_d] - max_d E[NB_d]``: the expected net benefit of
    choosing the best option in each state of the world minus that of choosing
    the option that is best on average now. It is the most that resolving all
    uncertainty before deciding can be worth. It is computed as the mean of the
    per-draw regret ``max_d NB_d - NB_{d*}``, with ``d*`` the option with the
    best mean, so its Monte Carlo standard error is that of a plain mean.

    Parameters
    ----------
    net_benefit : xarray.DataArray
        Net benefit of each option in each draw, GBP (or the unit in
        ``attrs["units"]``). Must have ``option_dim`` (at least 2 options) and
        ``draw_dim`` (at least 2 draws), be finite, and be computed with common
        random numbers: the same draw index is the same state of the world for
        every option. Any other dimension (e.g. a population size) is kept and
        each of its elements is computed independently.
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
        (and ``option_dim`` where it makes sense).

    Raises
    ------
    TypeError
        If ``net_benefit`` is not a numeric DataArray or a dimension name is not a str.
    ValueError
        If a dimension is missing, there are fewer than 2 options or draws, or
        net benefit holds NaN or infinity (the message counts them per option).

    Notes
    -----
    When the options' expected net benefits are nearly tied, ``max_d`` of the
    sample means is biased upwards, so the EVPI estimate is biased downwards by
    up to about 0.4 standard errors (exactly tied normal means); far from a
    tie the bias vanishes.

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
    """
    caller = "evpi"
    values, per_slice, per_option = _net_benefit_values(net_benefit, option_dim, draw_dim, caller)
    core = _evpi_core(values)
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
    return xr.Dataset(data_vars, attrs={"option_dim": option_dim, "draws": int(values.shape[-1])})


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


def _main_effect_columns(values: np.ndarray, knots: int) -> np.ndarray:
    if _is_discrete(values):
        return _indicator_columns(values)
    # B-splines do not care about the parameter's scale; standardising only keeps the
    # linear tails of a budget in GBP (1e9) from dwarfing the other columns before scaling.
    z = (values - values.mean()) / values.std()
    levels = np.linspace(*_KNOT_QUANTILE_RANGE, knots)
    # A parameter with a spike of tied values can give repeated quantiles: keep each knot once.
    knot_positions = np.unique(np.quantile(z, levels))
    return _natural_spline_columns(z, knot_positions)


def _coefficient_count(columns: list[tuple[str, np.ndarray]], knots: int) -> int:
    sizes = [np.unique(values).size - 1 if _is_discrete(values) else knots - 1 for _, values in columns]
    interaction = sizes[0] * sizes[1] if len(sizes) == 2 else 0
    return 1 + sum(sizes) + interaction


def _spline_projector(
    columns: list[tuple[str, np.ndarray]], knots: int
) -> tuple[Callable[[np.ndarray], np.ndarray], int]:
    """Least-squares projector onto the spline design (with intercept) and its coefficient count."""
    blocks = [_main_effect_columns(values, knots) for _, values in columns]
    if len(blocks) == 2:
        first, second = blocks
        blocks.append((first[:, :, None] * second[:, None, :]).reshape(first.shape[0], -1))
    design = np.concatenate(blocks, axis=1)
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


def _bin_projector(values: np.ndarray, bins: int) -> tuple[Callable[[np.ndarray], np.ndarray], int]:
    """Projector onto bin indicators (bin means) and the number of bins actually used."""
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


# ----------------------------------------------------------------------------- EVPPI


def _default_knots(draws: int, columns: list[tuple[str, np.ndarray]]) -> int:
    cap = _MAX_KNOTS_PAIR if len(columns) == 2 else _MAX_KNOTS_MAIN
    knots = min(cap, max(_MIN_KNOTS, round(draws**0.25)))
    while knots > _MIN_KNOTS and _coefficient_count(columns, knots) * _DRAWS_PER_COEFFICIENT > draws:
        knots -= 1
    return knots


def _too_few_draws(draws: int, coefficients: int, what: str, caller: str) -> ValueError:
    return ValueError(
        _described(
            "net_benefit",
            caller,
            f"drawn at least {_DRAWS_PER_COEFFICIENT} times per regression coefficient "
            f"({coefficients} coefficients with {what}, so {_DRAWS_PER_COEFFICIENT * coefficients} draws); "
            "use more draws or fewer knots",
            f"{draws} draws",
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

    Parameters
    ----------
    net_benefit : xarray.DataArray
        Net benefit of each option in each draw, GBP, as for :func:`evpi`:
        ``option_dim`` (at least 2 options), ``draw_dim``, finite, common
        random numbers across options; other dimensions are kept.
    parameters : DataArray, list or tuple of DataArray, Dataset or dict of str to DataArray
        The parameter, or the group of parameters learnt together (a
        Dataset's data variables form the group). Each must have the single
        dimension ``draw_dim``, the same draws as ``net_benefit`` (same size
        and, if both have one, the same ``draw_dim`` coordinate), be finite and
        vary across draws.
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
        ``terms``, and ``warning`` when the estimate exceeds EVPI by more than
        ``evppi_mcse``.

    Raises
    ------
    TypeError
        If an argument has the wrong type (the message names it).
    ValueError
        If a dimension is missing, there are fewer than 2 options, an input is
        not finite, a parameter does not vary or has other draws, ``method``
        is unknown, ``"binning"`` gets more than one parameter, or there are
        fewer than 10 draws per regression coefficient.

    Notes
    -----
    The estimate is not clipped to ``[0, EVPI]``. It is never negative, but
    it is biased: noise in the fitted values makes ``max_d`` too large
    (upwards, roughly in proportion to the coefficients per draw), and a fit
    too smooth to follow ``E[NB_d | theta]`` (too few knots, interactions
    left out) makes it too small. The two biases are reported neither in
    ``evppi_mcse`` nor in ``evppi``; compare ``knots`` settings to see them.

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
    columns = _parameter_columns(parameters, net_benefit, draw_dim, caller)
    slices, options, draws = values.shape
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
            max(2, round(draws ** (1 / 3)))
            if knots is None
            else check_count(knots, "knots", caller, minimum=2)
        )
        if draws < _DRAWS_PER_COEFFICIENT * bins:
            raise _too_few_draws(draws, bins, f"{bins} bins", caller)
        project, coefficients = _bin_projector(columns[0][1], bins)
        attrs.update(bins=coefficients, terms="bin means of net benefit")
    else:
        if knots is None:
            knots = _default_knots(draws, columns)
        else:
            knots = check_count(knots, "knots", caller, minimum=_MIN_KNOTS)
        needed = _coefficient_count(columns, knots)
        if draws < _DRAWS_PER_COEFFICIENT * needed:
            raise _too_few_draws(draws, needed, f"{knots} knots per parameter", caller)
        project, coefficients = _spline_projector(columns, knots)
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

    full = _evpi_core(values)
    best = full["best"]
    fitted_best = np.take_along_axis(fitted, best[:, None, None], axis=1)[:, 0, :]
    partial_regret = fitted.max(axis=1) - fitted_best
    estimate = partial_regret.mean(axis=-1)
    outer_variance = partial_regret.var(axis=-1, ddof=1) / draws

    # Delta method for the regression error (the linearised form of Strong et al.'s
    # resampling of the coefficients): with P the projection onto the design and
    # c_d = 1[d is best in the draw] - 1[d is best on average], the variance is
    # sum_de Sigma_de (P c_d).(P c_e) / n^2, Sigma the residual covariance between options.
    chosen = fitted.argmax(axis=1)
    gradient = (np.arange(options)[None, :, None] == chosen[:, None, :]).astype(np.float64)
    gradient -= (np.arange(options)[None, :] == best[:, None]).astype(np.float64)[:, :, None]
    projected = project(gradient.transpose(2, 0, 1).reshape(draws, slices * options))
    projected = projected.reshape(draws, slices, options).transpose(1, 2, 0)
    residual_covariance = np.einsum("sdi,sei->sde", residuals, residuals) / max(draws - coefficients, 1)
    regression_variance = np.einsum("sdi,sde,sei->s", projected, residual_covariance, projected) / draws**2
    mcse = np.sqrt(outer_variance + regression_variance)

    centred = values - values.mean(axis=-1, keepdims=True)
    total_sum_squares = (centred**2).sum(axis=-1)
    residual_sum_squares = (residuals**2).sum(axis=-1)
    r_squared = np.ones_like(total_sum_squares)
    varies = total_sum_squares > 0
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
    attrs.update(option_dim=option_dim, draws=int(draws))
    return xr.Dataset(data_vars, attrs=attrs)
