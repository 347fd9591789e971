"""A run too big for memory is refused before anything is allocated (issue 13, item 5)."""

from __future__ import annotations

import tracemalloc

import numba
import numpy as np
import pytest

import nhsrisk
from nhsrisk import cli
from nhsrisk._engine import KEPT_SLICE, MEMORY_LIMIT_VARIABLE, available_memory, memory_limit, result_bytes
from nhsrisk._format import format_bytes
from nhsrisk._kernels import KEPT_PIECE
from nhsrisk._model import HEADLINE_OUTPUTS
from nhsrisk._plan import build_plan

SCENARIO = nhsrisk.load_scenario()
PER_DRAW = result_bytes(build_plan(SCENARIO), 1)


def _held(ds) -> int:
    # every variable with a draw dimension held in memory (not inputs drawn again when read); the
    # rest (planned spend, the claim) are a few hundred bytes
    return sum(
        variable.nbytes
        for variable in ds.data_vars.values()
        if "draw" in variable.dims and variable.variable._in_memory
    )


@pytest.mark.parametrize("scenario", ["as-announced", "after-the-cut"])
def test_the_estimate_is_the_bytes_the_result_holds(scenario):
    plan = build_plan(nhsrisk.load_scenario(scenario))
    ds = nhsrisk.simulate(scenario, draws=3_000, seed=1, keep="all")
    assert result_bytes(plan, 3_000) == _held(ds)
    # the default keeps the headline outputs: beyond one slice, what it holds plus each thread's
    # scratch arrays for one piece
    draws = KEPT_SLICE + 1_000
    lean = nhsrisk.simulate(scenario, draws=draws, seed=1)
    scratch = result_bytes(plan, KEPT_PIECE * numba.config.NUMBA_NUM_THREADS)
    assert result_bytes(plan, draws, outputs=HEADLINE_OUTPUTS) == _held(lean) + scratch
    assert _held(lean) < 0.55 * result_bytes(plan, draws)
    # within one slice a run computes every output at once: its peak is that of keeping them all
    assert result_bytes(plan, 3_000, outputs=HEADLINE_OUTPUTS) == result_bytes(plan, 3_000)


def test_the_default_limit_is_half_the_available_memory(monkeypatch):
    monkeypatch.delenv(MEMORY_LIMIT_VARIABLE, raising=False)
    available = available_memory()
    assert available is not None and available > 0
    limit, why = memory_limit()
    # the two readings of /proc/meminfo are moments apart: allow 5% of drift
    assert limit == pytest.approx(available / 2, rel=0.05)
    assert why.startswith("half of the")


def test_a_run_over_the_limit_is_refused_at_once_naming_the_estimate_and_the_ways_out(monkeypatch):
    monkeypatch.setenv(MEMORY_LIMIT_VARIABLE, "1e9")
    draws = 10**8
    tracemalloc.start()
    try:
        with pytest.raises(MemoryError) as refused:
            nhsrisk.simulate(draws=draws, seed=1)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 50e6  # nothing of the 500 GB was allocated
    message = str(refused.value)
    estimate = f"{result_bytes(build_plan(SCENARIO), draws, outputs=HEADLINE_OUTPUTS) / 1e9:.0f} GB"
    assert f"100,000,000 draws would hold about {estimate}" in message
    assert "limit of 1.00 GB (NHSRISK_MEMORY_LIMIT=1e9)" in message
    assert 'keep="summary"' in message and "chunks=N" in message


def test_the_limit_is_exact_and_can_be_given(monkeypatch):
    monkeypatch.delenv(MEMORY_LIMIT_VARIABLE, raising=False)
    needed = PER_DRAW * 1_000
    assert nhsrisk.simulate(draws=1_000, seed=1, memory_limit=needed).sizes["draw"] == 1_000
    with pytest.raises(MemoryError, match=r"\(the memory_limit given\)"):
        nhsrisk.simulate(draws=1_000, seed=1, memory_limit=needed - 1)


def test_bounded_memory_runs_are_not_refused():
    tiny = PER_DRAW * 10
    lazy = nhsrisk.simulate(draws=20_000, seed=1, chunks=5_000, memory_limit=tiny)
    assert lazy["npv"].chunks is not None
    streamed = nhsrisk.simulate(draws=20_000, seed=1, keep="summary", memory_limit=tiny)
    assert int(streamed.attrs["n_draws"]) == 20_000


def test_a_run_to_precision_is_refused_before_it_outgrows_the_limit():
    limit = PER_DRAW * 30_000
    with pytest.raises(MemoryError, match="would hold about"):
        nhsrisk.simulate(draws=2_000, seed=1, precision=1.0, max_draws=10**7, memory_limit=limit)


@pytest.mark.parametrize("bad", [0, -1.0, float("nan"), float("inf"), True, "8e9"])
def test_a_bad_limit_is_named(bad):
    with pytest.raises((ValueError, TypeError), match="'memory_limit' parameter of simulate"):
        nhsrisk.simulate(draws=10, seed=1, memory_limit=bad)


def test_a_bad_environment_limit_is_named(monkeypatch):
    monkeypatch.setenv(MEMORY_LIMIT_VARIABLE, "lots")
    with pytest.raises(ValueError, match="NHSRISK_MEMORY_LIMIT must be a number of bytes > 0"):
        nhsrisk.simulate(draws=10, seed=1)


@pytest.mark.parametrize("keep", ["headline", "all"])
def test_the_command_line_refuses_in_one_line_and_leaves_no_folder(tmp_path, monkeypatch, capsys, keep):
    draws = 20_000
    outputs = None if keep == "all" else nhsrisk.simulation.HEADLINE_OUTPUTS
    one_run = result_bytes(build_plan(nhsrisk.load_scenario("after-the-cut")), draws, outputs=outputs)
    assert one_run == result_bytes(build_plan(SCENARIO), draws, outputs=outputs)  # the same shapes
    # the run and its baseline are held together: each alone would fit, both do not
    monkeypatch.setenv(MEMORY_LIMIT_VARIABLE, str(1.5 * one_run))
    out = tmp_path / "out"
    argv = ["run", "--scenario", "after-the-cut", "--draws", str(draws), "--keep", keep, "--out", str(out)]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("nhsrisk run: ")
    assert f"would hold about {format_bytes(2 * one_run)} of results" in err
    assert "--summary-only" in err
    assert not out.exists()


def test_large_results_are_allocated_without_huge_page_advice_and_the_advice_is_restored(monkeypatch) -> None:
    from nhsrisk import _engine

    core = getattr(np, "_core", None) or np.core
    real = core.multiarray._set_madvise_hugepage
    calls: list[bool] = []

    def spy(flag: bool) -> bool:
        calls.append(bool(flag))
        return real(flag)

    monkeypatch.setattr(core.multiarray, "_set_madvise_hugepage", spy)
    plan = build_plan(nhsrisk.load_scenario())
    current = real(True)
    real(current)
    # everything counts as large: the advice is off while allocating, then back as it was
    monkeypatch.setattr(_engine, "HUGE_PAGE_ADVICE_LIMIT", 1)
    _engine.allocate_results(plan, 10)
    assert calls == [False, current]
    # nothing counts as large: the advice is not touched
    calls.clear()
    monkeypatch.setattr(_engine, "HUGE_PAGE_ADVICE_LIMIT", 2**62)
    _engine.allocate_results(plan, 10)
    assert calls == []
    # an allocation that fails still restores it
    monkeypatch.setattr(_engine, "HUGE_PAGE_ADVICE_LIMIT", 1)
    with pytest.raises((MemoryError, ValueError)):
        _engine.allocate_results(plan, 2**62)
    assert calls == [False, current]
