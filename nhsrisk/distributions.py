"""Probability distributions for uncertain scenario inputs.

Every distribution is an immutable value object that validates its parameters,
exposes exact :meth:`~Distribution.mean`, :meth:`~Distribution.var` and
:meth:`~Distribution.ppf`, converts to and from a TOML table, and hands the
numba kernel a compact description of its inverse CDF
(:meth:`~Distribution.kernel_spec`). Inside the kernel every input is sampled
by inversion of one uniform, so plain Monte Carlo and quasi-Monte Carlo share
one code path.

Beta and PERT are inverted in the kernel by piecewise quintic Hermite
interpolation of the exact quantile function, built so that the
probability error ``|F(x(u)) - u|`` stays below :data:`U_RESOLUTION` (1e-10)
everywhere; :meth:`Distribution.kernel_ppf` shows exactly what the kernel
computes. That is possible for ``alpha`` and ``beta`` of at least
:data:`MIN_SHAPE` (0.05) adding up to at most :data:`MAX_CONCENTRATION` (1e6),
and for a PERT ``lambda`` of at most 1e6; other shapes are refused.
"""

from __future__ import annotations

import functools
import hashlib
import math
import os
import tempfile
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import MISSING, dataclass, fields
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from nhsrisk import _sampling
from nhsrisk._rng import stream_key

__all__ = [
    "Bernoulli",
    "Beta",
    "Discrete",
    "Distribution",
    "Fixed",
    "LogNormal",
    "Normal",
    "PERT",
    "Triangular",
    "TruncatedNormal",
    "Uniform",
    "distribution_from_dict",
]

#: Standard normal 90th percentile, _scipy_special().ndtri(0.9).
_Z90 = 1.2815515655446004


def _scipy_stats() -> Any:
    # scipy.stats takes most of a second to import and a simulation does not need
    # it (inversion tables come from the on-disk cache), so it is imported on use.
    import scipy.stats

    return scipy.stats


def _scipy_special() -> Any:
    import scipy.special

    return scipy.special


def _fail(cls_name: str, param: str, value: Any, allowed: str) -> ValueError:
    return ValueError(f"The '{param}' parameter of {cls_name} must be {allowed}. Got {value!r} instead.")


def _describe_number(value: Any) -> str:
    """``repr(value)``, but an integer of many digits abbreviated (its repr can be thousands long).

    Examples
    --------
    >>> _describe_number(0.5), _describe_number(10**400)
    ('0.5', '1000000000...0000000000 (an integer of 401 digits)')
    """
    if not isinstance(value, int) or isinstance(value, bool) or -(10**24) < value < 10**24:
        return repr(value)
    try:
        digits = str(abs(value))
    except ValueError:  # more digits than sys.get_int_max_str_digits() allows to print
        return f"an integer of about {int(abs(value).bit_length() * math.log10(2)) + 1} digits"
    sign = "-" if value < 0 else ""
    return f"{sign}{digits[:10]}...{digits[-10:]} (an integer of {len(digits)} digits)"


def _real(cls_name: str, param: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise TypeError(
            f"The '{param}' parameter of {cls_name} must be a real number. "
            f"Got {value!r} of type {type(value).__name__} instead."
        )
    try:
        number = float(value)
    except OverflowError:  # a Python int beyond the largest double
        raise ValueError(
            f"The '{param}' parameter of {cls_name} must be a finite number within the range of a double. "
            f"Got {_describe_number(value)} instead."
        ) from None
    if not math.isfinite(number):
        raise _fail(cls_name, param, value, "a finite number")
    return number


#: The most extreme uniforms the kernel draws (half an ulp inside 0 and 1): a loaded scenario's
#: quantiles there must be finite.
EXTREME_UNIFORMS = np.array([0.5 * 2.0**-52, 1.0 - 0.5 * 2.0**-52])
#: Standard normal quantile at those uniforms, in magnitude (8.21), rounded up: the kernel's
#: normal quantile there is within a few ulps of it.
_EXTREME_Z = 8.3
#: Far below the largest double (1.8e308): a quantile under it is finite whatever the rounding.
_FAR_FROM_OVERFLOW = 1e300
#: Bounds within which a product of two widths stays far from overflow (4e300 at most).
_FAR_FROM_OVERFLOW_WIDTH = 1e150


def _normal_extremes(distribution: Distribution, surely_finite: bool) -> np.ndarray | None:
    """None when a normal-based quantile is surely finite at the extremes, else the kernel's own."""
    return None if surely_finite else distribution.kernel_ppf(EXTREME_UNIFORMS)


class Distribution:
    """Base class of all distributions. Subclasses are frozen dataclasses."""

    #: Name used for ``dist = "..."`` in TOML.
    kind: ClassVar[str]
    #: Python field name -> TOML key, where they differ.
    _toml_names: ClassVar[dict[str, str]] = {}
    #: True when no single value has positive probability (the support's ends are never drawn).
    continuous: ClassVar[bool] = True

    # -- exact moments and quantiles ------------------------------------------------
    def mean(self) -> float:
        """Exact mean."""
        raise NotImplementedError

    def var(self) -> float:
        """Exact variance."""
        raise NotImplementedError

    def std(self) -> float:
        """Exact standard deviation."""
        return math.sqrt(self.var())

    def support(self) -> tuple[float, float]:
        """Smallest closed interval ``(low, high)`` holding all the probability."""
        raise NotImplementedError

    def ppf(self, q: Any) -> np.ndarray:
        """Exact quantile function (inverse CDF) at probabilities ``q`` in [0, 1].

        Parameters
        ----------
        q : array_like of float
            Probabilities.

        Returns
        -------
        numpy.ndarray
            Quantiles, same shape as ``q``.
        """
        q = np.asarray(q, dtype=float)
        if np.any((q < 0) | (q > 1)) or np.any(np.isnan(q)):
            raise ValueError(f"The 'q' parameter of {type(self).__name__}.ppf must be in [0, 1].")
        return self._ppf(q)

    def _ppf(self, q: np.ndarray) -> np.ndarray:
        """Quantiles at validated probabilities ``q``; scipy's unless a subclass knows better."""
        return self.to_scipy().ppf(q)

    def to_scipy(self) -> Any:
        """Return the equivalent frozen :mod:`scipy.stats` distribution."""
        raise NotImplementedError

    @property
    def is_fixed(self) -> bool:
        """True when every draw gives the same value."""
        low, high = self.support()
        return low == high

    # -- kernel interface ------------------------------------------------------------
    def kernel_spec(self) -> tuple[int, np.ndarray, np.ndarray | None]:
        """``(code, params, table)`` describing the inverse CDF to the numba kernel."""
        raise NotImplementedError

    def kernel_ppf(self, q: Any) -> np.ndarray:
        """Evaluate the inverse CDF exactly as the numba kernel does, for ``q`` in (0, 1)."""
        q = np.ascontiguousarray(q, dtype=float).ravel()
        code, params, table = self.kernel_spec()
        out = np.empty_like(q)
        table_row = np.zeros(2) if table is None else table
        _sampling.inverse_cdf_many(code, params, table_row, q, out)
        return out

    def kernel_extremes(self) -> np.ndarray | None:
        """Return the kernel's quantiles at its most extreme uniforms, or None when surely finite.

        A loaded scenario must not let the kernel produce an infinity. A distribution
        whose support lies within +-1e150 cannot: its quantile stays in its support,
        and no step of the kernel's arithmetic (a width times a width at most) comes
        near the largest double. Otherwise the kernel's inverse CDF is evaluated
        (:meth:`kernel_ppf`), unless a subclass knows its extremes are finite with a
        wide margin. Deciding without the kernel saves loading its compiled inverse
        when a scenario is read (about 0.25 s in a fresh process).

        Returns
        -------
        numpy.ndarray or None
            The two extreme quantiles, or None when they are certainly finite.

        Examples
        --------
        >>> PERT(0.0, 1.0, 4.0).kernel_extremes() is None
        True
        >>> bool(np.isinf(LogNormal(0.0, 100.0).kernel_extremes()).any())
        True
        """
        low, high = self.support()
        if max(abs(low), abs(high)) <= _FAR_FROM_OVERFLOW_WIDTH:
            return None
        return self.kernel_ppf(EXTREME_UNIFORMS)

    def sample(self, draws: int, *, seed: int = 0, name: str = "x", start: int = 0) -> np.ndarray:
        """Draw samples exactly as :func:`nhsrisk.simulate` draws an input of this name.

        Parameters
        ----------
        draws : int
            Number of draws (>= 1).
        seed : int, default=0
            Run seed (>= 0).
        name : str, default="x"
            Stream name: the input's key path in a scenario.
        start : int, default=0
            Index of the first draw.

        Returns
        -------
        numpy.ndarray of shape (draws,)

        Examples
        --------
        >>> from nhsrisk.distributions import Uniform
        >>> x = Uniform(0.0, 2.0).sample(1000, seed=1)
        >>> bool(0.0 < x.min() and x.max() < 2.0)
        True
        """
        from nhsrisk._kernels import sample_stream
        from nhsrisk._validate import check_count, check_seed_int

        draws = check_count(draws, "draws", "Distribution.sample")
        start = check_count(start, "start", "Distribution.sample", minimum=0)
        seed = check_seed_int(seed, "Distribution.sample")
        k0, k1 = stream_key(seed, name)
        code, params, table = self.kernel_spec()
        out = np.empty(draws)
        sample_stream(
            code,
            params,
            np.zeros(2) if table is None else table,
            np.uint64(k0),
            np.uint64(k1),
            start,
            out,
        )
        return out

    # -- TOML ----------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """TOML table for this distribution (``dist`` plus its parameters)."""
        table: dict[str, Any] = {"dist": self.kind}
        for f in fields(self):  # type: ignore[arg-type]
            value = getattr(self, f.name)
            table[self._toml_names.get(f.name, f.name)] = list(value) if isinstance(value, tuple) else value
        return table

    def describe(self) -> str:
        """Short human-readable form, such as ``PERT(min=0.05, mode=0.08, max=0.1)``."""
        table = self.to_dict()
        table.pop("dist", None)
        inner = ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in table.items())
        return f"{type(self).__name__}({inner})"


#: Largest error allowed in probability: |F(x_kernel(u)) - u| for every u in (0, 1).
U_RESOLUTION = 1e-10
#: Largest ``alpha + beta`` of a :class:`Beta` and largest ``lambda`` of a :class:`PERT`. Up to it an
#: inversion table is built in about two seconds at most, and is within half of U_RESOLUTION of the
#: exact CDF (an mpmath quadrature of the density; scipy's CDF is within 4e-13 of it there). Tables
#: still build beyond (in 5 s at 1e12), unverified; such a Beta is a normal distribution in all but
#: name, its standard deviation under 0.0005 of its range.
MAX_CONCENTRATION = 1e6
#: Smallest ``alpha`` or ``beta`` of a :class:`Beta`. Below about 0.04 the quantile nearest an end is
#: so close to it that the density there overflows a double, and no table within U_RESOLUTION can be
#: built; such a Beta puts almost all its probability on the two ends (a Bernoulli or Discrete).
MIN_SHAPE = 0.05
_END_CELL = 1e-12  # probability of each end cell: any monotone fill there meets U_RESOLUTION
_MAX_CELLS = 20_000
#: Equal buckets of probability in an inversion table: 256 records of 64 bytes stay in the L1 cache.
_BUCKETS = 256
#: A far bucket is split into at most 2**_SUB_LEVELS equal sub-cells before its cells are searched.
_SUB_LEVELS = 6
#: Where a cell is checked, as fractions of its width: off-centre, so no node of a split is re-checked.
_CHECK_POINTS = np.linspace(0.0, 1.0, 17)[1:-1] + 0.013


def _horner(records: np.ndarray) -> np.ndarray:
    """Kernel records ``[u0, 1/width, c0..c5]`` from Hermite records ``[u0, u1, x0, x1, m0, m1, a0, a1]``.

    ``x(s) = c0 + s (c1 + s (c2 + s (c3 + s (c4 + s c5))))`` with ``s = (u - u0) / width`` is
    the quintic Hermite interpolant with values x, slopes m and curvatures a
    (per unit s) at both ends of the cell.
    """
    u0, u1, x0, x1, m0, m1, a0, a1 = records.T
    step = x1 - x0
    return np.column_stack(
        [
            u0,
            1.0 / (u1 - u0),
            x0,
            m0,
            0.5 * a0,
            10.0 * step - 6.0 * m0 - 4.0 * m1 - 1.5 * a0 + 0.5 * a1,
            -15.0 * step + 8.0 * m0 + 7.0 * m1 + 1.5 * a0 - a1,
            6.0 * step - 3.0 * m0 - 3.0 * m1 - 0.5 * a0 + 0.5 * a1,
        ]
    )


def _evaluate_records(kernel_records: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Evaluate kernel records at probabilities ``u`` (one row of u per record), as the kernel does."""
    records = np.ascontiguousarray(kernel_records, dtype=np.float64)
    points = np.ascontiguousarray(np.broadcast_to(u, (len(records), np.shape(u)[-1])), dtype=np.float64)
    out = np.empty_like(points)
    _sampling.hermite_cells_at(records, points, out)
    return out


def _beta_records(law: Any, alpha: float, beta: float, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Cell records for cells [lo, hi] of a standard Beta: values, slopes and curvatures in u."""
    ends = np.stack([lo, hi], axis=1)
    x = _beta_ppf(law, ends)
    with np.errstate(divide="ignore", invalid="ignore"):
        density = law.pdf(x)
        slope = 1.0 / density  # dx/du
        log_slope = (alpha - 1.0) / x - (beta - 1.0) / (1.0 - x)  # f'/f
        curvature = -log_slope * slope * slope  # d2x/du2 = -(f'/f) / f**2
    width = (hi - lo)[:, None]
    m = slope * width
    a = curvature * width * width
    tame = np.isfinite(m).all(axis=1) & np.isfinite(a).all(axis=1)
    # Cells touching a point of infinite or zero density are filled linearly.
    m[~tame] = (x[~tame, 1] - x[~tame, 0])[:, None]
    a[~tame] = 0.0
    return np.column_stack([lo, hi, x[:, 0], x[:, 1], m[:, 0], m[:, 1], a[:, 0], a[:, 1]])


#: Largest error in probability of a quantile from scipy taken as it is; a larger one is bisected away.
_PPF_TOLERANCE = 0.01 * U_RESOLUTION


def _beta_ppf(law: Any, u: np.ndarray) -> np.ndarray:
    """Quantiles of a standard Beta: scipy's, bisected on its CDF where they miss by more than 1e-12.

    Boost's inverse incomplete beta function, behind scipy's ``ppf``, misses for some
    ordinary shapes: for Beta(0.5, 2) below u = 1e-8 it is out by 100% (and warns that
    its root finding gave up), for Beta(1000, b) with b above 10**4 by up to 1e-5 in
    probability. The CDF stays accurate (to 1e-15 against mpmath), so a quantile
    whose probability misses by more than :data:`_PPF_TOLERANCE` is found again by
    bisection on the CDF. Elsewhere scipy's value is kept as it is.
    """
    u = np.asarray(u, dtype=float)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # boost's "root finding ... giving up": fixed here
        x = law.ppf(u)
    lower = u <= 0.5
    bad = ~(np.abs(_quantile_miss(law, x, u, lower)) <= _PPF_TOLERANCE)
    if bad.any():
        x[bad] = _bisect_quantile(law, u[bad], lower[bad])
    return x


def _quantile_miss(law: Any, x: np.ndarray, u: np.ndarray, lower: np.ndarray) -> np.ndarray:
    """``F(x) - u``, from the smaller tail (a CDF near 1 has no digits left): > 0 when x is too large."""
    return np.where(lower, law.cdf(x) - u, (1.0 - u) - law.sf(x))


def _bisect_quantile(law: Any, u: np.ndarray, lower: np.ndarray) -> np.ndarray:
    """Return the double in [0, 1] whose probability is nearest ``u``, bisecting the bits of x.

    Positive doubles are ordered as their bit patterns are, so 62 halvings of the
    patterns between 0.0 and 1.0 reach adjacent doubles however close to 0 the quantile is.
    """
    low = np.zeros(u.shape, dtype=np.int64)
    high = np.full(u.shape, np.float64(1.0).view(np.int64))
    while np.any(high - low > 1):
        middle = low + (high - low) // 2
        too_large = _quantile_miss(law, middle.view(np.float64), u, lower) >= 0
        high = np.where(too_large, middle, high)
        low = np.where(too_large, low, middle)
    x_low, x_high = low.view(np.float64), high.view(np.float64)
    nearer_low = np.abs(_quantile_miss(law, x_low, u, lower)) < np.abs(_quantile_miss(law, x_high, u, lower))
    return np.where(nearer_low, x_low, x_high)


def _cdf_step(law: Any, x: np.ndarray) -> np.ndarray:
    """Largest change of the CDF between ``x`` and its neighbouring doubles: the floor of any sampler."""

    def probability(y: np.ndarray) -> np.ndarray:
        # the smaller tail probability, which keeps its digits
        return np.where(x <= law.median(), law.cdf(y), law.sf(y))

    here = probability(x)
    up = np.abs(probability(np.nextafter(x, np.inf)) - here)
    down = np.abs(here - probability(np.nextafter(x, -np.inf)))
    return np.maximum(up, down)


#: Bump when the table construction changes: cached tables of other versions are ignored.
_TABLE_VERSION = 9


def _table_cache_dir() -> Path | None:
    configured = os.environ.get("NHSRISK_CACHE_DIR")
    if configured == "":
        return None  # caching turned off
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "nhsrisk"


@functools.lru_cache(maxsize=512)
def _inversion_table(alpha: float, beta: float) -> np.ndarray:
    """Inversion table of Beta(alpha, beta), from the on-disk cache when there.

    Building a table takes tens of milliseconds of scipy calls, and a scenario
    may have a hundred of them, so tables are kept in ``$NHSRISK_CACHE_DIR``
    (default ``~/.cache/nhsrisk``; set it to the empty string to turn caching
    off). A cache file is only a copy of what :func:`_build_inversion_table`
    returns for the same arguments and version; an unreadable one is rebuilt.
    """
    folder = _table_cache_dir()
    name = hashlib.sha256(f"{_TABLE_VERSION}:{U_RESOLUTION!r}:{alpha!r}:{beta!r}".encode()).hexdigest()[:32]
    path = folder / f"beta-{name}.npy" if folder is not None else None
    if path is not None:
        try:
            table = np.load(path, allow_pickle=False)
            if table.ndim == 1 and table.dtype == np.float64 and _table_is_consistent(table):
                table.flags.writeable = False
                return table
        except (OSError, ValueError):
            pass
    table = _build_inversion_table(alpha, beta)
    if folder is not None and path is not None:
        try:
            folder.mkdir(parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(dir=folder, suffix=".npy.partial")
            with os.fdopen(handle, "wb") as stream:
                np.save(stream, table, allow_pickle=False)
            os.replace(temporary, path)
        except OSError:
            pass  # a read-only home: the table is still correct, only not kept
    return table


def _table_is_consistent(table: np.ndarray) -> bool:
    """Cheap structural check of a cached table (sizes, ordering, finite values, links)."""
    if table.size < 8:
        return False
    n_buckets, n_sub, n_cells = int(table[0]), int(table[1]), int(table[2])
    if n_buckets < 2 or n_sub < 2 or n_cells < 2 or table.size != 8 + 8 * (n_buckets + n_sub + n_cells):
        return False
    if not np.isfinite(table).all():
        return False
    buckets = table[8 : 8 + 8 * n_buckets].reshape(n_buckets, 8)
    subs = table[8 + 8 * n_buckets : 8 + 8 * (n_buckets + n_sub)].reshape(n_sub, 8)
    cells = table[8 + 8 * (n_buckets + n_sub) :].reshape(n_cells, 8)
    far = buckets[:, 1] < 0
    first, count = buckets[far, 2].astype(int), buckets[far, 4].astype(int)
    searched = subs[:, 1] < 0
    into = subs[searched, 2].astype(int)
    return bool(
        np.array_equal(buckets[:, 0], np.arange(n_buckets) / n_buckets)
        and far[0]
        and far[-1]
        and np.array_equal(first[1:], np.cumsum(count)[:-1])
        and first[0] == 0
        and count.sum() == n_sub
        and np.array_equal(buckets[far, 3], n_buckets * buckets[far, 4])
        and np.all(np.diff(subs[:, 0]) > 0)
        and np.array_equal(subs[first, 0], buckets[far, 0])
        and cells[0, 0] == 0.0
        and np.all(np.diff(cells[:, 0]) > 0)
        and np.all((into >= 0) & (into < n_cells))
        and np.array_equal(cells[into, 0], subs[searched, 0])
    )


def _build_inversion_table(alpha: float, beta: float) -> np.ndarray:
    """Inverse CDF of Beta(alpha, beta) as piecewise quintic Hermite cells in probability.

    The construction follows the idea of PINV (Derflinger, Hörmann and Leydold,
    ACM TOMACS 20(4), 2010): a cell is split until the *u-error*
    ``|F(x(u)) - u|`` at check points inside it is below :data:`U_RESOLUTION`
    (plus twice the step of F between x and its neighbouring doubles, where the
    density is so steep that no double does better) and the interpolant is
    monotone there. Node values are scipy's ``ppf``, bisected on scipy's CDF
    where they miss (see :func:`_beta_ppf`); slopes ``1/f`` and curvatures
    ``-f'/f**3`` are exact. The two end cells (probability 1e-12 each) are
    filled linearly, which meets the bound by their size.

    The cells are laid out so that the kernel finds a uniform's cell without a
    search almost always. They are first the :data:`_BUCKETS` equal buckets of
    probability: one multiplication and one load away. A bucket that fails the
    bound (the two end buckets always, which hold the tails) is a *far* bucket,
    split into the fewest equal sub-cells (2, 4, ... up to 2 ** :data:`_SUB_LEVELS`)
    that all meet it: one more multiplication and load. A sub-cell that still
    fails (next to the ends, or for a U-shaped Beta) is split by halving into
    *searched* cells.

    Returns a row: ``[n_buckets, n_sub, n_searched, 0 x 5]``, then the
    ``n_buckets`` bucket records, the ``n_sub`` sub-cell records and the
    ``n_searched`` searched cells (in order of probability), 8 doubles each.
    A cell's record is ``[u0, 1/width, c0..c5]`` (one cache line: its start,
    its reciprocal width and its polynomial in Horner form). A far bucket's
    record is ``[u0, -1, first sub-cell, sub-cells per unit u, sub-cells, 0 x 3]``,
    and a searched sub-cell's ``[u0, -1, first searched cell, 0 x 5]``: a
    negative width marks both. The checks evaluate exactly the kernel's arithmetic.
    """
    law = _scipy_stats().beta(alpha, beta)
    n = _BUCKETS
    bucket_lo = np.arange(n) / n
    inner = _beta_records(law, alpha, beta, bucket_lo[1:-1], bucket_lo[2:])
    good = np.concatenate([[False], _cells_meet_bound(law, inner), [False]])
    buckets = np.zeros((n, 8))
    buckets[1:-1] = _horner(inner)
    far = np.flatnonzero(~good)
    levels, sub_records, sub_good = _split_far_buckets(law, alpha, beta, far, n)
    # Cells searched: the sub-cells that fail at the last level, the ends split at decades.
    sub_index = [b * 2**k + np.arange(2**k + 1) for b, k in zip(far, levels, strict=True)]
    sub_lo = np.concatenate([i[:-1] / (n * 2**k) for i, k in zip(sub_index, levels, strict=True)])
    sub_hi = np.concatenate([i[1:] / (n * 2**k) for i, k in zip(sub_index, levels, strict=True)])
    searched = np.flatnonzero(~sub_good)
    lowest, highest = sub_hi[0], sub_lo[-1]
    decades = np.logspace(-12, -2, 6)
    lower_nodes = np.unique(np.concatenate([[_END_CELL], decades[decades < lowest], [lowest]]))
    upper_nodes = np.sort(
        1.0 - np.unique(np.concatenate([[_END_CELL], decades[decades < 1.0 - highest], [1.0 - highest]]))
    )
    middle = searched[(searched != 0) & (searched != len(sub_lo) - 1)]
    pending_lo = np.concatenate([lower_nodes[:-1], upper_nodes[:-1], sub_lo[middle]])
    pending_hi = np.concatenate([lower_nodes[1:], upper_nodes[1:], sub_hi[middle]])
    ends = _beta_records(law, alpha, beta, np.array([0.0, 1.0 - _END_CELL]), np.array([_END_CELL, 1.0]))
    ends[:, 4:] = 0.0
    ends[:, 4] = ends[:, 5] = ends[:, 3] - ends[:, 2]
    cells = np.concatenate(
        [ends, _split_until_bound(law, alpha, beta, pending_lo, pending_hi, n + len(sub_lo))]
    )
    cells = _horner(cells[np.argsort(cells[:, 0])])
    subs = np.zeros((len(sub_lo), 8))
    subs[sub_good] = _horner(sub_records[sub_good])
    subs[searched] = 0.0
    subs[searched, 0] = sub_lo[searched]
    subs[searched, 1] = -1.0
    subs[searched, 2] = np.searchsorted(cells[:, 0], sub_lo[searched])
    first_sub = np.concatenate([[0], np.cumsum(2**levels)[:-1]])
    buckets[far] = 0.0
    buckets[far, 0] = bucket_lo[far]
    buckets[far, 1] = -1.0
    buckets[far, 2] = first_sub
    buckets[far, 3] = n * 2.0**levels
    buckets[far, 4] = 2**levels
    header = np.zeros(8)
    header[:3] = n, len(subs), len(cells)
    table = np.concatenate([header, buckets.ravel(), subs.ravel(), cells.ravel()])
    table.flags.writeable = False
    return table


def _split_far_buckets(
    law: Any, alpha: float, beta: float, far: np.ndarray, n_buckets: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Split each far bucket into the fewest equal sub-cells (a power of two) that all meet the bound.

    Returns each bucket's level ``k`` (2**k sub-cells), and the Hermite records of
    all sub-cells in order with whether each meets the bound (at the last level
    some may not: they are searched). The first sub-cell of the first bucket and
    the last of the last hold the ends, and are always searched.
    """
    levels = np.full(len(far), _SUB_LEVELS)
    found: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    pending = np.arange(len(far))
    for k in range(1, _SUB_LEVELS + 1):
        m = 2**k
        owner = np.repeat(pending, m)
        index = far[owner] * m + np.tile(np.arange(m), len(pending))
        lo, hi = index / (n_buckets * m), (index + 1) / (n_buckets * m)
        at_end = (index == 0) | (index == n_buckets * m - 1)
        records = np.zeros((len(index), 8))
        ok = np.zeros(len(index), dtype=bool)
        inside = ~at_end
        if inside.any():
            records[inside] = _beta_records(law, alpha, beta, lo[inside], hi[inside])
            ok[inside] = _cells_meet_bound(law, records[inside])
        all_ok = np.logical_and.reduceat(ok, np.arange(0, len(index), m))
        keep = all_ok if k < _SUB_LEVELS else np.ones(len(pending), dtype=bool)
        for position, bucket in enumerate(pending):
            if keep[position]:
                part = slice(position * m, (position + 1) * m)
                levels[bucket] = k
                found[int(bucket)] = (records[part], ok[part])
        pending = pending[~keep]
        if not len(pending):
            break
    sub_records = np.concatenate([found[b][0] for b in range(len(far))])
    sub_good = np.concatenate([found[b][1] for b in range(len(far))])
    return levels, sub_records, sub_good


def _cells_meet_bound(law: Any, records: np.ndarray) -> np.ndarray:
    """Which Hermite cells (records ``[u0, u1, x0, x1, ...]``) meet the u-error bound and are monotone."""
    lo, hi = records[:, 0], records[:, 1]
    u = lo[:, None] + (hi - lo)[:, None] * _CHECK_POINTS
    xs = _evaluate_records(_horner(records), u)
    allowance = 0.5 * U_RESOLUTION + 2.0 * _cdf_step(law, xs)
    # Above the median compare survival probabilities: a cdf near 1 has no digits left.
    error = np.where(u > 0.5, np.abs(law.sf(xs) - (1.0 - u)), np.abs(law.cdf(xs) - u))
    path = np.concatenate([records[:, 2:3], xs, records[:, 3:4]], axis=1)
    return (error <= allowance).all(axis=1) & (np.diff(path, axis=1) >= 0).all(axis=1)


def _split_until_bound(
    law: Any, alpha: float, beta: float, pending_lo: np.ndarray, pending_hi: np.ndarray, n_buckets: int
) -> np.ndarray:
    """Hermite records of cells covering ``[pending_lo, pending_hi]``, split until each meets the bound."""
    accepted = []
    n_cells = n_buckets + 2
    while len(pending_lo):
        records = _beta_records(law, alpha, beta, pending_lo, pending_hi)
        good = _cells_meet_bound(law, records)
        accepted.append(records[good])
        n_cells += int(good.sum())
        lo, hi = pending_lo[~good], pending_hi[~good]
        if n_cells + 2 * len(lo) > _MAX_CELLS:
            raise ValueError(
                f"Beta({alpha!r}, {beta!r}) is too extreme to invert within {U_RESOLUTION} "
                f"in {_MAX_CELLS} cells; use a less U-shaped distribution"
            )
        tail = (hi < 0.01) & (hi > 2 * lo) & (lo > 0)
        upper = (lo > 0.99) & (1 - lo > 2 * (1 - hi))
        middle = np.where(tail, np.sqrt(lo * hi), 0.5 * (lo + hi))
        middle = np.where(upper, 1.0 - np.sqrt((1.0 - lo) * (1.0 - hi)), middle)
        pending_lo = np.concatenate([lo, middle])
        pending_hi = np.concatenate([middle, hi])
    return np.concatenate(accepted) if accepted else np.zeros((0, 8))


@dataclass(frozen=True)
class Fixed(Distribution):
    """A certain value.

    Parameters
    ----------
    value : float
        The value in every draw.

    Examples
    --------
    >>> Fixed(0.035).mean()
    0.035
    """

    value: float
    kind: ClassVar[str] = "fixed"
    continuous: ClassVar[bool] = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "value", _real("Fixed", "value", self.value))

    def mean(self) -> float:  # noqa: D102
        return self.value

    def var(self) -> float:  # noqa: D102
        return 0.0

    def support(self) -> tuple[float, float]:  # noqa: D102
        return (self.value, self.value)

    def _ppf(self, q: np.ndarray) -> np.ndarray:
        return np.full(q.shape, self.value)

    def to_scipy(self) -> Any:  # noqa: D102
        return _scipy_stats().rv_discrete(values=([self.value], [1.0]))

    def kernel_spec(self) -> tuple[int, np.ndarray, np.ndarray | None]:  # noqa: D102
        return _sampling.FIXED, np.array([self.value, 0.0, 0.0, 0.0, 0.0]), None

    def to_dict(self) -> dict[str, Any]:  # noqa: D102
        return {"value": self.value}


@dataclass(frozen=True)
class Uniform(Distribution):
    """Uniform on ``[low, high]``.

    Parameters
    ----------
    low, high : float
        Bounds, ``low < high``.

    Examples
    --------
    >>> Uniform(0.1, 0.3).mean()
    0.2
    """

    low: float
    high: float
    kind: ClassVar[str] = "uniform"

    def __post_init__(self) -> None:
        low = _real("Uniform", "low", self.low)
        high = _real("Uniform", "high", self.high)
        if not high > low:
            raise _fail("Uniform", "high", high, f"greater than low={low!r}")
        object.__setattr__(self, "low", low)
        object.__setattr__(self, "high", high)

    def mean(self) -> float:  # noqa: D102
        return 0.5 * (self.low + self.high)

    def var(self) -> float:  # noqa: D102
        return (self.high - self.low) ** 2 / 12.0

    def support(self) -> tuple[float, float]:  # noqa: D102
        return (self.low, self.high)

    def to_scipy(self) -> Any:  # noqa: D102
        return _scipy_stats().uniform(loc=self.low, scale=self.high - self.low)

    def kernel_spec(self) -> tuple[int, np.ndarray, np.ndarray | None]:  # noqa: D102
        return _sampling.UNIFORM, np.array([self.low, self.high - self.low, 0.0, 0.0, 0.0]), None


@dataclass(frozen=True)
class Triangular(Distribution):
    """Triangular on ``[low, high]`` with peak at ``mode`` (TOML keys ``min``, ``mode``, ``max``).

    Examples
    --------
    >>> round(Triangular(0.0, 1.0, 2.0).mean(), 12)
    1.0
    """

    low: float
    mode: float
    high: float
    kind: ClassVar[str] = "triangular"
    _toml_names: ClassVar[dict[str, str]] = {"low": "min", "high": "max"}

    def __post_init__(self) -> None:
        low, mode, high = _three_point("Triangular", self.low, self.mode, self.high)
        object.__setattr__(self, "low", low)
        object.__setattr__(self, "mode", mode)
        object.__setattr__(self, "high", high)

    def mean(self) -> float:  # noqa: D102
        return (self.low + self.mode + self.high) / 3.0

    def var(self) -> float:  # noqa: D102
        a, c, b = self.low, self.mode, self.high
        return (a * a + b * b + c * c - a * b - a * c - b * c) / 18.0

    def support(self) -> tuple[float, float]:  # noqa: D102
        return (self.low, self.high)

    def to_scipy(self) -> Any:  # noqa: D102
        width = self.high - self.low
        return _scipy_stats().triang((self.mode - self.low) / width, loc=self.low, scale=width)

    def kernel_spec(self) -> tuple[int, np.ndarray, np.ndarray | None]:  # noqa: D102
        split = (self.mode - self.low) / (self.high - self.low)
        return _sampling.TRIANGULAR, np.array([self.low, self.mode, self.high, split, 0.0]), None


def _three_point(cls_name: str, low: Any, mode: Any, high: Any) -> tuple[float, float, float]:
    low = _real(cls_name, "min", low)
    mode = _real(cls_name, "mode", mode)
    high = _real(cls_name, "max", high)
    if not high > low:
        raise _fail(cls_name, "max", high, f"greater than min={low!r}")
    if not low <= mode <= high:
        raise _fail(cls_name, "mode", mode, f"within [min, max] = [{low!r}, {high!r}]")
    return low, mode, high


class _ScaledBeta(Distribution):
    """Shared maths of Beta and PERT: a Beta(alpha, beta) on [lower, upper]."""

    def _shape(self) -> tuple[float, float, float, float]:
        raise NotImplementedError

    def mean(self) -> float:  # noqa: D102
        a, b, lower, upper = self._shape()
        return lower + (upper - lower) * a / (a + b)

    def var(self) -> float:  # noqa: D102
        a, b, lower, upper = self._shape()
        return (upper - lower) ** 2 * a * b / ((a + b) ** 2 * (a + b + 1.0))

    def support(self) -> tuple[float, float]:  # noqa: D102
        _, _, lower, upper = self._shape()
        return (lower, upper)

    def to_scipy(self) -> Any:  # noqa: D102
        a, b, lower, upper = self._shape()
        return _scipy_stats().beta(a, b, loc=lower, scale=upper - lower)

    def kernel_spec(self) -> tuple[int, np.ndarray, np.ndarray | None]:  # noqa: D102
        a, b, lower, upper = self._shape()
        table = _inversion_table(float(a), float(b))
        return _sampling.BETA_TABLE, np.array([lower, upper - lower, 0.0, 0.0, 0.0]), table


@dataclass(frozen=True)
class PERT(_ScaledBeta):
    """Beta-PERT on ``[low, high]`` with most likely value ``mode`` and shape ``lam``.

    A Beta distribution with ``alpha = 1 + lam (mode - low) / (high - low)`` and
    ``beta = 1 + lam (high - mode) / (high - low)``; its mean is
    ``(low + lam mode + high) / (lam + 2)``. TOML keys: ``min``, ``mode``,
    ``max``, ``lambda``. ``lam`` must be in (0, :data:`MAX_CONCENTRATION`],
    that is (0, 1e6]: beyond it the Beta's inversion table cannot be built
    accurately in bounded time (see :class:`Beta`).

    Examples
    --------
    >>> round(PERT(0.05, 0.08, 0.10).mean(), 12)
    0.078333333333
    """

    low: float
    mode: float
    high: float
    lam: float = 4.0
    kind: ClassVar[str] = "pert"
    _toml_names: ClassVar[dict[str, str]] = {"low": "min", "high": "max", "lam": "lambda"}

    def __post_init__(self) -> None:
        low, mode, high = _three_point("PERT", self.low, self.mode, self.high)
        lam = _real("PERT", "lambda", self.lam)
        if not 0 < lam <= MAX_CONCENTRATION:
            raise _fail(
                "PERT",
                "lambda",
                lam,
                f"in (0, {MAX_CONCENTRATION:g}] (a larger lambda makes a Beta too concentrated to invert "
                "accurately in bounded time: use a Triangular, a TruncatedNormal or a fixed value)",
            )
        object.__setattr__(self, "low", low)
        object.__setattr__(self, "mode", mode)
        object.__setattr__(self, "high", high)
        object.__setattr__(self, "lam", lam)

    def _shape(self) -> tuple[float, float, float, float]:
        width = self.high - self.low
        alpha = 1.0 + self.lam * (self.mode - self.low) / width
        beta = 1.0 + self.lam * (self.high - self.mode) / width
        return alpha, beta, self.low, self.high


@dataclass(frozen=True)
class Beta(_ScaledBeta):
    """Beta(alpha, beta) scaled to ``[low, high]`` (default [0, 1]).

    ``alpha`` and ``beta`` must each be at least :data:`MIN_SHAPE` (0.05) and
    add up to at most :data:`MAX_CONCENTRATION` (1e6): within these bounds the
    kernel's inversion table is built in two seconds at most and is accurate to
    :data:`U_RESOLUTION` in probability. A smaller shape piles almost all the
    probability onto the ends (use a Bernoulli or Discrete); a larger
    concentration is a normal distribution with a standard deviation under
    0.0005 of the range (use a TruncatedNormal or a fixed value).

    Examples
    --------
    >>> d = Beta.from_mean_sd(0.3, 0.05)
    >>> round(d.mean(), 12), round(d.std(), 12)
    (0.3, 0.05)
    """

    alpha: float
    beta: float
    low: float = 0.0
    high: float = 1.0
    kind: ClassVar[str] = "beta"

    def __post_init__(self) -> None:
        for name in ("alpha", "beta"):
            value = _real("Beta", name, getattr(self, name))
            if not value > 0:
                raise _fail("Beta", name, value, "> 0")
            if value < MIN_SHAPE:
                raise _fail(
                    "Beta",
                    name,
                    value,
                    f">= {MIN_SHAPE} (a smaller one piles almost all the probability onto an end of the "
                    "range, too steeply to invert accurately: use a Bernoulli or Discrete instead)",
                )
            object.__setattr__(self, name, value)
        if not self.alpha + self.beta <= MAX_CONCENTRATION:
            raise ValueError(
                f"The 'alpha' and 'beta' parameters of Beta must add up to at most {MAX_CONCENTRATION:g} "
                "(a more concentrated Beta is a normal distribution in all but name, and too narrow to "
                "invert accurately in bounded time: use a TruncatedNormal or a fixed value instead). "
                f"Got alpha={self.alpha!r} and beta={self.beta!r} (alpha + beta = "
                f"{self.alpha + self.beta!r}) instead."
            )
        low = _real("Beta", "low", self.low)
        high = _real("Beta", "high", self.high)
        if not high > low:
            raise _fail("Beta", "high", high, f"greater than low={low!r}")
        object.__setattr__(self, "low", low)
        object.__setattr__(self, "high", high)
        try:
            _inversion_table(self.alpha, self.beta)
        except (ValueError, ArithmeticError):  # scipy raises OverflowError where the density does
            raise _fail(
                "Beta",
                "alpha" if self.alpha <= self.beta else "beta",
                min(self.alpha, self.beta),
                f"large enough for the kernel to invert Beta({self.alpha!r}, {self.beta!r}) within "
                f"{U_RESOLUTION} (this shape piles almost all its mass onto the ends; use a Bernoulli "
                f"or Discrete instead)",
            ) from None

    @classmethod
    def from_mean_sd(cls, mean: float, sd: float, low: float = 0.0, high: float = 1.0) -> Beta:
        """Beta on ``[low, high]`` with the given mean and standard deviation.

        Raises
        ------
        ValueError
            If ``mean`` is not strictly inside ``(low, high)``, ``sd`` is not
            below the largest standard deviation a Beta with that mean can have,
            or the Beta it gives is outside the bounds of :class:`Beta`.
        """
        mean = _real("Beta.from_mean_sd", "mean", mean)
        sd = _real("Beta.from_mean_sd", "sd", sd)
        low = _real("Beta.from_mean_sd", "low", low)
        high = _real("Beta.from_mean_sd", "high", high)
        if not high > low:
            raise _fail("Beta.from_mean_sd", "high", high, f"greater than low={low!r}")
        if not low < mean < high:
            raise _fail("Beta.from_mean_sd", "mean", mean, f"strictly inside ({low!r}, {high!r})")
        m = (mean - low) / (high - low)
        s = sd / (high - low)
        limit = math.sqrt(m * (1.0 - m)) * (high - low)
        if not 0 < sd < limit:
            raise _fail("Beta.from_mean_sd", "sd", sd, f"in (0, {limit!r}) for mean={mean!r}")
        if s * s == 0.0:
            raise _fail("Beta.from_mean_sd", "sd", sd, "large enough that its square is a positive double")
        nu = m * (1.0 - m) / (s * s) - 1.0
        if not nu <= MAX_CONCENTRATION:
            smallest = math.sqrt(m * (1.0 - m) / (MAX_CONCENTRATION + 1.0)) * (high - low)
            raise _fail(
                "Beta.from_mean_sd",
                "sd",
                sd,
                f">= {smallest:.6g} for mean={mean!r}, so that alpha + beta is at most {MAX_CONCENTRATION:g} "
                f"(this sd makes it {nu:.6g}: a normal distribution in all but name; use a TruncatedNormal)",
            )
        return cls(m * nu, (1.0 - m) * nu, low, high)

    def _shape(self) -> tuple[float, float, float, float]:
        return self.alpha, self.beta, self.low, self.high


@dataclass(frozen=True)
class Normal(Distribution):
    """Normal with mean ``mean`` and standard deviation ``sd``.

    Examples
    --------
    >>> Normal(1.0, 2.0).var()
    4.0
    """

    mu: float
    sd: float
    kind: ClassVar[str] = "normal"
    _toml_names: ClassVar[dict[str, str]] = {"mu": "mean"}

    def __post_init__(self) -> None:
        object.__setattr__(self, "mu", _real("Normal", "mean", self.mu))
        sd = _real("Normal", "sd", self.sd)
        if not sd > 0:
            raise _fail("Normal", "sd", sd, "> 0")
        object.__setattr__(self, "sd", sd)

    def mean(self) -> float:  # noqa: D102
        return self.mu

    def var(self) -> float:  # noqa: D102
        return self.sd * self.sd

    def support(self) -> tuple[float, float]:  # noqa: D102
        return (-math.inf, math.inf)

    def to_scipy(self) -> Any:  # noqa: D102
        return _scipy_stats().norm(loc=self.mu, scale=self.sd)

    def kernel_spec(self) -> tuple[int, np.ndarray, np.ndarray | None]:  # noqa: D102
        return _sampling.NORMAL, np.array([self.mu, self.sd, 0.0, 0.0, 0.0]), None

    def kernel_extremes(self) -> np.ndarray | None:  # noqa: D102
        return _normal_extremes(self, abs(self.mu) + self.sd * _EXTREME_Z < _FAR_FROM_OVERFLOW)


@dataclass(frozen=True)
class TruncatedNormal(Distribution):
    """Normal(``mean``, ``sd``) truncated to ``[low, high]``.

    Examples
    --------
    >>> d = TruncatedNormal(0.0, 1.0, -1.0, 1.0)
    >>> round(d.mean(), 12)
    0.0
    """

    mu: float
    sd: float
    low: float
    high: float
    kind: ClassVar[str] = "truncnormal"
    _toml_names: ClassVar[dict[str, str]] = {"mu": "mean"}

    def __post_init__(self) -> None:
        object.__setattr__(self, "mu", _real("TruncatedNormal", "mean", self.mu))
        sd = _real("TruncatedNormal", "sd", self.sd)
        if not sd > 0:
            raise _fail("TruncatedNormal", "sd", sd, "> 0")
        low = _real("TruncatedNormal", "low", self.low)
        high = _real("TruncatedNormal", "high", self.high)
        if not high > low:
            raise _fail("TruncatedNormal", "high", high, f"greater than low={low!r}")
        object.__setattr__(self, "sd", sd)
        object.__setattr__(self, "low", low)
        object.__setattr__(self, "high", high)
        mass = self._mass()
        if not mass > 1e-12:
            raise _fail(
                "TruncatedNormal",
                "low",
                low,
                f"such that [low, high] holds at least 1e-12 of the normal's probability "
                f"(it holds {mass:.3g}); use a Uniform there",
            )

    def _standard_bounds(self) -> tuple[float, float]:
        return (self.low - self.mu) / self.sd, (self.high - self.mu) / self.sd

    def _mass(self) -> float:
        a, b = self._standard_bounds()
        if a > 0:
            return float(_scipy_special().ndtr(-a) - _scipy_special().ndtr(-b))
        return float(_scipy_special().ndtr(b) - _scipy_special().ndtr(a))

    def _ppf(self, q: np.ndarray) -> np.ndarray:
        """Exact quantiles, from whichever tail keeps ``ndtri``'s argument small.

        More accurate than ``scipy.stats.truncnorm.ppf`` far in the upper tail
        of an interval that contains the mean; equal to it elsewhere.
        """
        _, scale, base, width, upper = self.kernel_spec()[1]
        ndtri = _scipy_special().ndtri
        lower_form = self.mu + scale * ndtri(np.clip(base + q * width, 0.0, 1.0))
        if scale < 0:
            return self._pin_ends(lower_form, q)
        upper_form = self.mu - scale * ndtri(np.clip(upper + (1.0 - q) * width, 0.0, 1.0))
        x = np.where(base + q * width <= 0.5, lower_form, upper_form)
        return self._pin_ends(x, q)

    def _pin_ends(self, x: np.ndarray, q: np.ndarray) -> np.ndarray:
        # The ends of the support exactly, not their rounded images through ndtri.
        return np.where(q == 0, self.low, np.where(q == 1, self.high, np.clip(x, self.low, self.high)))

    def mean(self) -> float:  # noqa: D102
        return float(self.to_scipy().mean())

    def var(self) -> float:  # noqa: D102
        return float(self.to_scipy().var())

    def support(self) -> tuple[float, float]:  # noqa: D102
        return (self.low, self.high)

    def to_scipy(self) -> Any:  # noqa: D102
        a, b = self._standard_bounds()
        return _scipy_stats().truncnorm(a, b, loc=self.mu, scale=self.sd)

    def kernel_spec(self) -> tuple[int, np.ndarray, np.ndarray | None]:  # noqa: D102
        a, b = self._standard_bounds()
        ndtr = _scipy_special().ndtr
        if a > 0:
            # Wholly above the mean: sample the mirror image [-b, -a], which lies
            # below it, so ndtri only ever sees small probabilities:
            # x = mean - sd * ndtri(top - u * width) with top = Phi(-a).
            top = float(ndtr(-a))
            width = top - float(ndtr(-b))
            return _sampling.TRUNCNORMAL, np.array([self.mu, -self.sd, top, -width, 0.0]), None
        # Below the median of the truncated law x = mean + sd * ndtri(Phi(a) + u * width);
        # above it the kernel uses the upper form mean - sd * ndtri(Phi(-b) + (1 - u) * width).
        base = float(ndtr(a))
        upper = float(ndtr(-b))
        width = float(ndtr(b)) - base if b <= 0 else float(ndtr(-a)) - upper
        return _sampling.TRUNCNORMAL, np.array([self.mu, self.sd, base, width, upper]), None


@dataclass(frozen=True)
class LogNormal(Distribution):
    """Log-normal: ``log(x)`` is Normal(``mu``, ``sigma``).

    Examples
    --------
    >>> d = LogNormal.from_median_p90(1.0, 2.0)
    >>> round(float(d.ppf(0.9)), 12)
    2.0
    """

    mu: float
    sigma: float
    kind: ClassVar[str] = "lognormal"

    def __post_init__(self) -> None:
        object.__setattr__(self, "mu", _real("LogNormal", "mu", self.mu))
        sigma = _real("LogNormal", "sigma", self.sigma)
        if not sigma > 0:
            raise _fail("LogNormal", "sigma", sigma, "> 0")
        object.__setattr__(self, "sigma", sigma)

    @classmethod
    def from_median_p90(cls, median: float, p90: float) -> LogNormal:
        """Log-normal with the given median and 90th percentile (``0 < median < p90``)."""
        median = _real("LogNormal.from_median_p90", "median", median)
        p90 = _real("LogNormal.from_median_p90", "p90", p90)
        if not median > 0:
            raise _fail("LogNormal.from_median_p90", "median", median, "> 0")
        if not p90 > median:
            raise _fail("LogNormal.from_median_p90", "p90", p90, f"greater than median={median!r}")
        return cls(math.log(median), (math.log(p90) - math.log(median)) / _Z90)

    def mean(self) -> float:  # noqa: D102
        return math.exp(self.mu + 0.5 * self.sigma**2)

    def var(self) -> float:  # noqa: D102
        s2 = self.sigma**2
        return math.expm1(s2) * math.exp(2.0 * self.mu + s2)

    def support(self) -> tuple[float, float]:  # noqa: D102
        return (0.0, math.inf)

    def to_scipy(self) -> Any:  # noqa: D102
        return _scipy_stats().lognorm(self.sigma, scale=math.exp(self.mu))

    def kernel_spec(self) -> tuple[int, np.ndarray, np.ndarray | None]:  # noqa: D102
        return _sampling.LOGNORMAL, np.array([self.mu, self.sigma, 0.0, 0.0, 0.0]), None

    def kernel_extremes(self) -> np.ndarray | None:  # noqa: D102
        return _normal_extremes(self, self.mu + self.sigma * _EXTREME_Z < math.log(_FAR_FROM_OVERFLOW))


@dataclass(frozen=True)
class Bernoulli(Distribution):
    """1 with probability ``p``, else 0.

    Examples
    --------
    >>> Bernoulli(0.17).mean()
    0.17
    """

    p: float
    kind: ClassVar[str] = "bernoulli"
    continuous: ClassVar[bool] = False

    def __post_init__(self) -> None:
        p = _real("Bernoulli", "p", self.p)
        if not 0.0 <= p <= 1.0:
            raise _fail("Bernoulli", "p", p, "in [0, 1]")
        object.__setattr__(self, "p", p)

    def mean(self) -> float:  # noqa: D102
        return self.p

    def var(self) -> float:  # noqa: D102
        return self.p * (1.0 - self.p)

    def support(self) -> tuple[float, float]:  # noqa: D102
        return (0.0 if self.p < 1.0 else 1.0, 1.0 if self.p > 0.0 else 0.0)

    def _ppf(self, q: np.ndarray) -> np.ndarray:
        """0 for ``q <= 1 - p``, else 1 (scipy's convention, except that ``ppf(0)`` is 0, not -1)."""
        return np.where(q > 1.0 - self.p, 1.0, 0.0)

    def to_scipy(self) -> Any:  # noqa: D102
        return _scipy_stats().bernoulli(self.p)

    def kernel_spec(self) -> tuple[int, np.ndarray, np.ndarray | None]:  # noqa: D102
        return _sampling.BERNOULLI, np.array([1.0 - self.p, 0.0, 0.0, 0.0, 0.0]), None


@dataclass(frozen=True)
class Discrete(Distribution):
    """One of ``values`` with the matching ``probabilities`` (which sum to 1).

    Examples
    --------
    >>> round(Discrete((0.0, 1.0, 2.0), (0.4, 0.4, 0.2)).mean(), 12)
    0.8
    """

    values: tuple[float, ...]
    probabilities: tuple[float, ...]
    kind: ClassVar[str] = "discrete"
    continuous: ClassVar[bool] = False

    def __post_init__(self) -> None:
        for name in ("values", "probabilities"):
            seq = getattr(self, name)
            if isinstance(seq, str | bytes) or not isinstance(seq, Sequence | np.ndarray):
                raise TypeError(
                    f"The '{name}' parameter of Discrete must be a list of numbers. Got {seq!r} instead."
                )
        values = tuple(_real("Discrete", "values", v) for v in self.values)
        probabilities = tuple(_real("Discrete", "probabilities", p) for p in self.probabilities)
        if len(values) == 0:
            raise _fail("Discrete", "values", list(values), "a non-empty list")
        if len(values) != len(probabilities):
            raise _fail(
                "Discrete",
                "probabilities",
                list(probabilities),
                f"a list as long as 'values' ({len(values)})",
            )
        if len(set(values)) != len(values):
            raise _fail("Discrete", "values", list(values), "a list without repeats")
        if any(p < 0 for p in probabilities):
            raise _fail("Discrete", "probabilities", list(probabilities), "all >= 0")
        if abs(math.fsum(probabilities) - 1.0) > 1e-9:
            raise _fail(
                "Discrete",
                "probabilities",
                list(probabilities),
                f"summing to 1 (they sum to {math.fsum(probabilities)!r})",
            )
        object.__setattr__(self, "values", values)
        object.__setattr__(self, "probabilities", probabilities)

    def _sorted(self) -> tuple[np.ndarray, np.ndarray]:
        order = np.argsort(self.values)
        values = np.asarray(self.values)[order]
        probabilities = np.asarray(self.probabilities)[order]
        cumulative = np.cumsum(probabilities)
        cumulative /= cumulative[-1]
        return values, cumulative

    def _normalised(self) -> list[float]:
        # Sampling uses the probabilities scaled to sum to exactly 1; so do the moments.
        total = math.fsum(self.probabilities)
        return [p / total for p in self.probabilities]

    def mean(self) -> float:  # noqa: D102
        return math.fsum(v * p for v, p in zip(self.values, self._normalised(), strict=True))

    def var(self) -> float:  # noqa: D102
        m = self.mean()
        return math.fsum(p * (v - m) ** 2 for v, p in zip(self.values, self._normalised(), strict=True))

    def support(self) -> tuple[float, float]:  # noqa: D102
        held = [v for v, p in zip(self.values, self.probabilities, strict=True) if p > 0]
        return (min(held), max(held))

    def _ppf(self, q: np.ndarray) -> np.ndarray:
        """Smallest value whose cumulative probability reaches ``q`` (as scipy's ``rv_discrete``)."""
        values, cumulative = self._sorted()
        index = np.searchsorted(cumulative, q, side="left")
        index = np.minimum(index, len(values) - 1)
        held = np.asarray(values)[index]
        # q == 0: the lowest value with positive probability (the support's lower end)
        if np.any(q == 0):
            held = np.where(q == 0, self.support()[0], held)
        return held

    def to_scipy(self) -> Any:  # noqa: D102
        values, cumulative = self._sorted()
        probabilities = np.diff(np.concatenate([[0.0], cumulative]))
        return _scipy_stats().rv_discrete(values=(values, probabilities))

    def kernel_spec(self) -> tuple[int, np.ndarray, np.ndarray | None]:  # noqa: D102
        values, cumulative = self._sorted()
        return (
            _sampling.DISCRETE,
            np.array([float(len(values)), 0.0, 0.0, 0.0, 0.0]),
            np.concatenate([cumulative, values]),
        )


_KINDS: dict[str, type[Distribution]] = {
    cls.kind: cls
    for cls in (
        Fixed,
        Uniform,
        Triangular,
        PERT,
        Beta,
        Normal,
        TruncatedNormal,
        LogNormal,
        Bernoulli,
        Discrete,
    )
}


def _toml_to_field(cls: type[Distribution]) -> dict[str, str]:
    names = {f.name: f.name for f in fields(cls)}  # type: ignore[arg-type]
    names.update(cls._toml_names)
    return {toml: py for py, toml in names.items()}


def distribution_from_dict(table: Mapping[str, Any]) -> Distribution:
    """Build a distribution from its TOML table (without ``source`` or ``note``).

    ``{"value": x}`` is a :class:`Fixed`; otherwise ``dist`` names the kind.
    LogNormal also accepts ``median`` and ``p90``; Beta also accepts ``mean`` and ``sd``.

    Raises
    ------
    ValueError
        For an unknown ``dist``, a missing or unknown parameter, or a parameter
        out of range; the message names the parameter.

    Examples
    --------
    >>> distribution_from_dict({"dist": "pert", "min": 0.05, "mode": 0.08, "max": 0.1})
    PERT(low=0.05, mode=0.08, high=0.1, lam=4.0)
    """
    table = dict(table)
    kind = table.pop("dist", "fixed")
    if kind not in _KINDS:
        raise ValueError(f"Unknown distribution dist={kind!r}; allowed: {sorted(_KINDS)}.")
    cls = _KINDS[kind]
    alternatives: dict[str, tuple[set[str], Callable[..., Distribution]]] = {
        "lognormal": ({"median", "p90"}, LogNormal.from_median_p90),
        "beta": ({"mean", "sd"}, Beta.from_mean_sd),
    }
    if kind in alternatives and alternatives[kind][0] <= set(table):
        required, factory = alternatives[kind]
        optional = {"low", "high"} if kind == "beta" else set()
        unknown = set(table) - required - optional
        if unknown:
            raise ValueError(
                f"Unknown parameter(s) {sorted(unknown)} for dist={kind!r}; "
                f"allowed: {sorted(required | optional)}."
            )
        return factory(**table)
    mapping = _toml_to_field(cls)
    unknown = set(table) - set(mapping)
    if unknown:
        raise ValueError(
            f"Unknown parameter(s) {sorted(unknown)} for dist={kind!r}; allowed: {sorted(mapping)}."
        )
    required = {toml for toml, py in mapping.items() if _field_default_missing(cls, py)}
    missing = required - set(table)
    if missing:
        raise ValueError(f"Missing parameter(s) {sorted(missing)} for dist={kind!r}.")
    kwargs = {mapping[k]: v for k, v in table.items()}
    if cls is Discrete:
        for name in ("values", "probabilities"):
            if isinstance(kwargs[name], list):
                kwargs[name] = tuple(kwargs[name])
    return cls(**kwargs)


def _field_default_missing(cls: type, name: str) -> bool:
    for f in fields(cls):
        if f.name == name:
            return f.default is MISSING and f.default_factory is MISSING
    return False
