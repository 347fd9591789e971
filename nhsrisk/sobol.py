"""Variance-based global sensitivity analysis: Sobol' indices from a Saltelli design.

This is the generic layer (a function of an array of inputs in, indices out);
the scenario-level analysis is built on it. See ``docs/sobol.md`` for the
estimators, the bootstrap intervals and the references.

- :func:`saltelli_design` builds the two independent matrices of uniforms ``A``
  and ``B`` from one scrambled Sobol' sequence.
- :func:`sobol_from_evaluations` turns the model outputs on ``A``, ``B`` and the
  cross matrices ``AB_i`` into first-order and total indices with bootstrap
  confidence intervals.
- :func:`sobol_indices` does both for a function and a list of nhsrisk
  distributions.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import xarray as xr
from numpy.typing import ArrayLike

from nhsrisk._validate import check_count, resolve_seed
from nhsrisk.distributions import Distribution

__all__ = ["ESTIMATOR", "saltelli_design", "sobol_from_evaluations", "sobol_indices"]

#: What the ``estimator`` attribute of every result says.
ESTIMATOR = "Saltelli 2010 (first order), Jansen 1999 (total)"

# No inverse CDF may see 0 or 1 (an infinite quantile for unbounded laws);
# 1 - 2**-53 is the largest double below 1.
_SMALLEST_UNIFORM = 2.0**-53
_LARGEST_UNIFORM = 1.0 - 2.0**-53
# scipy's Sobol' generator gives at most 2**30 points (30 bits per coordinate by
# default) and has direction numbers for 21201 dimensions, i.e. 2k <= 21201.
_MAX_LOG2_BASE_SAMPLES = 30
_MAX_FACTORS = 21201 // 2
_MIN_BOOTSTRAP = 100
# Memory bounds: float64 input elements handed to ``func`` per call (three arrays
# of this size exist while a batch is built, so about 48 MiB), and bootstrap
# row indices drawn at once (two arrays of this size, about 64 MiB).
_INPUT_ELEMENTS_PER_CALL = 2**21
_BOOTSTRAP_ELEMENTS_PER_BATCH = 2**22


# -- argument checks ---------------------------------------------------------------------


def _fail(name: str, caller: str, allowed: str, got: str) -> str:
    """Format the project's message; ``got`` is already formatted (arrays are described, not printed)."""
    return f"The {name!r} parameter of {caller} must be {allowed}. Got {got} instead."


def _check_base_samples(value: Any, caller: str) -> int:
    allowed = f"a power of 2 from 2 to 2**{_MAX_LOG2_BASE_SAMPLES}"
    integral = isinstance(value, numbers.Integral) or (
        isinstance(value, numbers.Real) and float(value).is_integer()
    )
    if isinstance(value, bool) or not integral:
        raise TypeError(_fail("base_samples", caller, allowed, repr(value)))
    number = int(value)
    if 2 <= number <= 2**_MAX_LOG2_BASE_SAMPLES and number & (number - 1) == 0:
        return number
    if 2 < number < 2**_MAX_LOG2_BASE_SAMPLES:
        lower = 1 << (number.bit_length() - 1)
        allowed += f" (the nearest are {lower} and {2 * lower})"
    raise ValueError(_fail("base_samples", caller, allowed, repr(value)))


def _check_factor_count(value: Any, caller: str) -> int:
    count = check_count(value, "n_factors", caller, minimum=1)
    if count > _MAX_FACTORS:
        raise ValueError(
            _fail("n_factors", caller, f"at most {_MAX_FACTORS} (the Sobol' sequence's limit)", repr(value))
        )
    return count


def _check_confidence(value: Any, caller: str) -> float:
    allowed = "a number in (0, 1)"
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(_fail("confidence", caller, allowed, repr(value)))
    if not 0.0 < float(value) < 1.0:
        raise ValueError(_fail("confidence", caller, allowed, repr(value)))
    return float(value)


def _check_bootstrap(value: Any, caller: str) -> int:
    count = check_count(value, "bootstrap", caller, minimum=0)
    if 0 < count < _MIN_BOOTSTRAP:
        # fewer resamples cannot place the percentiles of a 95% interval usefully
        allowed = f"0 (no bootstrap) or an int >= {_MIN_BOOTSTRAP}"
        raise ValueError(_fail("bootstrap", caller, allowed, repr(value)))
    return count


def _check_labels(values: Any, name: str, caller: str, count: int, *, unique: bool) -> list[str]:
    kind = "unique strings" if unique else "strings"
    allowed = f"a sequence of {count} {kind}"
    if isinstance(values, str | bytes) or not isinstance(values, Sequence | np.ndarray):
        raise TypeError(_fail(name, caller, allowed, repr(values)))
    labels = list(values)
    if not all(isinstance(label, str) for label in labels):
        raise TypeError(_fail(name, caller, allowed, repr(labels)))
    if len(labels) != count or (unique and len(set(labels)) != len(labels)):
        raise ValueError(_fail(name, caller, allowed, repr(labels)))
    return labels


def _check_distributions(values: Any, caller: str) -> list[Distribution]:
    allowed = "a non-empty sequence of nhsrisk.distributions.Distribution instances"
    if isinstance(values, str | bytes | Distribution) or not isinstance(values, Sequence):
        raise TypeError(_fail("distributions", caller, allowed, repr(values)))
    laws = list(values)
    if not laws:
        raise ValueError(_fail("distributions", caller, allowed, repr(laws)))
    for position, law in enumerate(laws):
        if not isinstance(law, Distribution):
            raise TypeError(_fail("distributions", caller, allowed, f"{law!r} at position {position}"))
    if len(laws) > _MAX_FACTORS:
        allowed = f"a sequence of at most {_MAX_FACTORS} distributions (the Sobol' sequence's limit)"
        raise ValueError(_fail("distributions", caller, allowed, f"{len(laws)} distributions"))
    return laws


def _describe(array: np.ndarray) -> str:
    return f"an array of dtype {array.dtype} and shape {array.shape}"


def _real_array(value: Any, name: str, caller: str, allowed: str) -> np.ndarray:
    array = np.asarray(value)
    if array.dtype.kind not in "biuf":
        raise TypeError(_fail(name, caller, allowed, _describe(array)))
    return array.astype(float, copy=False)


def _check_finite(array: np.ndarray, name: str, caller: str) -> None:
    bad = int(np.count_nonzero(~np.isfinite(array)))
    if bad:
        raise ValueError(_fail(name, caller, "finite", f"{bad} NaN or infinite value(s) among {array.size}"))


# -- design --------------------------------------------------------------------------------


def _design(n_factors: int, base_samples: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    from scipy.stats import qmc  # scipy.stats costs about a second to import; only the design needs it

    generator = np.random.default_rng(seed)
    try:
        sampler = qmc.Sobol(d=2 * n_factors, scramble=True, rng=generator)
    except TypeError:  # scipy < 1.15 names the argument ``seed`` (same stream)
        sampler = qmc.Sobol(d=2 * n_factors, scramble=True, seed=generator)
    points = sampler.random_base2(base_samples.bit_length() - 1)
    np.clip(points, _SMALLEST_UNIFORM, _LARGEST_UNIFORM, out=points)
    return np.ascontiguousarray(points[:, :n_factors]), np.ascontiguousarray(points[:, n_factors:])


def saltelli_design(
    n_factors: int, base_samples: int, seed: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Two independent matrices of uniforms ``A`` and ``B`` for a Saltelli design.

    ``A`` and ``B`` are the first and the last ``n_factors`` columns of one
    scrambled Sobol' sequence of dimension ``2 * n_factors`` (linear matrix
    scrambling with a digital shift, :class:`scipy.stats.qmc.Sobol` driven by
    ``numpy.random.default_rng(seed)``), as recommended by Saltelli et al.
    (2010). With a power of 2 of points every column is balanced: each of the
    ``base_samples`` equal sub-intervals of (0, 1) holds exactly one value.

    Parameters
    ----------
    n_factors : int
        Number of input factors ``k`` (1 to 10600).
    base_samples : int
        Number of base rows ``N``: a power of 2 from 2 to 2**30.
    seed : int or None, default=None
        Seed in [0, 2**128); ``None`` draws fresh OS entropy.

    Returns
    -------
    tuple of numpy.ndarray
        ``(A, B)``, each of shape ``(base_samples, n_factors)``, dimensionless
        probabilities clamped into ``[2**-53, 1 - 2**-53]`` so that no inverse
        CDF sees 0 or 1.

    Raises
    ------
    ValueError
        If ``base_samples`` is not a power of 2 (the message names the nearest
        ones) or an argument is out of range.
    TypeError
        If an argument is not an integer.

    Examples
    --------
    >>> A, B = saltelli_design(3, 8, seed=1)
    >>> A.shape, B.shape
    ((8, 3), (8, 3))
    >>> np.sort(np.floor(A[:, 0] * 8)).tolist()  # one point in each eighth of (0, 1)
    [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]
    """
    caller = "saltelli_design"
    n_factors = _check_factor_count(n_factors, caller)
    base_samples = _check_base_samples(base_samples, caller)
    seed = resolve_seed(seed, caller)
    return _design(n_factors, base_samples, seed)


# -- estimators ----------------------------------------------------------------------------


def _bootstrap_generator(seed: int) -> np.random.Generator:
    # The first child of the seed's SeedSequence: independent of the stream that
    # scrambles the design (the parent), so that sobol_indices(seed=s) equals the
    # design saltelli_design(seed=s) analysed by sobol_from_evaluations(seed=s).
    return np.random.default_rng(np.random.SeedSequence(seed).spawn(1)[0])


def _variance_is_resolved(variance: np.ndarray | float, scale: float) -> np.ndarray | bool:
    # Below this the spread is rounding noise of outputs of magnitude ``scale``.
    return np.asarray(variance) > (64.0 * np.finfo(float).eps * scale) ** 2


def _bootstrap_replicates(
    centred_a: np.ndarray,
    centred_b: np.ndarray,
    centred_ab: np.ndarray,
    resamples: int,
    generator: np.random.Generator,
    scale: float,
    caller: str,
) -> tuple[np.ndarray, np.ndarray]:
    """First-order and total indices of ``resamples`` bootstrap resamples of the base rows.

    Every quantity of the estimators is a mean over base rows of a per-row
    statistic, so a resample's value is ``counts @ statistics / N`` where
    ``counts[r, j]`` is how often row ``j`` was drawn: one matrix product per
    batch instead of a Python loop over resamples.
    """
    k, n = centred_ab.shape
    difference = centred_ab - centred_a  # (k, N)
    statistics = np.column_stack(
        [
            (centred_a + centred_b + centred_ab.sum(axis=0)) / (k + 2),  # for the grand mean
            centred_a + centred_b,  # for the mean of f_A and f_B
            centred_a**2 + centred_b**2,  # for their variance
            difference.T,
            (centred_b * difference).T,
            (difference**2).T,
        ]
    )
    means = np.empty((resamples, statistics.shape[1]))
    batch = max(1, _BOOTSTRAP_ELEMENTS_PER_BATCH // n)
    for start in range(0, resamples, batch):
        size = min(batch, resamples - start)
        rows = generator.integers(0, n, size=(size, n))
        rows += np.arange(size)[:, None] * n  # one bincount for the whole batch
        # float counts: numpy's matmul of integers with floats does not reach BLAS
        counts = np.bincount(rows.ravel(), minlength=size * n).reshape(size, n).astype(float)
        means[start : start + size] = counts @ statistics / n
    grand_mean = means[:, :1]
    variance = means[:, 2:3] / 2.0 - (means[:, 1:2] / 2.0) ** 2
    if not np.all(_variance_is_resolved(variance, scale)):
        raise ValueError(
            f"{caller}: in {int(np.sum(~_variance_is_resolved(variance, scale)))} of {resamples} bootstrap "
            f"resamples of the {n} base rows the output does not vary, so their Sobol indices are "
            "undefined; use more base samples or bootstrap=0."
        )
    # The resample's own grand mean centres it, exactly as the point estimate is centred.
    first = (means[:, 3 + k : 3 + 2 * k] - grand_mean * means[:, 3 : 3 + k]) / variance
    total = means[:, 3 + 2 * k :] / (2.0 * variance)
    return first, total


def _index_variable(values: np.ndarray, long_name: str) -> tuple[str, np.ndarray, dict[str, str]]:
    return ("input", values, {"long_name": long_name, "units": "1"})


def _analyse(
    f_a: np.ndarray,
    f_b: np.ndarray,
    f_ab: np.ndarray,
    labels: list[str],
    confidence: float,
    bootstrap: int,
    seed: int,
    caller: str,
) -> xr.Dataset:
    """Compute the indices of validated, finite ``f_a``, ``f_b`` (shape (N,)) and ``f_ab`` (shape (k, N))."""
    k, n = f_ab.shape
    scale = float(max(np.abs(f_a).max(), np.abs(f_b).max(), np.abs(f_ab).max()))
    # Centring on the mean of all evaluations, as SALib does, removes the term
    # mean(f_AB_i - f_A) * mean(f) from the first-order numerator, which is zero
    # in expectation but inflates the estimator's variance for outputs far from 0.
    grand_mean = (f_a.sum() + f_b.sum() + f_ab.sum()) / (n * (k + 2))
    centred_a, centred_b, centred_ab = f_a - grand_mean, f_b - grand_mean, f_ab - grand_mean
    variance = float(np.var(np.concatenate([centred_a, centred_b])))
    if not _variance_is_resolved(variance, scale):
        raise ValueError(
            f"{caller}: the output does not vary: Sobol indices are undefined "
            f"(variance {variance!r} over {2 * n} evaluations of f_A and f_B)."
        )
    difference = centred_ab - centred_a
    first = (centred_b * difference).mean(axis=1) / variance
    total = 0.5 * (difference**2).mean(axis=1) / variance

    data_vars = {
        "S1": _index_variable(first, "first-order Sobol' index"),
        "ST": _index_variable(total, "total Sobol' index"),
    }
    if bootstrap:
        first_replicates, total_replicates = _bootstrap_replicates(
            centred_a, centred_b, centred_ab, bootstrap, _bootstrap_generator(seed), scale, caller
        )
        tails = [(1.0 - confidence) / 2.0, (1.0 + confidence) / 2.0]
        level = f"{confidence:.4g} bootstrap percentile interval"
        for name, replicates in (("S1", first_replicates), ("ST", total_replicates)):
            low, high = np.quantile(replicates, tails, axis=0)
            data_vars[f"{name}_conf_low"] = _index_variable(low, f"lower end of the {level} of {name}")
            data_vars[f"{name}_conf_high"] = _index_variable(high, f"upper end of the {level} of {name}")
            data_vars[f"{name}_se"] = _index_variable(
                replicates.std(axis=0, ddof=1), f"bootstrap standard error of {name}"
            )
    order = ["S1", "ST", "S1_conf_low", "S1_conf_high", "ST_conf_low", "ST_conf_high", "S1_se", "ST_se"]
    return xr.Dataset(
        {name: data_vars[name] for name in order if name in data_vars},
        coords={"input": ("input", np.asarray(labels, dtype=str), {"long_name": "input factor or group"})},
        attrs={
            "base_samples": n,
            "evaluations": n * (k + 2),
            "confidence": confidence,
            "bootstrap": bootstrap,
            "estimator": ESTIMATOR,
            "seed": str(seed),
            "output_variance": variance,
        },
    )


def sobol_from_evaluations(
    f_a: ArrayLike,
    f_b: ArrayLike,
    f_ab: ArrayLike,
    names: Sequence[str] | None = None,
    *,
    confidence: float = 0.95,
    bootstrap: int = 1000,
    seed: int | None = None,
) -> xr.Dataset:
    r"""First-order and total Sobol' indices from the model's evaluations on a Saltelli design.

    With ``f`` centred on the mean of all ``N (k + 2)`` evaluations (as SALib
    does) and ``V`` the population variance of the ``2N`` values of ``f_A`` and
    ``f_B``:

    - first order (Saltelli et al. 2010): ``S1_i = mean(f_B (f_AB_i - f_A)) / V``;
    - total (Jansen 1999): ``ST_i = mean((f_A - f_AB_i)**2) / (2 V)``.

    Estimates are not clipped: an index near 0 can come out slightly negative.
    Confidence intervals come from a nonparametric bootstrap over the base
    rows (the same resampled rows for every factor, each resample analysed
    with the same estimators): the percentile interval at ``confidence`` and
    the standard deviation of the replicates (the bootstrap standard error).
    The bootstrap treats the rows as independent draws, so for a scrambled
    Sobol' design it tends to overstate the error.

    Parameters
    ----------
    f_a, f_b : array_like of shape (N,)
        Outputs on the rows of ``A`` and of ``B`` (N >= 2, finite), in the
        model's output units.
    f_ab : array_like of shape (k, N)
        ``f_ab[i]`` holds the outputs on ``A`` with the column(s) of factor (or
        group) ``i`` taken from ``B``.
    names : sequence of str, optional
        ``k`` unique labels of the factors or groups; default ``"x1"`` to ``"xk"``.
    confidence : float, default=0.95
        Level of the bootstrap percentile intervals, in (0, 1).
    bootstrap : int, default=1000
        Number of bootstrap resamples: 0 (no intervals, no standard errors) or
        at least 100.
    seed : int or None, default=None
        Seed of the bootstrap in [0, 2**128); ``None`` draws fresh OS entropy,
        recorded in the ``seed`` attribute.

    Returns
    -------
    xarray.Dataset
        Over dim ``input`` (the ``names``): dimensionless ``S1`` and ``ST``
        and, when ``bootstrap > 0``, ``S1_conf_low``, ``S1_conf_high``,
        ``ST_conf_low``, ``ST_conf_high``, ``S1_se`` and ``ST_se``. Attributes:
        ``base_samples`` (N), ``evaluations`` (N (k + 2)), ``confidence``,
        ``bootstrap``, ``estimator``, ``seed`` (str) and ``output_variance``
        (``V``, in output units squared).

    Raises
    ------
    ValueError
        If shapes disagree, a value is NaN or infinite, an argument is out of
        range, or the output does not vary (the indices are then undefined).
    TypeError
        If an argument has the wrong type.

    Examples
    --------
    >>> A, B = saltelli_design(2, 1024, seed=3)
    >>> def f(x):  # additive: S1 = ST = (1, 4) / 5
    ...     return x[:, 0] + 2.0 * x[:, 1]
    >>> AB = [np.where([True, False], B, A), np.where([False, True], B, A)]
    >>> result = sobol_from_evaluations(f(A), f(B), [f(m) for m in AB], ["a", "b"], seed=3)
    >>> result["ST"].round(2).values.tolist()
    [0.2, 0.8]
    >>> result.attrs["evaluations"]
    4096
    """
    caller = "sobol_from_evaluations"
    vector = "a 1-D array of at least 2 real numbers"
    f_a = _real_array(f_a, "f_a", caller, vector)
    if f_a.ndim != 1 or f_a.size < 2:
        raise ValueError(_fail("f_a", caller, vector, _describe(f_a)))
    n = f_a.size
    f_b = _real_array(f_b, "f_b", caller, f"an array of shape ({n},) like f_a")
    if f_b.shape != (n,):
        raise ValueError(_fail("f_b", caller, f"an array of shape ({n},) like f_a", _describe(f_b)))
    matrix = f"an array of shape (k, {n}) with k >= 1, one row per factor"
    f_ab = _real_array(f_ab, "f_ab", caller, matrix)
    if f_ab.ndim != 2 or f_ab.shape[1] != n or f_ab.shape[0] < 1:
        raise ValueError(_fail("f_ab", caller, matrix, _describe(f_ab)))
    k = f_ab.shape[0]
    labels = [f"x{i + 1}" for i in range(k)] if names is None else None
    if labels is None:
        labels = _check_labels(names, "names", caller, k, unique=True)
    confidence = _check_confidence(confidence, caller)
    bootstrap = _check_bootstrap(bootstrap, caller)
    seed = resolve_seed(seed, caller)
    for name, array in (("f_a", f_a), ("f_b", f_b), ("f_ab", f_ab)):
        _check_finite(array, name, caller)
    return _analyse(f_a, f_b, f_ab, labels, confidence, bootstrap, seed, caller)


# -- from a function -----------------------------------------------------------------------


def _group_membership(groups: list[str]) -> tuple[list[str], np.ndarray]:
    """Group labels in order of first appearance and a (groups, factors) boolean membership matrix."""
    labels = list(dict.fromkeys(groups))
    return labels, np.array([[group == label for group in groups] for label in labels])


def _quantiles(distributions: list[Distribution], uniforms: np.ndarray, caller: str) -> np.ndarray:
    values = np.column_stack([law.ppf(uniforms[:, j]) for j, law in enumerate(distributions)])
    infinite = np.flatnonzero(~np.isfinite(values).all(axis=0))
    if infinite.size:
        j = int(infinite[0])
        got = f"{distributions[j]!r} at position {j}"
        raise ValueError(_fail("distributions", caller, "laws with finite quantiles", got))
    return values


def _evaluate(
    func: Callable[[np.ndarray], ArrayLike],
    values_a: np.ndarray,
    values_b: np.ndarray,
    from_b: np.ndarray,
    caller: str,
) -> np.ndarray:
    """Evaluate ``func`` on every block of the design: the rows of A, B, then each AB_i.

    Returns the outputs with shape ``(blocks, N)``.

    ``from_b[block, j]`` says whether column ``j`` of that block comes from B.
    The blocks are stacked and cut into calls of bounded memory.
    """
    n, k = values_a.shape
    total = from_b.shape[0] * n
    outputs = np.empty(total)
    rows_per_call = max(1, _INPUT_ELEMENTS_PER_CALL // k)
    for start in range(0, total, rows_per_call):
        stop = min(total, start + rows_per_call)
        block, base_row = np.divmod(np.arange(start, stop), n)
        inputs = np.where(from_b[block], values_b[base_row], values_a[base_row])
        allowed = f"a function returning one real number per input row: shape ({stop - start},)"
        result = np.asarray(func(inputs))
        if result.dtype.kind not in "biuf":
            raise TypeError(_fail("func", caller, allowed, f"{_describe(result)} for inputs {inputs.shape}"))
        if result.shape != (stop - start,):
            raise ValueError(_fail("func", caller, allowed, f"{_describe(result)} for inputs {inputs.shape}"))
        outputs[start:stop] = result
    bad = np.flatnonzero(~np.isfinite(outputs))
    if bad.size:
        block, base_row = divmod(int(bad[0]), n)
        example = np.where(from_b[block], values_b[base_row], values_a[base_row])
        raise ValueError(
            _fail(
                "func",
                caller,
                "a function with finite outputs",
                f"{bad.size} NaN or infinite output(s) among {total} evaluations, "
                f"such as {outputs[bad[0]]!r} at input row {example.tolist()}",
            )
        )
    return outputs.reshape(from_b.shape[0], n)


def sobol_indices(
    func: Callable[[np.ndarray], ArrayLike],
    distributions: Sequence[Distribution],
    base_samples: int,
    seed: int | None = None,
    *,
    names: Sequence[str] | None = None,
    groups: Sequence[str] | None = None,
    confidence: float = 0.95,
    bootstrap: int = 1000,
) -> xr.Dataset:
    """First-order and total Sobol' indices of a function of independent uncertain inputs.

    Builds the Saltelli design (:func:`saltelli_design`), maps its uniforms to
    input values through each distribution's exact quantile function, evaluates
    ``func`` on the rows of ``A``, ``B`` and every cross matrix ``AB_i``
    (``A`` with the column(s) of factor or group ``i`` from ``B``), and
    analyses the outputs with :func:`sobol_from_evaluations`. The result for
    ``seed=s`` is exactly that of ``sobol_from_evaluations(..., seed=s)`` on
    the evaluations of ``saltelli_design(k, base_samples, seed=s)``.

    Parameters
    ----------
    func : callable
        Maps an ``(n, k)`` float64 array of input values (one row per
        evaluation, columns in the order of ``distributions``) to ``n`` real
        outputs, in any units. It may be a numba function. It is called with
        the whole stacked design when that holds at most 2**21 values,
        otherwise with batches of rows.
    distributions : sequence of nhsrisk.distributions.Distribution
        The ``k >= 1`` independent inputs, in their own units.
    base_samples : int
        Number of base rows ``N``: a power of 2 from 2 to 2**30. The cost is
        ``N (k + 2)`` evaluations (``N (groups + 2)`` with ``groups``).
    seed : int or None, default=None
        Seed in [0, 2**128) of the design's scrambling and the bootstrap;
        ``None`` draws fresh OS entropy, recorded in the ``seed`` attribute.
    names : sequence of str, optional
        ``k`` unique factor names; default ``"x1"`` to ``"xk"``.
    groups : sequence of str, optional
        A group label per factor. Factors sharing a label are moved together
        in ``AB``, and the indices are those of the groups, labelled in order
        of first appearance; a ``members`` coordinate lists each group's
        factor names, joined by ``" + "``.
    confidence : float, default=0.95
        Level of the bootstrap percentile intervals, in (0, 1).
    bootstrap : int, default=1000
        Number of bootstrap resamples: 0 (no intervals, no standard errors) or
        at least 100.

    Returns
    -------
    xarray.Dataset
        As :func:`sobol_from_evaluations`: dimensionless ``S1``, ``ST`` and
        their intervals and standard errors over dim ``input``.

    Raises
    ------
    ValueError
        For an argument out of range (checked before any evaluation), a
        ``func`` output of the wrong shape or not finite (the message counts
        the bad outputs and shows an input row that gave one), or an output
        that does not vary.
    TypeError
        If an argument has the wrong type.

    Examples
    --------
    >>> from nhsrisk.distributions import Normal, Uniform
    >>> laws = [Uniform(0.0, 1.0), Normal(0.0, 1.0), Uniform(0.0, 1.0)]
    >>> def f(x):  # variances 1/12, 1, 0: S1 = ST = (1/13, 12/13, 0)
    ...     return x[:, 0] + x[:, 1] + 0.0 * x[:, 2]
    >>> names = ["a", "b", "c"]
    >>> result = sobol_indices(f, laws, 1024, seed=1, names=names, bootstrap=200)
    >>> result["ST"].round(2).values.tolist()
    [0.08, 0.92, 0.0]
    >>> grouped = sobol_indices(f, laws, 1024, seed=1, names=names, groups=["ab", "ab", "c"], bootstrap=0)
    >>> grouped["S1"].round(2).values.tolist(), grouped["members"].values.tolist()
    ([1.0, 0.0], ['a + b', 'c'])
    """
    caller = "sobol_indices"
    if not callable(func):
        raise TypeError(_fail("func", caller, "a callable", repr(func)))
    laws = _check_distributions(distributions, caller)
    k = len(laws)
    factor_names = [f"x{i + 1}" for i in range(k)] if names is None else None
    if factor_names is None:
        factor_names = _check_labels(names, "names", caller, k, unique=True)
    if groups is None:
        labels, membership = factor_names, np.eye(k, dtype=bool)
    else:
        labels, membership = _group_membership(_check_labels(groups, "groups", caller, k, unique=False))
    base_samples = _check_base_samples(base_samples, caller)
    confidence = _check_confidence(confidence, caller)
    bootstrap = _check_bootstrap(bootstrap, caller)
    seed = resolve_seed(seed, caller)

    uniforms_a, uniforms_b = _design(k, base_samples, seed)
    values_a = _quantiles(laws, uniforms_a, caller)
    values_b = _quantiles(laws, uniforms_b, caller)
    from_b = np.vstack([np.zeros((1, k), dtype=bool), np.ones((1, k), dtype=bool), membership])
    outputs = _evaluate(func, values_a, values_b, from_b, caller)
    result = _analyse(outputs[0], outputs[1], outputs[2:], labels, confidence, bootstrap, seed, caller)
    if groups is not None:
        members = [" + ".join(np.asarray(factor_names)[row]) for row in membership]
        result = result.assign_coords(
            members=("input", np.asarray(members, dtype=str), {"long_name": "factors in the group"})
        )
    return result
