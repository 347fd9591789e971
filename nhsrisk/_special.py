"""Special functions usable inside numba kernels.

``ndtri`` is Wichura's algorithm AS 241 (PPND16), accurate to about 1e-16
relative, the method behind R's ``qnorm``.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from nhsrisk._config import NUMBA_CACHE

_SQRT1_2 = 0.7071067811865476


@numba.njit(cache=NUMBA_CACHE, inline="always")
def ndtr(x: float) -> float:
    """Return the standard normal CDF at ``x``."""
    return 0.5 * math.erfc(-x * _SQRT1_2)


@numba.njit(cache=NUMBA_CACHE, inline="always")
def _ndtri_central(q):
    """AS 241's central form, ``|q| <= 0.425`` (``q = p - 0.5``): shared by ndtri and ndtri_many."""
    r = 0.180625 - q * q
    num = (
        (
            (
                (
                    ((2509.0809287301226727 * r + 33430.575583588128105) * r + 67265.770927008700853) * r
                    + 45921.953931549871457
                )
                * r
                + 13731.693765509461125
            )
            * r
            + 1971.5909503065514427
        )
        * r
        + 133.14166789178437745
    ) * r + 3.387132872796366608
    den = (
        (
            (
                (
                    ((5226.495278852545925 * r + 28729.085735721942674) * r + 39307.89580009271061) * r
                    + 21213.794301586595867
                )
                * r
                + 5394.1960214247511077
            )
            * r
            + 687.1870074920579083
        )
        * r
        + 42.313330701600911252
    ) * r + 1.0
    return q * num / den


@numba.njit(cache=NUMBA_CACHE)
def ndtri(p: float) -> float:
    """Inverse of the standard normal CDF for ``p`` in (0, 1) (AS 241, PPND16)."""
    q = p - 0.5
    if abs(q) <= 0.425:
        return _ndtri_central(q)
    r = p if q < 0.0 else 1.0 - p
    r = math.sqrt(-math.log(r))
    if r <= 5.0:
        r -= 1.6
        num = (
            (
                (
                    (
                        (
                            (7.7454501427834140764e-4 * r + 0.0227238449892691845833) * r
                            + 0.24178072517745061177
                        )
                        * r
                        + 1.27045825245236838258
                    )
                    * r
                    + 3.64784832476320460504
                )
                * r
                + 5.7694972214606914055
            )
            * r
            + 4.6303378461565452959
        ) * r + 1.42343711074968357734
        den = (
            (
                (
                    (
                        (
                            (1.05075007164441684324e-9 * r + 5.475938084995344946e-4) * r
                            + 0.0151986665636164571966
                        )
                        * r
                        + 0.14810397642748007459
                    )
                    * r
                    + 0.68976733498510000455
                )
                * r
                + 1.6763848301838038494
            )
            * r
            + 2.05319162663775882187
        ) * r + 1.0
    else:
        r -= 5.0
        num = (
            (
                (
                    (
                        (
                            (2.01033439929228813265e-7 * r + 2.71155556874348757815e-5) * r
                            + 0.0012426609473880784386
                        )
                        * r
                        + 0.026532189526576123093
                    )
                    * r
                    + 0.29656057182850489123
                )
                * r
                + 1.7848265399172913358
            )
            * r
            + 5.4637849111641143699
        ) * r + 6.6579046435011037772
        den = (
            (
                (
                    (
                        (
                            (2.04426310338993978564e-15 * r + 1.4215117583164458887e-7) * r
                            + 1.8463183175100546818e-5
                        )
                        * r
                        + 7.868691311456132591e-4
                    )
                    * r
                    + 0.0148753612908506148525
                )
                * r
                + 0.13692988092273580531
            )
            * r
            + 0.59983220655588793769
        ) * r + 1.0
    value = num / den
    return -value if q < 0.0 else value


@numba.njit(cache=NUMBA_CACHE)
def ndtri_many(values, count):
    """``ndtri`` of every value of ``values[:count]``, in place: bitwise equal, about 2x faster.

    The central form (85% of uniforms) runs over every value in a branch-free
    loop the compiler vectorises; the values in the tails are then noted and
    recomputed one by one with :func:`ndtri`.
    """
    central = np.empty(count)
    for i in range(count):
        central[i] = _ndtri_central(values[i] - 0.5)
    tails = np.empty(count, dtype=np.int64)
    n_tails = 0
    for i in range(count):
        tails[n_tails] = i
        n_tails += abs(values[i] - 0.5) > 0.425
    for k in range(n_tails):
        i = tails[k]
        central[i] = ndtri(values[i])
    for i in range(count):
        values[i] = central[i]
