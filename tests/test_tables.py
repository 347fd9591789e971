"""Tables for spreadsheets (issue 13, item 3): a tidy summary, per-draw outputs, CSV and Excel files."""

from __future__ import annotations

import json
import sys

import numpy as np
import openpyxl
import pandas as pd
import pytest

import nhsrisk
from nhsrisk import cli
from nhsrisk.stats import draws_table, summary
from nhsrisk.tables import fan_quantiles_table, scenario_table, write_tables


@pytest.fixture(scope="module")
def run():
    return nhsrisk.simulate(draws=3_000, seed=21)


def test_the_summary_table_is_tidy_one_row_per_output_and_statistic(run):
    result = summary(run)
    table = result.to_dataframe()
    outputs = result["output"].values.tolist()
    quantiles = result["quantile"].values.tolist()
    per_output = 3 + 3 * len(quantiles) + 2  # mean, sd, mcse; each quantile and its bounds; ES and its mcse
    scalars = [name for name, variable in result.data_vars.items() if variable.ndim == 0]
    assert len(table) == len(outputs) * per_output + len(scalars)
    assert not table.duplicated(["output", "statistic", "quantile"]).any()
    for output, units in zip(outputs, result["output_units"].values, strict=True):
        rows = table[table.output == output]
        assert set(rows.units) == {str(units)}
        assert rows.set_index("statistic").loc["mean", "value"] == float(result["mean"].sel(output=output))
        estimates = rows[rows.statistic == "quantile"]
        assert estimates["quantile"].tolist() == quantiles
        np.testing.assert_array_equal(
            estimates["value"], result["quantile_estimate"].sel(output=output).values
        )
    p_target = table[(table.output == "p_target") & (table.statistic == "value")]
    assert p_target["value"].item() == float(result["p_target"]) and p_target["units"].item() == "1"


def test_per_draw_headline_outputs_without_repeated_labels(run):
    table = run.nhsrisk.to_dataframe()
    assert table.index.name == "draw" and len(table) == run.sizes["draw"]
    assert table.columns[0] == "cumulative_value[2029/30]"
    np.testing.assert_array_equal(table["npv"], run["npv"].values)
    np.testing.assert_array_equal(table.iloc[:, 0], run["cumulative_value"].sel(year="2029/30").values)
    assert all(dtype.kind == "f" for dtype in table.dtypes)  # numbers only: no label column per draw
    assert table.attrs["units"]["bcr"] == "1" and table.attrs["units"]["pv_costs"] == "GBP"
    pd.testing.assert_frame_equal(table, draws_table(run))


def test_the_files_reopen_with_the_summary_s_numbers(run, tmp_path):
    paths = write_tables(run, tmp_path)
    assert [p.name for p in paths] == ["summary.csv", "summary.xlsx"]
    expected = summary(run).to_dataframe()
    reread = pd.read_csv(tmp_path / "summary.csv")
    pd.testing.assert_frame_equal(reread, expected, check_exact=False, rtol=1e-15)

    workbook = openpyxl.load_workbook(tmp_path / "summary.xlsx")
    assert workbook.sheetnames == ["summary", "scenario", "fan quantiles"]
    sheet = workbook["summary"]
    header = [cell.value for cell in sheet[1]]
    assert header == expected.columns.tolist()
    cells = {
        (row[0], row[3], row[4]): (row[5], row[6]) for row in sheet.iter_rows(min_row=2, values_only=True)
    }
    assert len(cells) == len(expected)
    npv_mean = float(summary(run)["mean"].sel(output="npv"))
    assert cells[("npv", "mean", None)] == (pytest.approx(npv_mean, rel=1e-15), "GBP")
    bcr_median = float(summary(run)["quantile_estimate"].sel(output="bcr", quantile=0.5))
    assert cells[("bcr", "quantile", 0.5)][0] == pytest.approx(bcr_median, rel=1e-15)

    scenario = nhsrisk.Scenario.from_toml(run.attrs["scenario"])
    rows = list(workbook["scenario"].iter_rows(min_row=2, values_only=True))
    assert len(rows) == len(scenario.quantities())
    by_key = {row[0]: row for row in rows}
    for key, quantity in scenario.quantities().items():
        assert by_key[key][4] == " ".join(quantity.source.split())
        assert by_key[key][3] == quantity.is_assumption

    fan = list(workbook["fan quantiles"].iter_rows(values_only=True))
    assert fan[0] == ("year", "mean", "p5", "p25", "p50", "p75", "p95")
    values = run["cumulative_value"].values
    for index, row in enumerate(fan[1:]):
        assert row[0] == str(run["year"].values[index])
        assert row[4] == pytest.approx(float(np.quantile(values[index], 0.5)), rel=1e-15)
    pd.testing.assert_frame_equal(scenario_table(scenario), scenario_table(scenario))
    assert fan_quantiles_table(run).attrs["units"] == "GBP"


def test_excel_without_openpyxl_names_the_extra_and_writes_nothing(run, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "openpyxl", None)  # as if not installed
    with pytest.raises(ImportError, match=r"pip install 'nhsrisk\[excel\]'"):
        write_tables(run, tmp_path, formats=["csv", "xlsx"])
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("bad", ["csv", ["pdf"], [], None])
def test_bad_formats_are_named(run, tmp_path, bad):
    with pytest.raises(ValueError, match="'formats' parameter of write_tables"):
        write_tables(run, tmp_path, formats=bad)


def test_nhsrisk_run_format_writes_the_tables_into_its_folder(tmp_path, capsys):
    out = tmp_path / "out"
    argv = [
        "run",
        "--draws",
        "500",
        "--seed",
        "4",
        "--no-progress",
        "--format",
        "csv,xlsx",
        "--out",
        str(out),
    ]
    assert cli.main(argv) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert {"summary.csv", "summary.xlsx"} <= set(manifest["files"])
    assert "summary.csv" in capsys.readouterr().out
    with nhsrisk.open_results(out / "results.nc") as saved:
        expected = summary(saved.load()).to_dataframe()
    pd.testing.assert_frame_equal(pd.read_csv(out / "summary.csv"), expected, check_exact=False, rtol=1e-15)


def test_nhsrisk_run_refuses_a_bad_format_and_summary_only_tables(tmp_path, capsys):
    with pytest.raises(SystemExit):
        cli.main(["run", "--format", "pdf"])
    assert "must be a comma-separated list of csv, xlsx" in capsys.readouterr().err
    out = tmp_path / "out"
    assert cli.main(["run", "--summary-only", "--format", "csv", "--out", str(out)]) == 2
    assert "cannot be combined with --summary-only" in capsys.readouterr().err and not out.exists()
