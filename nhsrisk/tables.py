"""Tables for spreadsheets: a run's summary, its scenario with every source, and its fan-chart quantiles.

:func:`write_tables` writes ``summary.csv`` (the tidy summary) and
``summary.xlsx`` (three sheets: the summary, the scenario, the per-year
quantiles of the fan chart), the files ``nhsrisk run --format csv,xlsx``
writes. Excel needs openpyxl, the ``excel`` extra
(``pip install 'nhsrisk[excel]'``); CSV needs nothing beyond the core.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import xarray as xr

from nhsrisk._optional import require
from nhsrisk._validate import _message
from nhsrisk.io import write_atomically
from nhsrisk.scenario import Scenario
from nhsrisk.stats import summary

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["TABLE_FORMATS", "fan_quantiles_table", "scenario_table", "write_tables"]

#: Formats of :func:`write_tables`.
TABLE_FORMATS = ("csv", "xlsx")
#: Quantiles of the fan chart's bands and median.
FAN_QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)


def scenario_table(scenario: Scenario) -> pd.DataFrame:
    """Every figure of a scenario with its source: one row per key path.

    Parameters
    ----------
    scenario : Scenario
        The scenario (``nhsrisk.load_scenario(ds.attrs["scenario"])`` for a run).

    Returns
    -------
    pandas.DataFrame
        Columns ``key``, ``distribution`` (as the scenario file writes it),
        ``mean``, ``assumption`` (True where the source is a judgement) and
        ``source``.

    Examples
    --------
    >>> import nhsrisk
    >>> table = scenario_table(nhsrisk.load_scenario())
    >>> table.columns.tolist()
    ['key', 'distribution', 'mean', 'assumption', 'source']
    >>> bool(table["source"].str.len().gt(0).all())
    True
    """
    import pandas as pd

    rows = [
        (
            key,
            str(quantity.distribution),
            float(quantity.distribution.mean()),
            quantity.is_assumption,
            " ".join(quantity.source.split()),
        )
        for key, quantity in scenario.quantities().items()
    ]
    return pd.DataFrame(rows, columns=["key", "distribution", "mean", "assumption", "source"])


def fan_quantiles_table(ds: xr.Dataset, variable: str = "cumulative_value") -> pd.DataFrame:
    """Per-year quantiles of an output over the draws: the numbers behind the fan chart.

    Parameters
    ----------
    ds : xarray.Dataset
        Output of :func:`nhsrisk.simulate`.
    variable : str, default="cumulative_value"
        An output with dimensions ``(year, draw)``.

    Returns
    -------
    pandas.DataFrame
        Index ``year``; columns ``mean`` and the 5th, 25th, 50th, 75th and
        95th percentiles, in the output's units (``table.attrs["units"]``).

    Examples
    --------
    >>> import nhsrisk
    >>> table = fan_quantiles_table(nhsrisk.simulate(draws=1_000, seed=1))
    >>> table.columns.tolist(), table.index[0], table.attrs["units"]
    (['mean', 'p5', 'p25', 'p50', 'p75', 'p95'], '2025/26', 'GBP')
    """
    import pandas as pd

    if variable not in ds.data_vars or ds[variable].dims != ("year", "draw"):
        raise ValueError(
            _message(
                "variable", "fan_quantiles_table", "an output of ds with dims ('year', 'draw')", variable
            )
        )
    values = np.asarray(ds[variable].values, dtype=float)
    table = pd.DataFrame(
        np.column_stack([values.mean(axis=1), np.quantile(values, FAN_QUANTILES, axis=1).T]),
        index=pd.Index([str(year) for year in ds["year"].values], name="year"),
        columns=["mean", *(f"p{round(100 * q)}" for q in FAN_QUANTILES)],
    )
    table.attrs["units"] = str(ds[variable].attrs.get("units", ""))
    return table


def write_tables(
    ds: xr.Dataset, folder: str | os.PathLike[str], formats: Sequence[str] = TABLE_FORMATS
) -> list[Path]:
    """Write a run's tables for spreadsheets: ``summary.csv`` and/or ``summary.xlsx``.

    ``summary.csv`` is the tidy summary (:meth:`SummaryDataset.to_dataframe`:
    one row per output and statistic, with units). ``summary.xlsx`` holds three
    sheets: ``summary`` (the same table), ``scenario`` (every figure of the
    scenario with its source) and ``fan quantiles`` (per-year quantiles of the
    cumulative value, GBP). Each file is written whole or not at all.

    Parameters
    ----------
    ds : xarray.Dataset
        Output of :func:`nhsrisk.simulate` (its ``scenario`` attribute is read).
    folder : str or path-like
        An existing directory.
    formats : sequence of {"csv", "xlsx"}, default=("csv", "xlsx")
        Which files to write.

    Returns
    -------
    list of pathlib.Path
        The files written.

    Raises
    ------
    ValueError
        If a format is not one of :data:`TABLE_FORMATS`.
    ImportError
        If ``"xlsx"`` is asked for and openpyxl is not installed (the message
        names ``pip install 'nhsrisk[excel]'``), before anything is written.

    Examples
    --------
    >>> import tempfile, nhsrisk
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     paths = write_tables(nhsrisk.simulate(draws=1_000, seed=1), folder, formats=["csv"])
    ...     print([p.name for p in paths])
    ['summary.csv']
    """
    chosen = _check_formats(formats)
    if "xlsx" in chosen:
        require("openpyxl", "writing summary.xlsx", extra="excel")
    target = Path(folder)
    table = summary(ds).to_dataframe()
    written = []
    if "csv" in chosen:
        written.append(write_atomically(target / "summary.csv", lambda p: table.to_csv(p, index=False)))
    if "xlsx" in chosen:
        import pandas as pd

        scenario = Scenario.from_toml(str(ds.attrs["scenario"]))
        fan = fan_quantiles_table(ds)

        def write_workbook(path: Path) -> None:
            with pd.ExcelWriter(path, engine="openpyxl") as workbook:
                table.to_excel(workbook, sheet_name="summary", index=False)
                scenario_table(scenario).to_excel(workbook, sheet_name="scenario", index=False)
                fan.to_excel(workbook, sheet_name="fan quantiles")

        written.append(write_atomically(target / "summary.xlsx", write_workbook))
    return written


def _check_formats(formats: Any) -> list[str]:
    allowed = f"a sequence of formats from {list(TABLE_FORMATS)}"
    if isinstance(formats, str) or not isinstance(formats, Sequence) or not formats:
        raise ValueError(_message("formats", "write_tables", allowed, formats))
    chosen = []
    for name in formats:
        if name not in TABLE_FORMATS:
            raise ValueError(_message("formats", "write_tables", allowed, formats))
        if name not in chosen:
            chosen.append(name)
    return chosen
