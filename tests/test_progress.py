"""Progress bars: shown when asked, silent in logs, and never changing a result."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

import nhsrisk
from nhsrisk import _engine, _progress


@pytest.mark.parametrize("scenario", ["as-announced", "after-the-cut"])
def test_results_do_not_depend_on_the_progress_bar(monkeypatch, capsys, scenario):
    # a small slice makes the bar path run the kernel in several calls (with a budget change too)
    monkeypatch.setattr(_engine, "PROGRESS_SLICE", 1000)
    plain = nhsrisk.simulate(scenario, draws=5_000, seed=3, progress=False)
    sliced = nhsrisk.simulate(scenario, draws=5_000, seed=3, progress=True)
    xr.testing.assert_identical(plain, sliced)
    err = capsys.readouterr().err
    assert "simulate" in err and "5.00k/5.00k" in err


def test_no_bar_in_a_log_by_default(capsys):
    # pytest captures stderr, which is not a terminal: the automatic bar stays off
    nhsrisk.simulate(draws=2_000, seed=1)
    assert capsys.readouterr().err == ""


def test_sliced_design_runs_match_too(monkeypatch):
    monkeypatch.setattr(_engine, "PROGRESS_SLICE", 512)
    for sampler, draws in (("lhs", 3_000), ("sobol", 4096)):
        plain = nhsrisk.simulate(draws=draws, seed=5, sampler=sampler, progress=False)
        sliced = nhsrisk.simulate(draws=draws, seed=5, sampler=sampler, progress=True)
        xr.testing.assert_identical(plain, sliced)


def test_experiments_accept_progress(capsys):
    sweep = nhsrisk.sweep(
        "as-announced", {"risks.raid_probability": [0.1, 0.2]}, draws=200, seed=1, progress=True
    )
    assert "sweep" in capsys.readouterr().err
    quiet = nhsrisk.sweep(
        "as-announced", {"risks.raid_probability": [0.1, 0.2]}, draws=200, seed=1, progress=False
    )
    np.testing.assert_array_equal(sweep["npv"].values, quiet["npv"].values)
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("value", ["yes", 1, 0.0])
def test_progress_must_be_a_bool_or_none(value):
    with pytest.raises(TypeError, match="'progress' parameter of simulate"):
        nhsrisk.simulate(draws=10, seed=1, progress=value)


def test_watched_is_false_without_a_terminal_or_kernel(monkeypatch):
    class Pipe:
        def isatty(self):
            return False

    monkeypatch.setattr(_progress.sys, "stderr", Pipe())
    assert not _progress._watched()
