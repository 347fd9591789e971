"""Runs bigger than memory: dask-backed chunked results and streaming summaries.

Draw ``i`` depends only on ``(seed, i)``, so a run can be cut into chunks of
draws computed anywhere (threads, dask workers, other machines) and put back
together bit for bit. Two ways to use that:

* ``simulate(..., chunks=N)`` returns a dask-backed Dataset: each chunk is one
  lazy kernel call, computed when (and where) the data are needed;
* ``simulate(..., keep="summary")`` computes summary statistics chunk by chunk
  in bounded memory: exact means and variances by the pairwise merge of Chan,
  Golub and LeVeque (1979), quantiles by a KLL sketch (Karnin, Lang and
  Liberty 2016; Apache DataSketches), whose normalised rank error is stated in
  the result, and exact counts for probabilities.

Both run on a ``dask.distributed`` cluster unchanged: every chunk task takes
the scenario as TOML text and rebuilds its plan on the worker.
"""

from __future__ import annotations

import math
import operator
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import xarray as xr

from nhsrisk._engine import (
    allocate_results,
    check_finite,
    output_sizes,
    run,
    sampler_arguments,
    sampling_arguments,
    to_dataset,
)
from nhsrisk._model import OUTPUTS
from nhsrisk._optional import require
from nhsrisk._order import interval_ranks
from nhsrisk._plan import build_plan
from nhsrisk._progress import progress_bar
from nhsrisk.scenario import Scenario

__all__ = [
    "SKETCH_K",
    "SUMMARY_OUTPUTS",
    "StreamingMoments",
    "chunk_arrays",
    "lazy_results",
    "streaming_summary",
]

#: KLL sketch size: normalised rank error 0.35% with 99% confidence (DataSketches' bound).
SKETCH_K = 800
#: Outputs summarised by ``keep="summary"`` unless others are asked for.
SUMMARY_OUTPUTS = ("cumulative_value", "npv", "bcr")
#: Default draws per chunk: about 400 MB of outputs and inputs for the default scenario.
DEFAULT_CHUNK = 2**17


def chunk_arrays(
    scenario_toml: str,
    seed: int,
    start: int,
    draws: int,
    sampler: str = "random",
    design_size: int | None = None,
    threads: int | None = None,
) -> dict[str, np.ndarray]:
    """Simulate draws ``start .. start + draws - 1`` of a scenario given as TOML: the kernel's arrays.

    A pure function of its arguments, so it can run on any dask worker. For the
    Latin hypercube, ``design_size`` is the size of the whole design.
    """
    scenario = Scenario.from_toml(scenario_toml)
    plan = build_plan(scenario)
    sampling = sampler_arguments(plan, sampler, seed, start, draws, design_size=design_size)
    arrays = run(plan, seed, start, draws, threads, sampling=sampling)
    check_finite(plan, arrays, start)
    return arrays


def _chunk_starts(start: int, draws: int, chunk: int) -> list[tuple[int, int]]:
    return [(start + lo, min(chunk, draws - lo)) for lo in range(0, draws, chunk)]


def lazy_results(
    scenario: Scenario,
    seed: int,
    start: int,
    draws: int,
    chunk: int,
    sampler: str,
    threads: int | None,
) -> xr.Dataset:
    """Build the dask-backed Dataset of ``simulate(..., chunks=chunk)``: one delayed kernel call a chunk."""
    feature = "simulate(chunks=...)"
    da = require("dask.array", feature)
    tokenize = require("dask.base", feature).tokenize
    delayed = require("dask.delayed", feature).delayed

    plan = build_plan(scenario)
    toml = scenario.to_toml()
    sizes = output_sizes(plan)
    design_size = draws if sampler == "lhs" else None
    pieces: dict[str, list[Any]] = {name: [] for name in (*OUTPUTS, "_inputs")}
    for first, count in _chunk_starts(start, draws, chunk):
        task = delayed(chunk_arrays, pure=True)(
            toml,
            seed,
            first,
            count,
            sampler,
            design_size,
            threads,
            dask_key_name="nhsrisk-chunk-" + tokenize(toml, seed, first, count, sampler, design_size),
        )
        for name, out in OUTPUTS.items():
            dims = out.dims
            shape = (*(sizes[d] for d in dims), count)
            dtype = bool if out.boolean else float
            pieces[name].append(da.from_delayed(delayed(operator.getitem)(task, name), shape, dtype=dtype))
        pieces["_inputs"].append(
            da.from_delayed(
                delayed(operator.getitem)(task, "_inputs"), (len(plan.stored), count), dtype=float
            )
        )
    arrays = {name: da.concatenate(blocks, axis=-1) for name, blocks in pieces.items()}
    return to_dataset(scenario, plan, arrays, seed, start)


@dataclass
class StreamingMoments:
    """Count, mean and sum of squared deviations of one output's cells, mergeable exactly.

    ``merge`` is the pairwise update of Chan, Golub and LeVeque (1979); each
    chunk's own moments are computed in two passes, so the merged variance is
    as accurate as a two-pass variance of all the draws.
    """

    count: int = 0
    mean: np.ndarray | float = 0.0
    m2: np.ndarray | float = 0.0
    minimum: np.ndarray | float = np.inf
    maximum: np.ndarray | float = -np.inf

    @classmethod
    def of(cls, values: np.ndarray) -> StreamingMoments:
        """Moments of draws along the last axis of ``values``."""
        values = np.asarray(values, dtype=float)
        mean = values.mean(axis=-1)
        m2 = ((values - mean[..., None]) ** 2).sum(axis=-1)
        return cls(values.shape[-1], mean, m2, values.min(axis=-1), values.max(axis=-1))

    def merge(self, other: StreamingMoments) -> StreamingMoments:
        """Moments of the union of both sets of draws."""
        if self.count == 0:
            return other
        if other.count == 0:
            return self
        n = self.count + other.count
        delta = np.asarray(other.mean) - np.asarray(self.mean)
        mean = self.mean + delta * (other.count / n)
        m2 = self.m2 + other.m2 + delta**2 * (self.count * other.count / n)
        return StreamingMoments(
            n, mean, m2, np.minimum(self.minimum, other.minimum), np.maximum(self.maximum, other.maximum)
        )


@dataclass
class _Partial:
    """What one chunk contributes to a streaming summary (picklable, mergeable)."""

    moments: dict[str, StreamingMoments] = field(default_factory=dict)
    sketches: dict[str, list[bytes]] = field(default_factory=dict)
    reached: int = 0
    bcr_below_1: int = 0
    draws: int = 0


def _target_index(scenario: Scenario) -> int:
    return list(scenario.years).index(scenario.target_year)


def _summarise_chunk(arrays: dict[str, np.ndarray], scenario: Scenario, outputs: Sequence[str]) -> _Partial:
    kll_doubles_sketch = _sketches()

    partial = _Partial(draws=int(arrays["npv"].shape[-1]))
    for name in outputs:
        values = np.asarray(arrays[name], dtype=float)
        partial.moments[name] = StreamingMoments.of(values)
        cells = values.reshape(-1, values.shape[-1])
        blobs = []
        for row in cells:
            sketch = kll_doubles_sketch(SKETCH_K)
            sketch.update(np.ascontiguousarray(row))
            blobs.append(sketch.serialize())
        partial.sketches[name] = blobs
    target = float(scenario.target.claimed_return.distribution.mean())
    partial.reached = int((arrays["cumulative_value"][_target_index(scenario)] >= target).sum())
    partial.bcr_below_1 = int((arrays["bcr"] < 1.0).sum())
    return partial


class _LocalRunner:
    """Runs chunks one after another into the same output arrays.

    Fresh arrays for every chunk would be touched for the first time on every
    chunk, and first touches of memory are slow (page faults); reusing one set
    keeps a 10**8-draw run at the speed of the kernel.
    """

    def __init__(self, scenario: Scenario, seed: int, chunk: int, threads: int | None) -> None:
        self.plan = build_plan(scenario)
        self.seed = seed
        self.threads = threads
        self.buffers = allocate_results(self.plan, chunk)
        self.sampling = sampling_arguments(self.plan)

    def run(self, start: int, count: int) -> dict[str, np.ndarray]:
        arrays = run(
            self.plan, self.seed, start, count, self.threads, sampling=self.sampling, buffers=self.buffers
        )
        check_finite(self.plan, arrays, start)
        return arrays


_WORKER = threading.local()


def _chunk_summary(
    scenario_toml: str,
    seed: int,
    start: int,
    draws: int,
    outputs: tuple[str, ...],
    threads: int | None,
    chunk: int,
) -> _Partial:
    """One chunk's summary, as a dask task: each worker thread keeps its runner (and its arrays)."""
    key = (scenario_toml, seed, chunk, threads)
    if getattr(_WORKER, "key", None) != key:
        _WORKER.scenario = Scenario.from_toml(scenario_toml)
        _WORKER.runner = _LocalRunner(_WORKER.scenario, seed, chunk, threads)
        _WORKER.key = key
    return _summarise_chunk(_WORKER.runner.run(start, draws), _WORKER.scenario, outputs)


def _merge(a: _Partial, b: _Partial) -> _Partial:
    kll_doubles_sketch = _sketches()

    merged = _Partial(draws=a.draws + b.draws, reached=a.reached + b.reached)
    merged.bcr_below_1 = a.bcr_below_1 + b.bcr_below_1
    for name in a.moments:
        merged.moments[name] = a.moments[name].merge(b.moments[name])
        blobs = []
        for left, right in zip(a.sketches[name], b.sketches[name], strict=True):
            sketch = kll_doubles_sketch.deserialize(left)
            sketch.merge(kll_doubles_sketch.deserialize(right))
            blobs.append(sketch.serialize())
        merged.sketches[name] = blobs
    return merged


def streaming_summary(
    scenario: Scenario,
    seed: int,
    start: int,
    draws: int,
    *,
    chunk: int = DEFAULT_CHUNK,
    outputs: Sequence[str] = SUMMARY_OUTPUTS,
    quantiles: Sequence[float] = (0.05, 0.25, 0.5, 0.75, 0.95),
    threads: int | None = None,
    client: Any = None,
    progress: bool | None = None,
) -> xr.Dataset:
    """Summary statistics of a run computed chunk by chunk, in memory bounded by one chunk.

    Locally the chunks run one after another on all threads; with a
    ``dask.distributed`` ``client`` they run as tasks on its workers (one
    numba thread each) and are merged as they finish. The result is the same
    either way: counts, moments and sketches merge exactly (a KLL sketch's
    content depends on the merge order only within its stated error).
    """
    kll_doubles_sketch = _sketches()
    if client is not None:
        as_completed = require("distributed", "simulate(keep='summary', client=...)").as_completed
    outputs = tuple(outputs)
    toml = scenario.to_toml()
    starts = _chunk_starts(start, draws, chunk)
    total: _Partial | None = None
    with progress_bar(draws, "summary", progress) as bar:  # counts draws, as simulate's bar does
        if client is None:
            runner = _LocalRunner(scenario, seed, min(chunk, draws), threads)
            for first, count in starts:
                part = _summarise_chunk(runner.run(first, count), scenario, outputs)
                total = part if total is None else _merge(total, part)
                bar.update(count)
        else:
            futures = [
                client.submit(
                    _chunk_summary, toml, seed, first, count, outputs, 1, min(chunk, draws), pure=True
                )
                for first, count in starts
            ]
            for future in as_completed(futures):
                part = future.result()
                total = part if total is None else _merge(total, part)
                future.release()
                bar.update(part.draws)
    assert total is not None
    sizes = output_sizes(build_plan(scenario))
    coords: dict[str, Any] = {
        "year": ("year", list(scenario.years)),
        "programme": ("programme", list(scenario.programmes)),
        "staff_group": ("staff_group", list(scenario.staff_groups)),
        "quantile": ("quantile", np.asarray(quantiles, dtype=float)),
    }
    n = total.draws
    claim_window = f"{scenario.years[0]} to {scenario.target_year}"
    appraisal_period = f"{scenario.years[0]} to {scenario.years[-1]}"
    data_vars: dict[str, Any] = {}
    for name in outputs:
        out = OUTPUTS[name]
        dims = out.dims
        shape = tuple(sizes[d] for d in dims)
        moments = total.moments[name]
        variance = np.asarray(moments.m2) / (n - 1) if n > 1 else np.zeros(shape)
        sd = np.sqrt(variance)
        attrs = {"long_name": out.long_name, "units": out.units}
        if out.horizon:
            attrs["horizon"] = f"{appraisal_period} (appraisal period)"
        data_vars[f"{name}_mean"] = (dims, np.reshape(moments.mean, shape), {**attrs, "statistic": "mean"})
        data_vars[f"{name}_sd"] = (dims, np.reshape(sd, shape), {**attrs, "statistic": "sd"})
        data_vars[f"{name}_mcse"] = (
            dims,
            np.reshape(sd / math.sqrt(n), shape),
            {**attrs, "statistic": "Monte Carlo standard error of the mean"},
        )
        data_vars[f"{name}_min"] = (dims, np.reshape(moments.minimum, shape), {**attrs, "statistic": "min"})
        data_vars[f"{name}_max"] = (dims, np.reshape(moments.maximum, shape), {**attrs, "statistic": "max"})
        sketches = [kll_doubles_sketch.deserialize(blob) for blob in total.sketches[name]]
        low_ranks, high_ranks = _bound_ranks(n, quantiles)
        statistics = {
            "quantile": ("quantile (KLL sketch)", list(quantiles)),
            "quantile_low": (f"lower bound of the {CONFIDENCE:.0%} interval of the quantile", low_ranks),
            "quantile_high": (f"upper bound of the {CONFIDENCE:.0%} interval of the quantile", high_ranks),
        }
        for suffix, (statistic, ranks) in statistics.items():
            values = np.array([_sketch_quantiles(sketch, ranks) for sketch in sketches])
            data_vars[f"{name}_{suffix}"] = (
                (*dims, "quantile"),
                values.reshape(*shape, len(quantiles)),
                {**attrs, "statistic": statistic, "rank_error": _rank_error(), "confidence": CONFIDENCE},
            )
    target = float(scenario.target.claimed_return.distribution.mean())
    p_target = total.reached / n
    p_bcr = total.bcr_below_1 / n
    data_vars["p_target"] = (
        (),
        p_target,
        {"long_name": f"P(cumulative value by {scenario.target_year} >= claimed return)", "units": "1"},
    )
    data_vars["p_target_mcse"] = ((), math.sqrt(p_target * (1 - p_target) / n), {"units": "1"})
    data_vars["p_bcr_below_1"] = (
        (),
        p_bcr,
        {
            "long_name": "P(benefit-cost ratio < 1)",
            "units": "1",
            "horizon": f"{appraisal_period} (appraisal period)",
        },
    )
    data_vars["p_bcr_below_1_mcse"] = ((), math.sqrt(p_bcr * (1 - p_bcr) / n), {"units": "1"})
    data_vars["claimed_return"] = ((), target, {"units": "GBP"})
    ds = xr.Dataset(data_vars, coords=coords)
    used = {d for name in outputs for d in OUTPUTS[name][0]} | {"quantile"}
    ds = ds.drop_vars([c for c in ("year", "programme", "staff_group") if c not in used])
    ds.attrs.update(
        title=f"nhsrisk streaming summary of {scenario.name}",
        scenario_name=scenario.name,
        scenario=toml,
        seed=str(seed),
        start=start,
        n_draws=n,
        chunk_draws=chunk,
        target_year=scenario.target_year,
        claim_window=claim_window,
        appraisal_period=appraisal_period,
        sketch="KLL (Apache DataSketches)",
        sketch_k=SKETCH_K,
        quantile_rank_error=_rank_error(),
        quantile_note="each quantile's rank is within quantile_rank_error of the requested probability "
        "with 99% confidence",
        moments="exact: two-pass within chunks, Chan-Golub-LeVeque merge across chunks",
    )
    return ds


#: Level of the quantile intervals of a streaming summary.
CONFIDENCE = 0.95


def _bound_ranks(n: int, quantiles: Sequence[float]) -> tuple[list[float], list[float]]:
    """Probabilities at which the sketch is read for the bounds of each quantile's interval.

    The distribution-free interval of the ``q`` quantile is ``[x_(r), x_(s)]``
    with Binomial(n, q) ranks (as :func:`nhsrisk.stats.quantile_interval`); the
    sketch answers a rank to within its normalised rank error, so the ranks are
    widened by it: ``r / n - error`` and ``s / n + error``, within [0, 1].
    Where n draws are too few for such ranks, the bounds are the extremes.
    """
    error = _rank_error()
    low, high = [], []
    for q in quantiles:
        try:
            r, s = interval_ranks(n, q, CONFIDENCE, "streaming_summary")
        except ValueError:
            r, s = 1, n
        low.append(max(0.0, r / n - error))
        high.append(min(1.0, s / n + error))
    return low, high


def _sketch_quantiles(sketch: Any, ranks: Sequence[float]) -> list[float]:
    return [float(sketch.get_quantile(rank)) for rank in ranks]


def _sketches() -> Any:
    """Return the KLL sketch class of Apache DataSketches (the ``scale`` extra)."""
    return require("datasketches", "simulate(keep='summary')").kll_doubles_sketch


def _rank_error() -> float:
    kll_doubles_sketch = _sketches()
    return float(kll_doubles_sketch.get_normalized_rank_error(SKETCH_K, False))
