"""One formatting layer for money (issue 13, item 1): the unit follows the amounts shown, one per table."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import nhsrisk
from nhsrisk import cli, plot
from nhsrisk._format import BILLIONS, MILLIONS, POUNDS, THOUSANDS, money_unit

ICS = Path(__file__).resolve().parents[1] / "examples" / "my-ics.toml"


@pytest.mark.parametrize(
    ("largest", "unit"),
    [
        (0.0, POUNDS),
        (999.99, POUNDS),
        (1_000.0, THOUSANDS),
        (999_999.0, THOUSANDS),
        (1e6, MILLIONS),
        (-2.5e8, MILLIONS),
        (1e9, BILLIONS),
        (-7e12, BILLIONS),
    ],
)
def test_the_unit_is_set_by_the_largest_amount(largest, unit):
    assert money_unit([1.0, largest, np.nan, -np.inf]) == unit
    assert money_unit(largest, 3.0) == unit


def test_amounts_keep_their_sign_and_three_figures():
    assert MILLIONS.amount(-19_960_000) == "-£20.0m"
    assert BILLIONS.amount(7e9, code=True) == "GBP 7.00bn"
    assert THOUSANDS.amount(12_345) == "£12.3k"
    assert POUNDS.code == "GBP" and POUNDS.symbol == "£"


@pytest.fixture(scope="module")
def ics_run():
    return nhsrisk.simulate(ICS, draws=4_000, seed=5)


def test_the_ics_example_prints_in_millions_everywhere(ics_run, tmp_path, capsys):
    table = cli.summary_table(ics_run)
    assert "\nCumulative value by 2029/30     £m" in table and "\nNPV                             £m" in table
    assert "Shortfall against £30.0m" in table and ">= £30.0m)" in table
    assert "bn" not in table.split("\n", 2)[2]  # none below the title lines
    text = repr(nhsrisk.summary(ics_run))
    rows = [line for line in text.splitlines() if "£" in line]
    assert rows and all("£bn" not in row for row in rows)
    assert ">= £30.0m)" in text
    ax = plot.fan(ics_run)
    assert "GBP m" in ax.get_ylabel()
    assert (
        cli.main(
            [
                "run",
                "--scenario",
                str(ICS),
                *"--draws 500 --seed 1 --no-progress".split(),
                "--out",
                str(tmp_path / "ics"),
            ]
        )
        == 0
    )
    assert "\nCumulative value by 2029/30     £m" in capsys.readouterr().out


def test_one_unit_within_a_table(ics_run):
    summary = nhsrisk.summary(ics_run)
    header, sections = summary._sections()
    units = {cells[0] for _, rows, _ in sections for _, cells in rows} - {"ratio"}
    assert units == {"£m"}
    # the national default, whose smallest money row is a few £m, stays in £bn throughout
    national = nhsrisk.summary(nhsrisk.simulate(draws=2_000, seed=5))
    _, sections = national._sections()
    assert {cells[0] for _, rows, _ in sections for _, cells in rows} - {"ratio"} == {"£bn"}


def test_a_figure_prints_tiny_and_near_certain_probabilities_by_their_resolution():
    from nhsrisk._format import FIGURE_RESOLUTION, percent

    assert percent(1e-6, resolution=FIGURE_RESOLUTION) == "< 0.01%"
    assert percent(0.999999, resolution=FIGURE_RESOLUTION) == "> 99.99%"
    # no draw, or every draw: said as it is
    assert percent(0.0, resolution=FIGURE_RESOLUTION) == "0%"
    assert percent(1.0, resolution=FIGURE_RESOLUTION) == "100%"
    assert percent(0.0001, resolution=FIGURE_RESOLUTION) == "0.0100%"
    assert percent(0.123, resolution=FIGURE_RESOLUTION) == "12.3%"
    # the tables keep their digits: an uncertain event never prints as certain
    assert percent(1e-6) == "0.000100%" and percent(0.99998) == "99.998%"


def test_probabilities_have_one_formatter():
    from nhsrisk import _format, stats

    assert stats.percent is _format.percent and plot.percent is _format.percent
    assert not hasattr(stats, "_percent")
