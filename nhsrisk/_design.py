"""Numba kernels for sampling designs and correlated inputs: uniforms before the inverse CDF.

Three ways to give an input its uniform for draw ``i``:

* ``RANDOM``: the Philox uniform of its stream (:mod:`nhsrisk._rng`);
* ``LATIN_HYPERCUBE``: the same uniform moved into stratum ``pi(i)`` of ``n``
  equal strata, ``(pi(i) + v) / n``, where ``pi`` is a keyed pseudo-random
  permutation of ``0 .. n - 1`` computed on the spot (Kensler, "Correlated
  multi-jittered sampling", Pixar Technical Memo 13-01, 2013). A Latin
  hypercube then costs no memory and stays a pure function of
  ``(seed, input, i, n)``, so threads and chunks cannot change it;
* ``DESIGN``: read from a matrix of uniforms made outside (a scrambled Sobol'
  sequence, or the points of a tornado or Sobol'-index design).

Correlated inputs then pass through a Gaussian copula: their uniforms become
normal scores, are mixed (:func:`mix_normal_scores`), and each input is
inverted from its correlated score.
"""

from __future__ import annotations

import numba
import numpy as np

from nhsrisk._config import ERROR_MODEL, NUMBA_CACHE
from nhsrisk._rng import fill_uniforms
from nhsrisk._special import ndtr_many

RANDOM = 0
LATIN_HYPERCUBE = 1
DESIGN = 2

#: Uniforms are kept in [U_MIN, U_MAX], the range of the Philox path, so that no
#: inverse CDF ever sees 0 or 1 (where several are infinite).
U_MIN = 2.0**-53
U_MAX = 1.0 - 2.0**-53

_MASK32 = np.uint64(0xFFFFFFFF)


@numba.njit(cache=NUMBA_CACHE, error_model=ERROR_MODEL, inline="always")
def _mul32(a, b):
    return (a * np.uint64(b)) & _MASK32


@numba.njit(cache=NUMBA_CACHE, error_model=ERROR_MODEL, inline="always")
def _permutation_mask(n):
    """``2**b - 1`` for the smallest power of two ``2**b >= n``."""
    w = np.uint64(n - 1)
    w |= w >> np.uint64(1)
    w |= w >> np.uint64(2)
    w |= w >> np.uint64(4)
    w |= w >> np.uint64(8)
    w |= w >> np.uint64(16)
    return w


@numba.njit(cache=NUMBA_CACHE, error_model=ERROR_MODEL, inline="always")
def _hash_round(i, w, p):
    """One pass of Kensler's hash: a bijection of ``0 .. w`` (``w + 1`` a power of two)."""
    i ^= p
    i = _mul32(i, 0xE170893D)
    i ^= p >> np.uint64(16)
    i ^= (i & w) >> np.uint64(4)
    i ^= p >> np.uint64(8)
    i = _mul32(i, 0x0929EB3F)
    i ^= p >> np.uint64(23)
    i ^= (i & w) >> np.uint64(1)
    i = _mul32(i, np.uint64(1) | (p >> np.uint64(27)))
    i = _mul32(i, 0x6935FA69)
    i ^= (i & w) >> np.uint64(11)
    i = _mul32(i, 0x74DCB303)
    i ^= (i & w) >> np.uint64(2)
    i = _mul32(i, 0x9E501CC3)
    i ^= (i & w) >> np.uint64(2)
    i = _mul32(i, 0xC860A3DF)
    i &= w
    i ^= i >> np.uint64(5)
    return i


@numba.njit(cache=NUMBA_CACHE, error_model=ERROR_MODEL)
def permute_index(i, n, key):
    """Position of ``i`` under a keyed pseudo-random permutation of ``0 .. n - 1`` (``n <= 2**32``).

    Kensler's hash (2013): every step is invertible on the low ``b`` bits, with
    ``2**b`` the smallest power of two >= ``n``, so it permutes ``0 .. 2**b - 1``;
    cycle-walking (hashing again while the result is ``>= n``) restricts it to
    ``0 .. n - 1``. All arithmetic is on 32-bit words held in uint64.
    """
    w = _permutation_mask(n)
    p = np.uint64(key) & _MASK32
    n64 = np.uint64(n)
    i = _hash_round(np.uint64(i), w, p)
    while i >= n64:
        i = _hash_round(i, w, p)
    return (i + p) % n64


@numba.njit(cache=NUMBA_CACHE, error_model=ERROR_MODEL, inline="always")
def clamp_unit(u):
    """``u`` moved into [U_MIN, U_MAX]."""
    if u < U_MIN:
        return U_MIN
    if u > U_MAX:
        return U_MAX
    return u


@numba.njit(cache=NUMBA_CACHE, error_model=ERROR_MODEL)
def stratify(first, key, design_size, values, count):
    """Turn the uniforms ``values[:count]`` of draws ``first ..`` into Latin hypercube uniforms.

    Draw ``i`` of a design of ``design_size`` draws lands in stratum
    ``permute_index(i, design_size, key)``, at the position its own uniform
    gives. The first hash pass runs branch-free over all draws, so it
    vectorises; only the draws that must cycle-walk are finished one by one.
    """
    w = _permutation_mask(design_size)
    p = np.uint64(key) & _MASK32
    n64 = np.uint64(design_size)
    shift = p % n64
    scale = 1.0 / design_size
    strata = np.empty(count, dtype=np.uint64)
    walk = False
    for j in range(count):
        stratum = _hash_round(first + np.uint64(j), w, p)
        strata[j] = stratum
        walk |= stratum >= n64
    if walk:
        for j in range(count):
            stratum = strata[j]
            while stratum >= n64:
                stratum = _hash_round(stratum, w, p)
            strata[j] = stratum
    for j in range(count):
        # (stratum + p) % n without a division: both terms are below n
        stratum = strata[j] + shift
        if stratum >= n64:
            stratum -= n64
        values[j] = clamp_unit((np.float64(stratum) + values[j]) * scale)


@numba.njit(cache=NUMBA_CACHE, error_model=ERROR_MODEL, inline="always")
def source_uniforms(sampler, first, offset, k0, k1, design_size, design_row, values, count):
    """Uniforms of draws ``first .. first + count - 1`` of one input into ``values[:count]``.

    ``offset`` is the position of ``first`` within this call's draws (the column of
    ``design_row`` to read for the ``DESIGN`` sampler).
    """
    if sampler == DESIGN:
        for j in range(count):
            values[j] = clamp_unit(design_row[offset + j])
        return
    fill_uniforms(first, k0, k1, values, count)
    if sampler == LATIN_HYPERCUBE:
        stratify(first, k0 ^ (k1 << np.uint64(1)), design_size, values, count)


@numba.njit(cache=NUMBA_CACHE, error_model=ERROR_MODEL)
def mix_normal_scores(scores, mixing, mixed, count):
    """Correlate independent standard normal scores: ``mixed[:, :count] = mixing @ scores[:, :count]``.

    One row per input; ``mixing @ mixing.T`` is the normal-scale correlation
    matrix. The loop runs over draws innermost, so it vectorises.
    """
    m = scores.shape[0]
    for a in range(m):
        for j in range(count):
            mixed[a, j] = 0.0
        for b in range(m):
            weight = mixing[a, b]
            for j in range(count):
                mixed[a, j] += weight * scores[b, j]


@numba.njit(cache=NUMBA_CACHE, error_model=ERROR_MODEL)
def normal_scores_to_uniforms(values, count):
    """Replace the normal scores ``values[:count]`` by their uniforms ``Phi(z)``, in [U_MIN, U_MAX].

    ``ndtr_many`` takes the upper tail through the lower one (``Phi(z)`` itself
    rounds to 1 for z > 8.3), vectorised; within a few ulps of ``ndtr``'s libm erfc.
    """
    ndtr_many(values, count)
    for j in range(count):
        values[j] = clamp_unit(values[j])
