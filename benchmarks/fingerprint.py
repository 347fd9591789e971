"""A fingerprint of simulate's results, to show a change leaves every kept bit as it was.

Run from the repository root, before and after a change (in two checkouts)::

    python -m benchmarks.fingerprint

For each sampler (random draws from an offset, a Latin hypercube, a block of
scrambled Sobol' points) and each of ``keep="all"`` and the default
(``keep="headline"``), it hashes the bytes of every variable, sampled inputs
included, in name order, and prints one line: the number of variables and the
first 16 hex digits of the SHA-256. Equal lines before and after mean equal
results to the last bit. The runs are larger than one slice of the headline
path (``KEPT_SLICE``), so inputs drawn again when read are hashed too.
"""

from __future__ import annotations

import hashlib

import numpy as np

import nhsrisk

#: (sampler, draws, first draw): a Sobol' block starts at a multiple of its size, an LHS design at 0.
RUNS = (("random", 40_000, 12_345), ("lhs", 40_000, 0), ("sobol", 2**15, 2**15))


def fingerprint(sampler: str, draws: int, start: int, keep: str, seed: int = 2024) -> tuple[int, str]:
    """Return the number of data variables and a SHA-256 prefix of all their bytes, in name order."""
    ds = nhsrisk.simulate(draws=draws, seed=seed, start=start, sampler=sampler, keep=keep)
    digest = hashlib.sha256()
    for name in sorted(ds.data_vars):
        digest.update(name.encode())
        digest.update(np.ascontiguousarray(ds[name].values).tobytes())
    return len(ds.data_vars), digest.hexdigest()[:16]


def main() -> None:
    for sampler, draws, start in RUNS:
        for keep in ("all", "headline"):
            count, digest = fingerprint(sampler, draws, start, keep)
            print(f"{sampler:7s} keep={keep:9s} {count:4d} variables  {digest}")


if __name__ == "__main__":
    main()
