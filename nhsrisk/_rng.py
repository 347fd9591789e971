"""Counter-based random numbers: Philox4x32-10 keyed by (seed, input name).

Each uncertain input of a scenario has its own stream key, derived from the
seed and the input's *name* (its key path, such as ``"risks.digital_exclusion"``).
The uniform for draw ``i`` of that input is a pure function of ``(key, i)``.
This is what makes results independent of thread count, chunking and the
order or number of other inputs (Salmon et al., "Parallel random numbers: as
easy as 1, 2, 3", SC'11; the same generator as :class:`numpy.random.Philox`).
"""

from __future__ import annotations

import hashlib

import numba
import numpy as np

from nhsrisk._config import ERROR_MODEL, NUMBA_CACHE

_PHILOX_M0 = np.uint64(0xD2511F53)
_PHILOX_M1 = np.uint64(0xCD9E8D57)
_PHILOX_W0 = np.uint64(0x9E3779B9)
_PHILOX_W1 = np.uint64(0xBB67AE85)
_MASK32 = np.uint64(0xFFFFFFFF)
_SHIFT32 = np.uint64(32)
_SHIFT6 = np.uint64(6)
_ONE = np.uint64(1)
_TWO_POW_M52 = 2.0**-52


def stream_key(seed: int, name: str) -> tuple[int, int]:
    """Return the two 32-bit Philox key words for one named input.

    Parameters
    ----------
    seed : int
        Non-negative run seed.
    name : str
        The input's key path, for example ``"risks.digital_exclusion"``.

    Returns
    -------
    tuple of int
        ``(k0, k1)``, each in ``[0, 2**32)``.

    Examples
    --------
    >>> stream_key(1, "risks.digital_exclusion") == stream_key(1, "risks.digital_exclusion")
    True
    >>> stream_key(1, "a") != stream_key(2, "a")
    True
    """
    digest = hashlib.blake2b(name.encode("utf-8"), digest_size=8, key=seed.to_bytes(32, "little")).digest()
    word = int.from_bytes(digest, "little")
    return word & 0xFFFFFFFF, word >> 32


@numba.njit(cache=NUMBA_CACHE, error_model=ERROR_MODEL, inline="always")
def _philox_rounds(c0, c1, c2, c3, k0, k1):
    """Ten Philox4x32 rounds on the counter words under the key words (all < 2**32)."""
    for _ in range(10):
        p0 = _PHILOX_M0 * c0
        p1 = _PHILOX_M1 * c2
        hi0 = p0 >> _SHIFT32
        hi1 = p1 >> _SHIFT32
        c0, c1, c2, c3 = hi1 ^ c1 ^ k0, p1 & _MASK32, hi0 ^ c3 ^ k1, p0 & _MASK32
        k0 = (k0 + _PHILOX_W0) & _MASK32
        k1 = (k1 + _PHILOX_W1) & _MASK32
    return c0, c1, c2, c3


@numba.njit(cache=NUMBA_CACHE, error_model=ERROR_MODEL, inline="always")
def _to_unit(a, b):
    """Double on the open interval (0, 1) from two 32-bit words: ``(k + 0.5) / 2**52``.

    ``k`` has 52 random bits (26 from each word), so ``k + 0.5`` is exact and the
    result lies in [2**-53, 1 - 2**-53]: neither 0 nor 1, whose inverse CDFs may
    be infinite. The halves are int32-sized so the conversion vectorises on AVX2,
    which has no uint64-to-double instruction.
    """
    high = np.int32(a >> _SHIFT6)
    low = np.int32(b >> _SHIFT6)
    return (high * 67108864.0 + low + 0.5) * _TWO_POW_M52


@numba.njit(cache=NUMBA_CACHE, error_model=ERROR_MODEL, inline="always")
def philox_uniform(draw, k0, k1):
    """Uniform on (0, 1) for draw ``draw`` of the stream keyed ``(k0, k1)``.

    One Philox4x32-10 block on counter ``draw // 2`` serves two consecutive
    draws: words 0-1 the even one, words 2-3 the odd one. So the uniform is a
    pure function of ``(key, draw)``, and :func:`fill_uniforms` can use all
    128 bits of every block.
    """
    pair = draw >> _ONE
    zero = np.uint64(0)
    c0, c1, c2, c3 = _philox_rounds(pair & _MASK32, pair >> _SHIFT32, zero, zero, k0, k1)
    if draw & _ONE:
        return _to_unit(c2, c3)
    return _to_unit(c0, c1)


@numba.njit(cache=NUMBA_CACHE, error_model=ERROR_MODEL)
def fill_uniforms(first, k0, k1, out, count):
    """Write the uniforms of draws ``first .. first + count - 1`` into ``out[:count]``.

    Equal to ``philox_uniform(first + i, k0, k1)`` for every ``i``, computed a
    pair of draws per Philox block in a loop the compiler vectorises.
    """
    if count <= 0:
        return
    done = 0
    if first & _ONE:
        out[0] = philox_uniform(first, k0, k1)
        done = 1
    pair0 = (first + np.uint64(done)) >> _ONE
    n_pairs = (count - done) // 2
    zero = np.uint64(0)
    for j in range(n_pairs):
        pair = pair0 + np.uint64(j)
        c0, c1, c2, c3 = _philox_rounds(pair & _MASK32, pair >> _SHIFT32, zero, zero, k0, k1)
        out[done + 2 * j] = _to_unit(c0, c1)
        out[done + 2 * j + 1] = _to_unit(c2, c3)
    last = done + 2 * n_pairs
    if last < count:
        out[last] = philox_uniform(first + np.uint64(last), k0, k1)


@numba.njit(cache=NUMBA_CACHE, error_model=ERROR_MODEL)
def philox4x32_block(counter, key, out):
    """Write the four Philox4x32-10 output words for one counter into ``out``.

    Exposed to check the generator against the Random123 known-answer vectors.
    """
    c0, c1, c2, c3 = _philox_rounds(
        np.uint64(counter[0]),
        np.uint64(counter[1]),
        np.uint64(counter[2]),
        np.uint64(counter[3]),
        np.uint64(key[0]),
        np.uint64(key[1]),
    )
    out[0] = c0
    out[1] = c1
    out[2] = c2
    out[3] = c3
