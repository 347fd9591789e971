"""Chunked and streamed runs: bit for bit the unchunked run, exact moments, sketch quantiles in bound."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

import nhsrisk
from nhsrisk.streaming import SKETCH_K, StreamingMoments

BASE = nhsrisk.load_scenario()


@pytest.mark.parametrize(
    "sampler, draws, chunks",
    [("random", 10_000, 3_000), ("random", 4_096, 4_096), ("lhs", 5_000, 1_234), ("sobol", 8_192, 2_048)],
)
def test_chunked_equals_unchunked_bit_for_bit(sampler, draws, chunks):
    whole = nhsrisk.simulate(draws=draws, seed=3, sampler=sampler)
    lazy = nhsrisk.simulate(draws=draws, seed=3, sampler=sampler, chunks=chunks)
    assert lazy["npv"].chunks == (
        (*[chunks] * (draws // chunks), *([draws % chunks] if draws % chunks else [])),
    )
    xr.testing.assert_identical(whole, lazy.compute())


def test_chunked_with_correlations_and_a_start_offset():
    scenario = BASE.with_correlations(
        ["programmes.it_modernisation.cost_overrun", "risks.staff_capacity"],
        [[1.0, -0.5], [-0.5, 1.0]],
        source="assumption: test",
    )
    whole = nhsrisk.simulate(scenario, draws=3_000, seed=9, start=1_000)
    lazy = nhsrisk.simulate(scenario, draws=3_000, seed=9, start=1_000, chunks=700)
    xr.testing.assert_identical(whole, lazy.compute())


def test_chunks_are_lazy_until_loaded():
    lazy = nhsrisk.simulate(draws=2_000, seed=1, chunks=500)
    assert all(var.chunks is not None for var in lazy.data_vars.values() if "draw" in var.dims)
    # one output of one chunk computes without the others
    first = lazy["npv"].isel(draw=slice(0, 500)).values
    np.testing.assert_array_equal(first, nhsrisk.simulate(draws=500, seed=1)["npv"].values)


def test_merged_moments_equal_two_pass_moments_of_everything(rng):
    values = rng.lognormal(20, 1, size=(3, 10_001))
    merged = StreamingMoments()
    for block in np.array_split(values, 7, axis=-1):
        merged = merged.merge(StreamingMoments.of(block))
    np.testing.assert_allclose(merged.mean, values.mean(axis=-1), rtol=1e-14)
    np.testing.assert_allclose(merged.m2 / (merged.count - 1), values.var(axis=-1, ddof=1), rtol=1e-13)
    np.testing.assert_array_equal(merged.maximum, values.max(axis=-1))


@pytest.fixture(scope="module")
def streamed_and_exact():
    draws = 1_000_000
    streamed = nhsrisk.simulate(draws=draws, seed=4, keep="summary", chunks=2**17)
    # Every draw, kept only for the outputs compared: built chunk by chunk (bit for bit the unchunked
    # run, test_chunked_equals_unchunked_bit_for_bit) so that 10**6 draws of every output (about
    # 5 GB) are never held at once.
    lazy = nhsrisk.simulate(draws=draws, seed=4, chunks=2**17)
    exact = lazy[["cumulative_value", "npv", "bcr", "claimed_return"]].compute(scheduler="synchronous")
    return streamed, exact


def test_streamed_mean_and_variance_equal_exact_ones(streamed_and_exact):
    streamed, exact = streamed_and_exact
    for name in ("cumulative_value", "npv", "bcr"):
        values = exact[name].values
        np.testing.assert_allclose(streamed[f"{name}_mean"].values, values.mean(axis=-1), rtol=1e-12)
        np.testing.assert_allclose(
            streamed[f"{name}_sd"].values ** 2, values.var(axis=-1, ddof=1), rtol=1e-12
        )
        np.testing.assert_array_equal(streamed[f"{name}_min"].values, values.min(axis=-1))
    assert streamed.attrs["n_draws"] == 1_000_000


def test_streamed_quantiles_are_within_the_stated_rank_error(streamed_and_exact):
    streamed, exact = streamed_and_exact
    bound = streamed.attrs["quantile_rank_error"]
    assert bound == pytest.approx(0.00345, abs=1e-4) and streamed.attrs["sketch_k"] == SKETCH_K
    probabilities = streamed["quantile"].values
    for name in ("npv", "bcr"):
        values = np.sort(exact[name].values)
        for q, estimate in zip(probabilities, streamed[f"{name}_quantile"].values, strict=True):
            # normalised rank of the estimate among the exact draws
            low = np.searchsorted(values, estimate, side="left") / values.size
            high = np.searchsorted(values, estimate, side="right") / values.size
            assert low - bound <= q <= high + bound, (name, q, low, high)


def test_streamed_probabilities_are_exact_counts(streamed_and_exact):
    streamed, exact = streamed_and_exact
    reached = exact["cumulative_value"].sel(year="2029/30") >= exact["claimed_return"]
    assert streamed["p_target"].item() == float(reached.mean())
    assert streamed["p_bcr_below_1"].item() == float((exact["bcr"] < 1).mean())


def test_summary_names_both_horizons(streamed_and_exact):
    streamed, exact = streamed_and_exact
    assert (
        streamed.attrs["claim_window"] == "2025/26 to 2029/30" and streamed.attrs["target_year"] == "2029/30"
    )
    assert streamed.attrs["appraisal_period"] == "2025/26 to 2034/35"
    assert streamed.sizes["year"] == 10
    for name in ("npv_mean", "bcr_quantile", "p_bcr_below_1"):
        assert streamed[name].attrs["horizon"] == "2025/26 to 2034/35 (appraisal period)", name
    assert "horizon" not in streamed["cumulative_value_mean"].attrs
    assert exact["npv"].attrs["horizon"] == streamed["npv_mean"].attrs["horizon"]


def test_summary_with_a_partial_last_chunk_and_an_offset():
    streamed = nhsrisk.simulate(draws=5_000, seed=2, start=77, keep="summary", chunks=1_024)
    exact = nhsrisk.simulate(draws=5_000, seed=2, start=77)
    np.testing.assert_allclose(streamed["npv_mean"].values, exact["npv"].values.mean(), rtol=1e-12)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"keep": "draws"}, "'keep' parameter of simulate"),
        ({"chunks": 0}, "'chunks' parameter of simulate"),
        ({"sampler": "sobol", "draws": 1024, "chunks": 100}, "'chunks' parameter of simulate"),
        ({"keep": "summary", "sampler": "lhs"}, "'keep' parameter of simulate"),
        ({"client": object()}, "'client' parameter of simulate"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        nhsrisk.simulate(**{"draws": 1_000, "seed": 1, **kwargs})


#: Bound on starting the test cluster. Two worker processes each import numba and the package, which on
#: a busy 2-core machine has taken longer than distributed's 30 s connect timeout (issue 14, item 5).
CLUSTER_START_SECONDS = 300


@pytest.fixture(scope="module")
def cluster_client():
    distributed = pytest.importorskip("distributed")
    import dask

    timeout = f"{CLUSTER_START_SECONDS}s"
    with (
        dask.config.set({"distributed.comm.timeouts.connect": timeout}),
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster, timeout=timeout) as client,
    ):
        # wait, bounded, until both workers are up rather than racing their start
        client.wait_for_workers(2, timeout=CLUSTER_START_SECONDS)
        yield client


def test_distributed_equals_local(cluster_client):
    local = nhsrisk.simulate(draws=6_000, seed=21)
    lazy = nhsrisk.simulate(draws=6_000, seed=21, chunks=1_500)
    remote = cluster_client.compute(lazy).result()
    xr.testing.assert_identical(local, remote)
    assert len(cluster_client.scheduler_info()["workers"]) == 2


def test_distributed_summary_equals_local_summary(cluster_client):
    local = nhsrisk.simulate(draws=8_000, seed=5, keep="summary", chunks=2_000)
    remote = nhsrisk.simulate(draws=8_000, seed=5, keep="summary", chunks=2_000, client=cluster_client)
    for name in ("npv", "bcr", "cumulative_value"):
        np.testing.assert_allclose(remote[f"{name}_mean"].values, local[f"{name}_mean"].values, rtol=1e-12)
        np.testing.assert_allclose(remote[f"{name}_sd"].values, local[f"{name}_sd"].values, rtol=1e-12)
    assert remote["p_bcr_below_1"].item() == local["p_bcr_below_1"].item()


def test_sweep_on_a_cluster_equals_the_local_sweep(cluster_client):
    grid = {"risks.raid_probability": [0.1, 0.4], "risks.digital_exclusion": [0.1, 0.3]}
    local = nhsrisk.sweep(BASE, grid, draws=3_000, seed=12)
    remote = nhsrisk.sweep(BASE, grid, draws=3_000, seed=12, chunks=1_000, client=cluster_client)
    xr.testing.assert_identical(local, remote)


def test_chunked_local_sweep_equals_the_plain_one():
    grid = {"risks.raid_probability": [0.1, 0.4]}
    plain = nhsrisk.sweep(BASE, grid, draws=2_000, seed=12)
    chunked = nhsrisk.sweep(BASE, grid, draws=2_000, seed=12, chunks=700)
    xr.testing.assert_identical(plain, chunked)


def test_chunks_of_different_scenarios_never_share_a_task():
    # dask merges tasks with the same key: keys must depend on the scenario, not only the draws
    import dask

    other = BASE.with_values({"risks.digital_exclusion": 0.5})
    a = nhsrisk.simulate(BASE, draws=1_000, seed=1, chunks=500)
    b = nhsrisk.simulate(other, draws=1_000, seed=1, chunks=500)
    a_npv, b_npv = dask.compute(a["npv"], b["npv"])
    np.testing.assert_array_equal(b_npv.values, nhsrisk.simulate(other, draws=1_000, seed=1)["npv"].values)
    assert not np.array_equal(a_npv.values, b_npv.values)
