"""Special functions usable inside numba kernels.

``ndtri`` is Wichura's algorithm AS 241 (PPND16), accurate to about 1e-16
relative, the method behind R's ``qnorm``. ``fma`` is the fused multiply-add.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import cast

import numba
import numpy as np
from numba.core import types
from numba.extending import intrinsic

from nhsrisk._config import ERROR_MODEL, NUMBA_CACHE


@intrinsic
def _fused_multiply_add(typingctx, x, y, z):  # noqa: ARG001 (numba passes the typing context)
    """``x * y + z`` rounded once (IEEE 754 fusedMultiplyAdd), for float64 arguments in a kernel.

    Lowered to LLVM's ``llvm.fma``: one FMA instruction on a CPU that has one
    (every x86-64 since 2013, every 64-bit ARM), libm's correctly rounded
    ``fma`` elsewhere, so the result is the same double on every machine.
    The fusion is explicit, not left to the compiler's contraction flags, so
    the code that checks a table and the kernel that reads it round alike.
    Callable from jitted code only.
    """
    signature = types.float64(types.float64, types.float64, types.float64)

    def codegen(context, builder, sig, args):  # noqa: ARG001 (numba's codegen signature)
        return builder.fma(*args)

    return signature, codegen


#: :func:`_fused_multiply_add` as jitted code calls it, ``fma(x, y, z)`` (numba supplies the context).
fma = cast("Callable[[float, float, float], float]", _fused_multiply_add)

_SQRT1_2 = 0.7071067811865476


@numba.njit(cache=NUMBA_CACHE, error_model=ERROR_MODEL, inline="always")
def ndtr(x: float) -> float:
    """Return the standard normal CDF at ``x``."""
    return 0.5 * math.erfc(-x * _SQRT1_2)


@numba.njit(cache=NUMBA_CACHE, error_model=ERROR_MODEL, inline="always")
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


@numba.njit(cache=NUMBA_CACHE, error_model=ERROR_MODEL)
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


@numba.njit(cache=NUMBA_CACHE, error_model=ERROR_MODEL)
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


# Vectorisable exp, log and pow. libm's exp/log/pow are calls, and a loop with a call does
# not vectorise; these are branch-free straight-line code on every element, with the
# arguments outside a safe range recomputed afterwards by libm itself. Only IEEE adds,
# multiplies, one division, floor and integer bit operations: a vector lane and the scalar
# remainder compute the same bits.

#: ln 2 split so that ``n * _LN2_HI`` is exact for |n| < 2**20 (fdlibm's constants).
_LN2_HI = 6.93147180369123816490e-01
_LN2_LO = 1.90821492927058770002e-10
_INV_LN2 = 1.44269504088896338700e00
#: exp_many's vector path: the result is a normal number, so 2**n is built in the exponent bits.
_EXP_SAFE = 708.0
#: pow_many's vector path: |y log x| at most this. The log's relative error (about 2**-57)
#: is multiplied by |y log x| in the result; beyond this bound libm's pow is used.
_POW_SAFE = 8.0
_DBL_MIN = 2.2250738585072014e-308
_DBL_MAX = 1.7976931348623157e308
#: Bits of sqrt(1/2): the log reduces its argument to 2**k m, m in [sqrt(1/2), sqrt(2)).
_SQRT_HALF_BITS = 0x3FE6A09E667F3BCD
#: Clears the low 36 bits of a double's significand (17 bits left): products of two such are exact.
_MASK_17 = -(1 << 36)
#: Clears the low 27 bits (26 left): Dekker's split for an exact product.
_MASK_26 = -(1 << 27)
# exp(r) = 1 + r + r**2 (1/2! + r/3! + ... + r**11/13!): the Taylor tail beyond r**13 is
# below 2**-57 relative for |r| <= ln(2)/2.
_E2 = 1.0 / math.factorial(2)
_E3 = 1.0 / math.factorial(3)
_E4 = 1.0 / math.factorial(4)
_E5 = 1.0 / math.factorial(5)
_E6 = 1.0 / math.factorial(6)
_E7 = 1.0 / math.factorial(7)
_E8 = 1.0 / math.factorial(8)
_E9 = 1.0 / math.factorial(9)
_E10 = 1.0 / math.factorial(10)
_E11 = 1.0 / math.factorial(11)
_E12 = 1.0 / math.factorial(12)
_E13 = 1.0 / math.factorial(13)
# log(m) = 2 atanh(s) = 2 s + s**3 (2/3 + 2/5 s**2 + ... + 2/23 s**20), |s| <= 0.1716: the
# tail is below 2**-62 of the result.
_A3 = 2.0 / 3.0
_A5 = 2.0 / 5.0
_A7 = 2.0 / 7.0
_A9 = 2.0 / 9.0
_A11 = 2.0 / 11.0
_A13 = 2.0 / 13.0
_A15 = 2.0 / 15.0
_A17 = 2.0 / 17.0
_A19 = 2.0 / 19.0
_A21 = 2.0 / 21.0
_A23 = 2.0 / 23.0


@numba.njit(cache=NUMBA_CACHE, error_model=ERROR_MODEL, inline="always")
def _bits(x):
    """Return the bits of the double ``x`` as an int64."""
    return np.float64(x).view(np.int64)


@numba.njit(cache=NUMBA_CACHE, error_model=ERROR_MODEL, inline="always")
def _from_bits(i):
    """Return the double whose bits are the int64 ``i``."""
    return np.int64(i).view(np.float64)


@numba.njit(cache=NUMBA_CACHE, error_model=ERROR_MODEL, inline="always")
def _exp_parts(hi, lo):
    """Return ``exp(hi + lo)`` unrounded, as ``(head + tail) * 2**n``: the three of them.

    ``|hi| <= _EXP_SAFE``, ``|lo|`` below an ulp of ``hi``; ``head + tail`` is in [0.7, 1.5].
    """
    n = math.floor(hi * _INV_LN2 + 0.5)
    # exact: n * _LN2_HI has few bits and is within a factor 2 of hi (Sterbenz)
    r_hi = hi - n * _LN2_HI
    r_lo = lo - n * _LN2_LO
    r = r_hi + r_lo
    # r's rounding error, kept: dropped it would cost a third of an ulp
    r_err = (r_hi - r) + r_lo
    p = _E13
    for c in (_E12, _E11, _E10, _E9, _E8, _E7, _E6, _E5, _E4, _E3, _E2):
        p = c + r * p
    q = r * r * p
    # 1 + r with its rounding error, so that the result is rounded once
    head = 1.0 + r
    tail = ((1.0 - head) + r) + (r_err + r_err * r + q)
    return head, tail, n


@numba.njit(cache=NUMBA_CACHE, error_model=ERROR_MODEL, inline="always")
def _exp_dd(hi, lo):
    """Return ``exp(hi + lo)`` for ``|hi| <= _EXP_SAFE`` and ``|lo|`` below an ulp of ``hi``."""
    head, tail, n = _exp_parts(hi, lo)
    value = head + tail
    # value is in [0.7, 1.5] and the result normal: 2**n goes straight into the exponent
    return _from_bits(_bits(value) + (np.int64(n) << 52))


@numba.njit(cache=NUMBA_CACHE, error_model=ERROR_MODEL, inline="always")
def _log_dd(x):
    """Return ``log(x)`` as a head and a tail (relative error about 2**-57) for a positive normal ``x``."""
    ix = _bits(x)
    k = (ix - _SQRT_HALF_BITS) >> 52
    im = ix - (k << 52)
    m = _from_bits(im)
    # log m = 2 atanh(s), s = f / (m + 1): f is exact, s is carried as s_h + s_l
    f = m - 1.0
    inv_v = 1.0 / (m + 1.0)
    s = f * inv_v
    s_h = _from_bits(_bits(s) & _MASK_17)
    m_h = _from_bits(im & _MASK_17)
    v_h = m_h + 1.0
    v_l = m - m_h
    # f - s_h v_h is exact (short factors, Sterbenz): the division's residual
    s_l = ((f - s_h * v_h) - s_h * v_l) * inv_v
    s = s_h + s_l
    w = s * s
    p = _A23
    for c in (_A21, _A19, _A17, _A15, _A13, _A11, _A9, _A7, _A5, _A3):
        p = c + w * p
    u = s * w * p
    kf = np.float64(k)
    a = kf * _LN2_HI
    b = 2.0 * s_h
    head = a + b
    bb = head - a
    tail = ((a - (head - bb)) + (b - bb)) + ((2.0 * s_l + u) + kf * _LN2_LO)
    hi = head + tail
    return hi, (head - hi) + tail


@numba.njit(cache=NUMBA_CACHE, error_model=ERROR_MODEL, inline="always")
def _pow_dd(x, y):
    """Return ``x ** y`` by ``exp(y log x)`` with ``y log x`` as a head and tail, and the head."""
    lh, ll = _log_dd(x)
    z = y * lh
    # Dekker's exact product: z + z_err == y * lh
    y_h = _from_bits(_bits(y) & _MASK_26)
    y_l = y - y_h
    l_h = _from_bits(_bits(lh) & _MASK_26)
    l_l = lh - l_h
    z_err = (((y_h * l_h - z) + y_h * l_l) + y_l * l_h) + y_l * l_l
    z_lo = z_err + y * ll
    return z, z_lo


@numba.njit(cache=NUMBA_CACHE, error_model=ERROR_MODEL, inline="always")
def _compact(flags, count):
    """Overwrite ``flags[:count]`` (0 or 1) by the indices of the ones, in order; return how many.

    A loop of its own: a vector loop cannot also count.
    """
    n = 0
    for i in range(count):
        flag = flags[i]
        flags[n] = i
        n += flag
    return n


@numba.njit(cache=NUMBA_CACHE, error_model=ERROR_MODEL, inline="always")
def exp(x):
    """Return ``exp(x)`` exactly as :func:`exp_many` computes it, for one value."""
    if abs(x) <= _EXP_SAFE:
        return _exp_dd(x, 0.0)
    return math.exp(x)


@numba.njit(cache=NUMBA_CACHE, error_model=ERROR_MODEL)
def exp_many(values, count):
    """Replace ``values[:count]`` by their exponentials: within an ulp of libm's, vectorised.

    Arguments beyond +-708 (overflow, subnormal or zero results) and NaN are left
    to ``math.exp``, so their results are libm's.
    """
    out = np.empty(count)
    rare = np.empty(count, dtype=np.int64)
    for i in range(count):
        x = values[i]
        safe = abs(x) <= _EXP_SAFE
        out[i] = _exp_dd(x if safe else 0.0, 0.0)
        rare[i] = not safe
    n_rare = _compact(rare, count)
    for k in range(n_rare):
        i = rare[k]
        out[i] = math.exp(values[i])
    for i in range(count):
        values[i] = out[i]


@numba.njit(cache=NUMBA_CACHE, error_model=ERROR_MODEL)
def log_many(values, count):
    """Replace ``values[:count]`` by their natural logarithms: within an ulp of libm's, vectorised.

    Zero, subnormal, negative, infinite and NaN arguments are left to ``math.log``
    (so a negative one raises, as ``math.log`` does).
    """
    out = np.empty(count)
    rare = np.empty(count, dtype=np.int64)
    for i in range(count):
        x = values[i]
        safe = (x >= _DBL_MIN) & (x <= _DBL_MAX)
        out[i] = _log_dd(x if safe else 1.0)[0]
        rare[i] = not safe
    n_rare = _compact(rare, count)
    for k in range(n_rare):
        i = rare[k]
        out[i] = math.log(values[i])
    for i in range(count):
        values[i] = out[i]


@numba.njit(cache=NUMBA_CACHE, error_model=ERROR_MODEL)
def pow_many(bases, exponents, out, count):
    """Write ``bases ** exponents`` to ``out[:count]``: within an ulp of libm's, vectorised.

    The vector path takes positive normal bases with ``|y log x| <= 8`` (results in
    [3.4e-4, 2981]); every other pair (zero, negative, subnormal or non-finite bases,
    larger or non-finite ``y log x``) is left to ``math.pow``, so its result is libm's.
    ``out`` may be ``bases`` itself.
    """
    rare = np.empty(count, dtype=np.int64)
    for i in range(count):
        x = bases[i]
        normal = (x >= _DBL_MIN) & (x <= _DBL_MAX)
        z, z_lo = _pow_dd(x if normal else 1.0, exponents[i])
        safe = normal & (abs(z) <= _POW_SAFE)
        rare[i] = not safe
        # the bases of rare pairs are kept for libm (out may be bases)
        out[i] = _exp_dd(z if safe else 0.0, z_lo if safe else 0.0) if safe else x
    n_rare = _compact(rare, count)
    for k in range(n_rare):
        i = rare[k]
        out[i] = math.pow(out[i], exponents[i])


# Vectorisable normal CDF. Phi(-a) = erfc(x) / 2 with x = a sqrt(1/2) rounded as ndtr rounds
# it: in the far tail erfc(x) changes by 2 x**2 ulps per ulp of x, so any other rounding of
# x would move the result by hundreds of ulps from ndtr's. erfc is evaluated piecewise by
# the binade of x, with coefficients fitted for this module (Chebyshev interpolation at 200
# bits, then monomials about the piece's centre). Every piece below x = 2 runs on every
# element and the right one is selected; the pieces above (6% of N(0, 1.5) scores) would
# double that cost, so those elements are gathered and done in a second vector loop:
#   x < 1/2:   erfc(x) = 1 - x - x y(x**2), y = erf(x) / x - 1; no exponential, and no
#              cancellation worth an ulp as 1 - x or 1/2 - (x - 1/2) is exact;
#   x < 4:     erfc(x) = exp(-x**2) erfcx(x), erfcx a polynomial in x - c for the pieces
#              [1/2, 1), [1, 2), [2, 4) (x - c exact, Sterbenz);
#   x >= 4:    erfc(x) = exp(-x**2) Q(1/x**2) / x, Q(s) -> 1/sqrt(pi) as s -> 0.
# exp(-x**2) takes x**2 exactly (Dekker) and stays unrounded, the polynomial's constant
# term is a double-double, and the product (and division by x) is rounded once: within
# about an ulp of erfc, where glibc's erfc is within 3.3.

#: ndtr_many's vector path: x = |z| sqrt(1/2) at most this, so erfc(x) / 2 is normal
#: (about 1e-307 here; |z| <= 37.47); beyond it, and NaN, ndtr's libm path.
_ERFC_SAFE = 26.5
_ERF_C0 = 0.12837916709551256
_ERF_TAIL = (
    1.4725865480556744e-06,
    -1.4845849259707869e-05,
    0.00012053335124353741,
    -0.0008548297753674966,
    0.00522397737302147,
    -0.026866170632887928,
    0.11283791670925353,
    -0.37612638903183476,
)
_ERFCX1_HI = 0.5069376502931449
_ERFCX1_LO = -5.124684192006287e-17
_ERFCX1_TAIL = (
    -1.440376961255891e-05,
    4.337915907561481e-05,
    -0.00012332717214560827,
    0.00034666379283020214,
    -0.000938513222881505,
    0.002437641069942269,
    -0.006051532271776434,
    0.01428919858470859,
    -0.031897262039946896,
    0.06679054252841538,
    -0.12983606199488007,
    0.23095813155129497,
    -0.3679726916557954,
)
_ERFCX2_HI = 0.3215854164543175
_ERFCX2_LO = 1.7007985607722196e-17
_ERFCX2_TAIL = (
    1.3242541506849586e-08,
    -4.9545807838901603e-08,
    1.6714292901928126e-07,
    -5.944961119917664e-07,
    2.0670657912156654e-06,
    -6.97536222785843e-06,
    2.2864299608127746e-05,
    -7.265887301589559e-05,
    0.0002233099453004411,
    -0.0006619300701084315,
    0.0018861348769919975,
    -0.0051459575478377826,
    0.013377340953067394,
    -0.03293090529956527,
    0.0761510398554774,
    -0.16362291773256005,
)
_ERFCX3_HI = 0.17900115118138996
_ERFCX3_LO = -5.4272175920200274e-18
_ERFCX3_TAIL = (
    1.6482525468969957e-12,
    -8.134236373235494e-12,
    3.1724792006762475e-11,
    -1.5077563830210874e-10,
    7.20516363335066e-10,
    -3.316229237177357e-09,
    1.4977253627698686e-08,
    -6.64646639786765e-08,
    2.8926684651166363e-07,
    -1.2333685934914701e-06,
    5.146436522511331e-06,
    -2.0989464259545496e-05,
    8.355413963369297e-05,
    -0.00032412554452200884,
    0.0012230390523765237,
    -0.004479431018371144,
    0.01588437115987134,
    -0.05437226000717289,
)
_ERFCX4_HI = 0.5641895835477563
_ERFCX4_LO = -1.9738056039603732e-18
_ERFCX4_TAIL = (
    -8931610.323176447,
    4836621.347799336,
    -1275296.4942030776,
    226606.97413765293,
    -32390.41683248253,
    4292.010458103612,
    -591.5863745407418,
    91.56956342901483,
    -16.660453273034026,
    3.7024883376704443,
    -1.0578554426748246,
    0.42314218759724365,
    -0.2820947917738176,
)


@numba.njit(cache=NUMBA_CACHE, error_model=ERROR_MODEL, inline="always")
def _horner_run(coefs, v, p):
    """Continue Horner's scheme from ``p`` through ``coefs`` (highest degree first)."""
    # callers pass runs of at most 8: LLVM unrolls a loop over a tuple that short, while a
    # longer one stays a loop with a switch to fetch each coefficient, which keeps the
    # element loop from vectorising
    for c in coefs:
        p = c + v * p
    return p


@numba.njit(cache=NUMBA_CACHE, error_model=ERROR_MODEL, inline="always")
def _two_prod_err(a, b):
    """Return the rounding error of ``a * b`` (Dekker): ``a * b - fl(a * b)``, exactly."""
    a_h = _from_bits(_bits(a) & _MASK_26)
    a_l = a - a_h
    b_h = _from_bits(_bits(b) & _MASK_26)
    b_l = b - b_h
    return (((a_h * b_h - a * b) + a_h * b_l) + a_l * b_h) + a_l * b_l


@numba.njit(cache=NUMBA_CACHE, error_model=ERROR_MODEL, inline="always")
def _half_exp_product(x, c_hi, c_lo, t, d, inv_d):
    """Return ``exp(-x**2) (c_hi + c_lo + t) / d / 2``, rounded once; ``inv_d`` is ``1 / d`` rounded."""
    # exp(-x**2) with x**2 exact
    head, tail, n = _exp_parts(-(x * x), -_two_prod_err(x, x))
    # (head + tail) (c_hi + c_lo + t) = h + l
    h = head * c_hi
    lo_sum = c_lo + t
    l_sum = _two_prod_err(head, c_hi) + (head * lo_sum + tail * (c_hi + lo_sum))
    # (h + l) / d: a quotient by the reciprocal, corrected by its exact residual
    q = h * inv_d
    r = ((h - q * d) - _two_prod_err(q, d)) + l_sum
    value = q + r * inv_d
    # 2**(n - 1): the halving and the exponential's power of two, in the exponent bits
    return _from_bits(_bits(value) + ((np.int64(n) - 1) << 52))


@numba.njit(cache=NUMBA_CACHE, error_model=ERROR_MODEL, inline="always")
def _half_erfc_near(x):
    """Return ``erfc(x) / 2`` for ``0 <= x < 2``, branch-free."""
    # x < 1/2: erfc from erf
    w = x * x
    xy = x * (_ERF_C0 + w * _horner_run(_ERF_TAIL, w, 0.0))
    small = 1.0 - (x + xy) if x < 0.25 else 0.5 - ((x - 0.5) + xy)
    v = x - 0.75
    t1 = v * _horner_run(_ERFCX1_TAIL[8:], v, _horner_run(_ERFCX1_TAIL[:8], v, 0.0))
    v = x - 1.5
    t2 = v * _horner_run(_ERFCX2_TAIL[8:], v, _horner_run(_ERFCX2_TAIL[:8], v, 0.0))
    if x < 1.0:
        c_hi, c_lo, t = _ERFCX1_HI, _ERFCX1_LO, t1
    else:
        c_hi, c_lo, t = _ERFCX2_HI, _ERFCX2_LO, t2
    large = _half_exp_product(x, c_hi, c_lo, t, 1.0, 1.0)
    return 0.5 * small if x < 0.5 else large


@numba.njit(cache=NUMBA_CACHE, error_model=ERROR_MODEL, inline="always")
def _half_erfc_far(x):
    """Return ``erfc(x) / 2`` for ``2 <= x <= _ERFC_SAFE``, branch-free."""
    v = x - 3.0
    p = _horner_run(_ERFCX3_TAIL[8:16], v, _horner_run(_ERFCX3_TAIL[:8], v, 0.0))
    t3 = v * _horner_run(_ERFCX3_TAIL[16:], v, p)
    big = x >= 4.0
    d = x if big else 4.0
    inv_d = 1.0 / d
    s = inv_d * inv_d
    t4 = s * _horner_run(_ERFCX4_TAIL[8:], s, _horner_run(_ERFCX4_TAIL[:8], s, 0.0))
    if big:
        return _half_exp_product(x, _ERFCX4_HI, _ERFCX4_LO, t4, d, inv_d)
    return _half_exp_product(x, _ERFCX3_HI, _ERFCX3_LO, t3, 1.0, 1.0)


@numba.njit(cache=NUMBA_CACHE, error_model=ERROR_MODEL)
def ndtr_many(values, count):
    """Replace ``values[:count]`` by the standard normal CDF at them: within about an ulp of ndtr, vectorised.

    As in ``ndtr``'s callers, the upper tail is one minus the lower: ``Phi(z) =
    1 - Phi(-z)`` for ``z > 0``, ``Phi(-|z|)`` being accurate to an ulp relative.
    ``|z| > 37.47`` (the lower tail then subnormal) and NaN are left to :func:`ndtr`.
    """
    # |z| < 2 sqrt(2) (99.5% of standard normal scores) in a first pass; the rest
    # gathered, then computed by a second vector loop or, beyond _ERFC_SAFE, by libm
    far = np.empty(count, dtype=np.int64)
    for i in range(count):
        z = values[i]
        x = abs(z) * _SQRT1_2
        near = x < 2.0
        p = _half_erfc_near(x if near else 0.0)
        u = 1.0 - p if z > 0.0 else p
        values[i] = u if near else z
        far[i] = not near
    n_far = _compact(far, count)
    if n_far == 0:
        return
    tail = np.empty(n_far)
    for k in range(n_far):
        tail[k] = abs(values[far[k]]) * _SQRT1_2
    for k in range(n_far):
        x = tail[k]
        safe = x <= _ERFC_SAFE
        tail[k] = _half_erfc_far(x if safe else 2.0)
    for k in range(n_far):
        i = far[k]
        z = values[i]
        if abs(z) * _SQRT1_2 <= _ERFC_SAFE:
            p = tail[k]
            values[i] = 1.0 - p if z > 0.0 else p
        else:
            values[i] = 1.0 - ndtr(-z) if z > 0.0 else ndtr(z)
