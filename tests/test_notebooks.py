"""The example notebooks run top to bottom in a fresh kernel and show what their text promises.

Every figure that the notebooks' prose reports from the notebook's own computation is checked against
the value the notebook computes in the same run (``CLAIMS``, at the end of this file). Figures the prose
quotes as inputs, sources or context (the £3.4bn, the £7bn claim, the BMA's 13.5 million hours, the
50,000 draws, the years) are not.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, NamedTuple, Protocol

import numpy as np
import pytest

nbformat = pytest.importorskip("nbformat", reason="executing the example notebooks needs nbformat")
nbclient = pytest.importorskip("nbclient", reason="executing the example notebooks needs nbclient")
pytest.importorskip(
    "ipykernel", reason="executing the example notebooks needs ipykernel (the python3 kernel)"
)

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
NOTEBOOKS = (
    "01-quickstart.ipynb",
    "02-sensitivity-study.ipynb",
    "03-your-own-scenario.ipynb",
    "04-monitoring-2025-26.ipynb",
)
QUICKSTART, SENSITIVITY, OWN_SCENARIO, MONITORING = NOTEBOOKS

# Test code run in each notebook's kernel after its last cell (it is not part of the notebook): it reads
# the notebook's own variables and prints, as JSON, every figure that the notebook's prose reports, in
# the units the prose uses. Names start with "_" so that no notebook variable is touched.
PROBES = {
    QUICKSTART: r"""
import json as _json


def _stat(statistic, output, quantile=None):
    value = summary[statistic].sel(output=output)
    return float(value if quantile is None else value.sel(quantile=quantile))


_cv = f"cumulative_value[{target_year}]"
_upper = float(summary["p_target_upper_95"])
_exceed = {amount: exceedance_probability(final, amount * 1e9) for amount in (0.5, 1.0, 2.0, 3.5)}
_largest_se = max(float(se) for _, se in _exceed.values())
_paid = payback["payback_probability"]
_discount = xr.DataArray(scenario.discount_factors(ds.sizes["year"]), dims="year")
_pv = (ds["value"] * _discount).sum("year").mean("draw") / 1e9
_hours = hours.mean("draw")
_groups_by_hours = [str(group) for group in _hours.sortby(_hours, ascending=False)["staff_group"].values]
_figures = {
    "mean cumulative value: MCSE (GBP m)": _stat("mcse", _cv) / 1e6,
    "median cumulative value (GBP bn)": _stat("quantile_estimate", _cv, 0.5) / 1e9,
    "median cumulative value / claim": _stat("quantile_estimate", _cv, 0.5) / claim,
    "5% cumulative value (GBP bn)": _stat("quantile_estimate", _cv, 0.05) / 1e9,
    "95% cumulative value (GBP bn)": _stat("quantile_estimate", _cv, 0.95) / 1e9,
    "95% cumulative value / claim": _stat("quantile_estimate", _cv, 0.95) / claim,
    "median shortfall (GBP bn)": float(summary["median_shortfall"]) / 1e9,
    "median NPV (GBP bn)": _stat("quantile_estimate", "npv", 0.5) / 1e9,
    "median BCR": _stat("quantile_estimate", "bcr", 0.5),
    "95% BCR": _stat("quantile_estimate", "bcr", 0.95),
    "P(BCR < 1)": float(summary["p_bcr_below_1"]),
    "median PV of capital cost (GBP bn)": _stat("quantile_estimate", "pv_capital_cost", 0.5) / 1e9,
    "median PV of running cost (GBP bn)": _stat("quantile_estimate", "pv_running_cost", 0.5) / 1e9,
    "non-cash-releasing share of the mean PV of benefits": (
        _stat("mean", "pv_non_cash_releasing") / _stat("mean", "pv_benefits")
    ),
    "draws reaching the claim": reached,
    "P(reach the claim)": float(summary["p_target"]),
    "P(reach the claim): MCSE": float(summary["p_target_mcse"]),
    "P(reach the claim): one-sided 95% upper bound": _upper,
    "P(reach the claim): one-sided 95% upper bound x draws": _upper * ds.sizes["draw"],
    "P(value >= GBP 0.5bn)": float(_exceed[0.5][0]),
    "P(value >= GBP 1bn)": float(_exceed[1.0][0]),
    "P(value >= GBP 2bn)": float(_exceed[2.0][0]),
    "P(value >= GBP 3.5bn)": float(_exceed[3.5][0]),
    "largest s.e. of those probabilities": _largest_se,
    "P(paid back by the target year)": float(_paid.sel(year=target_year)),
    "P(paid back by the last year)": float(_paid.isel(year=-1)),
    "median payback year": payback["median_payback_year"].item(),
    "mean hours released in the target year (million)": float(_hours.sum("staff_group")) / 1e6,
    "mean FTE released in the target year": float(fte.sum("staff_group").mean()),
    "staff groups by mean hours released": _groups_by_hours,
    "programme with the most planned spend": str(planned.idxmax("programme").item()),
    "programme with the least planned spend": str(planned.idxmin("programme").item()),
}
for _p in map(str, ds["programme"].values):
    _figures[f"{_p}: planned spend, real (GBP bn)"] = float(planned.sel(programme=_p))
    _figures[f"{_p}: mean value in the claim window (GBP bn)"] = float(by_programme.sel(programme=_p))
    _figures[f"{_p}: PV of value / planned spend"] = float(_pv.sel(programme=_p) / planned.sel(programme=_p))
_by_quintile, _by_age = who_gains["per_head_by_quintile"], who_gains["per_head_by_age_band"]
for _quintile in ("most deprived", "least deprived"):
    for _statistic in ("mean", "5%", "95%"):
        _figures[f"{_quintile}: benefit per head, {_statistic} (GBP)"] = float(
            _by_quintile.sel(quintile=_quintile, statistic=_statistic)
        )
_old, _middle = (float(_by_age.sel(age_band=band, statistic="mean")) for band in ("75+", "45-64"))
_figures.update({
    "benefit per head: most / least deprived": float(who_gains["most_to_least_deprived"]),
    "benefit per head: most / least deprived, MCSE": float(who_gains["most_to_least_deprived_mcse"]),
    "75+: mean benefit per head (GBP)": _old,
    "45-64: mean benefit per head (GBP)": _middle,
    "benefit per head: 75+ / 45-64": _old / _middle,
    "mean digital exclusion, headline": float(ds["risks.digital_exclusion"].mean()),
    "mean digital exclusion, weighted by NHS contacts": float(ds["contact_weighted_exclusion"].mean()),
    "median PV of dual running cost (GBP bn)": _stat("quantile_estimate", "pv_dual_running_cost", 0.5) / 1e9,
    "median equity-weighted NPV (GBP bn)": _stat("quantile_estimate", "npv_distributional", 0.5) / 1e9,
    "equity weights: change in the mean NPV (GBP m)": float(premium.mean()) / 1e6,
    "patient channel: share of its PV, most deprived": float(patient_share.sel(quintile="most deprived")),
    "patient channel: share of its PV, least deprived": float(patient_share.sel(quintile="least deprived")),
})
print(_json.dumps(_figures))
""",
    SENSITIVITY: r"""
import json as _json

_tornado_order = [str(name) for name in swings["input"].values]
_by_st = [str(name) for name in indices.sortby(indices["ST"], ascending=False)["input"].values]
_group = next(name for name in _by_st if name.startswith("correlated:"))
_by_prcc = [str(name) for name in ranks.sortby(abs(ranks["prcc"]), ascending=False)["input"].values]
_means = cell_values.mean("draw") / 1e9
_midpoint, _used = "programmes.it_modernisation.uptake_midpoint", "risks.released_time_used"
_value = options[OUTPUT].sel(year=target_year).mean("draw") / 1e9
_net = perfect["expected_net_benefit"] / 1e6
_best = perfect["probability_best"]
_evppi = {label: row["EVPPI (GBP m)"] for label, row in rows.items()}
_steps = {
    str(step): (str(kind), float(level) / 1e9, float(change) / 1e9)
    for step, kind, level, change in zip(
        bridge["step"].values, bridge["kind"].values, bridge["level"].values, bridge["change"].values
    )
}


def _by_loss(kind):  # steps of one kind, the largest loss first
    return sorted((step for step in _steps if _steps[step][0] == kind), key=lambda step: _steps[step][2])


_haircuts, _risks = _by_loss("haircut"), _by_loss("risk")
_figures = {
    "mean cumulative value (GBP bn)": float(final.mean()) / 1e9,
    "median cumulative value (GBP bn)": float(final.median()) / 1e9,
    "tornado: value with every input at its median (GBP bn)": float(swings["output_base"]) / 1e9,
    "tornado: inputs by swing": _tornado_order,
    "tornado: inputs with a switching value to the claim": int(swings["has_switching_value"].sum()),
    "tornado at GBP 2.5bn: inputs with a switching value": int(modest["has_switching_value"].sum()),
}
_chart = swings.isel(input=slice(0, 12))  # the inputs on the tornado chart
_effects = {}
for _name, _low, _high in zip(
    _chart["input"].values, _chart["output_low"].values, _chart["output_high"].values
):
    _effects.setdefault(str(_name).rsplit(".", 1)[-1], set()).add("lowers" if _high < _low else "raises")
for _kind in ("black_swan", "do_minimum_ceiling", "uptake_midpoint", "staff_capacity", "released_time_used",
              "uptake_ceiling"):
    _figures[f"tornado chart: what a higher {_kind} does to the value"] = sorted(_effects.get(_kind, ()))
for _name in map(str, switching["input"].values):
    _one = switching.sel(input=_name)
    _figures[f"{_name}: switching value"] = float(_one["switching_value"])
    _figures[f"{_name}: percentile of the switching value"] = float(_one["switching_percentile"])
_figures.update({
    "Sobol: sum of S1": float(indices["S1"].sum()),
    "Sobol: inputs by ST": _by_st,
})
for _name in (_group, "risks.raid_event", "risks.staff_capacity",
              "programmes.staff_technology.black_swan", "programmes.it_modernisation.black_swan"):
    _figures[f"Sobol: ST of {_name}"] = float(indices["ST"].sel(input=_name))
for _name in (_group, "risks.raid_event"):
    _figures[f"Sobol: ST minus the top of S1's interval, {_name}"] = float(
        indices["ST"].sel(input=_name) - indices["S1_conf_high"].sel(input=_name)
    )
_figures.update({
    "PRCC: inputs by size": _by_prcc,
    "PRCC: fifth input": _by_prcc[4],
    "PRCC: sixth input": _by_prcc[5],
})
for _name in ("risks.staff_capacity", "programmes.it_modernisation.black_swan",
              "programmes.staff_technology.black_swan"):
    _figures[f"PRCC: {_name}"] = float(ranks["prcc"].sel(input=_name))
_figures.update({
    "sweep: largest s.e. of a cell mean (GBP m)": largest_se / 1e6,
    "sweep: midpoint 1.5 years, 90% used (GBP bn)": float(_means.sel({_midpoint: 1.5, _used: 0.9})),
    "sweep: midpoint 3.5 years, 40% used (GBP bn)": float(_means.sel({_midpoint: 3.5, _used: 0.4})),
    "sweep: best cell / claim": float(_means.max()) * 1e9 / claim,
    # mean step of the grid for ten points more of freed time used / for half a year sooner on the IT roll-out
    "sweep: ten points more time used / half a year sooner": (
        float(_means.diff(_used).mean()) / -float(_means.diff(_midpoint).mean())
    ),
    "options: expected NPV, as announced minus ring-fenced (GBP m)": float(
        _net.sel(option="as announced") - _net.sel(option="ring-fenced")
    ),
    "options: P(best), as announced": float(_best.sel(option="as announced")),
    "options: P(best), ring-fenced": float(_best.sel(option="ring-fenced")),
    "options: P(best), digital inclusion": float(_best.sel(option="digital inclusion")),
    "options: lowest expected NPV": str(_net.idxmin("option").item()),
    "options: by expected NPV": [
        str(option) for option in _net.sortby(_net, ascending=False)["option"].values
    ],
    "options: most value by the target year": str(_value.idxmax("option").item()),
    "options: value by the target year, ring-fenced minus as announced (GBP bn)": float(
        _value.sel(option="ring-fenced") - _value.sel(option="as announced")
    ),
    "P(BCR < 1), as announced": float((ds["bcr"] < 1).mean()),
    "EVPI (GBP m)": float(perfect["evpi"]) / 1e6,
    "EVPI / total spend": float(perfect["evpi"]) / scenario.total_spend,
    "EVPPI: inputs by value": sorted(_evppi, key=_evppi.get, reverse=True),
})
for _label, _amount in _evppi.items():
    _figures[f"EVPPI (GBP m): {_label}"] = _amount
_figures.update({
    "waterfall: haircuts by size": _haircuts,
    "waterfall: risks by size": _risks,
    "waterfall: planned (GBP bn)": _steps["planned"][1],
    "waterfall: planned / claim": _steps["planned"][1] * 1e9 / claim,
    "waterfall: realised (GBP bn)": _steps["realised"][1],
})
for _step, (_kind, _, _change) in _steps.items():
    if _kind != "total":
        _figures[f"waterfall: {_step} (GBP bn)"] = _change
print(_json.dumps(_figures))
""",
    OWN_SCENARIO: r"""
import json as _json
import numpy as _np

_achieved = ds_linked[linked_inputs].to_dataframe()[linked_inputs].corr(method="spearman").to_numpy()
_independent, _correlated = spread(ds), spread(ds_linked)
_variants = variants["cumulative_value"].sel(year=target_year) / 1e6
_as_written, _linked, _connected = (
    _variants.sel(option=label) for label in ("as written", "correlated inputs", "care homes connected")
)
_local, _national = ratio_summary(ds), ratio_summary(national)
_figures = {
    "median cumulative value (GBP m)": float(median),
    "5% cumulative value (GBP m)": float(low),
    "95% cumulative value (GBP m)": float(high),
    "P(reach the claim)": reaches_claim,
    "median BCR": float(ds["bcr"].median()),
    "median NPV (GBP m)": float(ds["npv"].median()) / 1e6,
    "P(BCR < 1)": bcr_below_one,
    "P(paid back by the target year)": float(payback.sel(year=target_year)),
    "P(paid back by the last year)": float(payback.isel(year=-1)),
    "largest gap between achieved and requested rank correlations": float(
        _np.abs(_achieved - linked.correlations.as_array()).max()
    ),
    "correlated minus independent: mean, each rounded to GBP m": (
        round(_correlated["mean (GBP m)"]) - round(_independent["mean (GBP m)"])
    ),
    "correlated minus independent: sd (GBP m)": _correlated["sd (GBP m)"] - _independent["sd (GBP m)"],
    "correlated minus independent: 5% (GBP m)": _correlated["5% (GBP m)"] - _independent["5% (GBP m)"],
    "correlated minus independent: 95% (GBP m)": _correlated["95% (GBP m)"] - _independent["95% (GBP m)"],
    "correlated minus independent: P(BCR >= 1)": _correlated["P(BCR >= 1)"] - _independent["P(BCR >= 1)"],
    "care homes connected: mean change in cumulative value (GBP m)": float(gain.mean()),
    "care homes connected: mean change in NPV (GBP m)": float(npv_change.mean()),
    "variants: sd, correlated minus as written (GBP m)": float(_linked.std() - _as_written.std()),
    "variants: median, correlated minus as written, each rounded to GBP m": (
        round(float(_linked.median())) - round(float(_as_written.median()))
    ),
    "variants: median, connected minus as written (GBP m)": float(_connected.median() - _as_written.median()),
    "variants: largest 95% quantile / claim": float(_variants.quantile(0.95, "draw").max()) * 1e6 / claim,
    "median BCR, local": _local["median"],
    "median BCR, national": _national["median"],
    "P(BCR >= 1), local": _local["P(BCR >= 1)"],
    "P(BCR >= 1), national": _national["P(BCR >= 1)"],
}
print(_json.dumps(_figures))
""",
    MONITORING: r"""
import json as _json

_case = lambda name, case: float(effects[name].sel(case=case))
_figures = {
    "effective draws": float(effective),
    "P(reach the claim) upper bound, before": _case("p_target_upper_95", "before"),
    "P(reach the claim), after": _case("p_target", "all together"),
    "median value by the target year, before (GBP bn)": _case("claim_value_median", "before") / 1e9,
    "median value by the target year, after (GBP bn)": _case("claim_value_median", "all together") / 1e9,
    "median BCR, before": _case("bcr_median", "before"),
    "median BCR, after": _case("bcr_median", "all together"),
    "P(BCR < 1), before": _case("p_bcr_below_1", "before"),
    "P(BCR < 1), after": _case("p_bcr_below_1", "all together"),
    "median BCR, uptake alone": _case("bcr_median", "uptake 2025/26, staff_technology"),
    "median BCR: spend alone minus before": (
        _case("bcr_median", "spend 2025/26") - _case("bcr_median", "before")
    ),
    "mean NPV: spend alone minus before (GBP bn)": (
        _case("npv_mean", "spend 2025/26") - _case("npv_mean", "before")
    ) / 1e9,
    "raid in 2025/26, before": float(moved.loc["raid in 2025/26 (share of draws)", "mean before"]),
    "raid in 2025/26, after": float(moved.loc["raid in 2025/26 (share of draws)", "mean after"]),
    "raid probability, before": float(moved.loc["risks.raid_probability", "mean before"]),
    "raid probability, after": float(moved.loc["risks.raid_probability", "mean after"]),
    "staff-technology delay, before (years)": float(
        moved.loc["programmes.staff_technology.delivery_delay", "mean before"]
    ),
    "staff-technology delay, after (years)": float(
        moved.loc["programmes.staff_technology.delivery_delay", "mean after"]
    ),
    "staff-technology midpoint: after minus before (years)": float(
        moved.loc["programmes.staff_technology.uptake_midpoint", "mean after"]
        - moved.loc["programmes.staff_technology.uptake_midpoint", "mean before"]
    ),
    "staff capacity: after minus before": float(
        moved.loc["risks.staff_capacity", "mean after"] - moved.loc["risks.staff_capacity", "mean before"]
    ),
}
print(_json.dumps(_figures))
""",
}


class Run(NamedTuple):
    notebook: nbformat.NotebookNode  # executed: every code cell with its outputs
    figures: dict[str, Any]  # what the notebook's probe printed


# Notebooks run once per test session; each test then reads the outputs or figures it needs.
_runs: dict[str, Run] = {}


def _execute(name: str) -> Run:
    nb = nbformat.read(EXAMPLES / name, as_version=4)
    client = nbclient.NotebookClient(
        nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(EXAMPLES)}}
    )
    probe = nbformat.v4.new_code_cell(PROBES[name])
    with client.setup_kernel():
        for index, cell in enumerate(nb.cells):
            client.execute_cell(cell, index)  # raises CellExecutionError, naming the cell, if any cell fails
        # nbclient stores an executed cell back at its index: the probe is appended for the call only.
        nb.cells.append(probe)
        try:
            client.execute_cell(probe, len(nb.cells) - 1)
        finally:
            nb.cells.pop()
    printed = "".join(
        out.text for out in probe.outputs if out.output_type == "stream" and out.name == "stdout"
    )
    return Run(nb, json.loads(printed))


@pytest.fixture
def notebook_run(monkeypatch: pytest.MonkeyPatch):
    # The kernel inherits this environment: no GUI backend, whatever the machine offers.
    monkeypatch.setenv("MPLBACKEND", "Agg")

    def run(name: str) -> Run:
        if name not in _runs:
            _runs[name] = _execute(name)
        return _runs[name]

    return run


@pytest.fixture
def executed(notebook_run):
    return lambda name: notebook_run(name).notebook


def code_cells(nb: nbformat.NotebookNode) -> list[nbformat.NotebookNode]:
    return [cell for cell in nb.cells if cell.cell_type == "code"]


def tagged(nb: nbformat.NotebookNode, tag: str) -> nbformat.NotebookNode:
    matches = [cell for cell in code_cells(nb) if tag in cell.metadata.get("tags", [])]
    assert len(matches) == 1, f"expected one code cell tagged {tag!r}, found {len(matches)}"
    return matches[0]


def text_of(cell: nbformat.NotebookNode) -> str:
    """Everything a reader sees as text: printed output and the plain-text form of results."""
    parts = []
    for output in cell.outputs:
        if output.output_type == "stream" and output.name == "stdout":
            parts.append(output.text)
        elif output.output_type in ("execute_result", "display_data"):
            parts.append(output.data.get("text/plain", ""))
    return "".join(parts)


def html_of(cell: nbformat.NotebookNode) -> str:
    return "".join(output.get("data", {}).get("text/html", "") for output in cell.outputs)


def has_png(cell: nbformat.NotebookNode) -> bool:
    return any("image/png" in output.get("data", {}) for output in cell.outputs)


def assert_no_errors(nb: nbformat.NotebookNode) -> None:
    for index, cell in enumerate(code_cells(nb)):
        for output in cell.outputs:
            assert output.output_type != "error", f"code cell {index}: {output.ename}: {output.evalue}"


def assert_plots_drawn(nb: nbformat.NotebookNode) -> None:
    plots = [cell for cell in code_cells(nb) if "plot" in cell.metadata.get("tags", [])]
    assert plots, "the notebook has no plot cells"
    for cell in plots:
        assert has_png(cell), f"plot cell without a PNG image: {cell.source!r}"


def test_notebooks_are_stored_without_outputs_and_with_the_python3_kernel():
    for name in NOTEBOOKS:
        nb = nbformat.read(EXAMPLES / name, as_version=4)
        nbformat.validate(nb)
        assert nb.metadata["kernelspec"]["name"] == "python3"
        assert nb.cells[0].cell_type == "markdown"
        for cell in code_cells(nb):
            assert cell.outputs == [] and cell.execution_count is None, f"{name}: stored output"
        # every code cell is followed by plain words that interpret it
        for this, following in zip(nb.cells, nb.cells[1:] + [None], strict=True):
            if this.cell_type == "code":
                assert following is not None and following.cell_type == "markdown", f"{name}: {this.source!r}"


def test_quickstart(executed):
    nb = executed("01-quickstart.ipynb")
    assert_no_errors(nb)
    assert_plots_drawn(nb)
    assert "as-announced" in html_of(tagged(nb, "scenario"))

    summary = text_of(tagged(nb, "summary"))
    assert "nhsrisk summary of as-announced, 50,000 draws, seed 2024" in summary
    assert "mean ± MCSE" in summary and "P(cumulative value by 2029/30 >= £7.00bn)" in summary
    assert "Appraisal period" in summary  # both horizons, each with its label
    assert "<table" in html_of(tagged(nb, "summary"))

    # The claim is tested with an error statement that stays honest when no draw reaches it.
    printed = text_of(tagged(nb, "p_target"))
    reached, draws = (int(n.replace(",", "")) for n in re.search(r": ([\d,]+) of ([\d,]+)", printed).groups())
    p, se, upper = (
        float(x) / 100
        for x in re.search(
            r"= ([\d.]+)% \(Monte Carlo s\.e\. ([\d.]+)%\), one-sided 95% upper bound ([\d.]+)%", printed
        ).groups()
    )
    assert p == pytest.approx(reached / draws, abs=5e-7)  # printed to 4 decimals of a percent
    assert p <= upper <= 1
    if reached == 0:
        # Clopper-Pearson one-sided 95% bound at zero successes: 1 - 0.05**(1/n), about 3/n
        assert upper == pytest.approx(1 - 0.05 ** (1 / draws), abs=5e-7)

    # Exceedance probabilities fall as the bar rises.
    thresholds = re.findall(r">= GBP ([\d.]+)bn\) =\s+([\d.]+)%", text_of(tagged(nb, "thresholds")))
    assert len(thresholds) == 5
    probabilities = [float(p) for _, p in thresholds]
    assert probabilities == sorted(probabilities, reverse=True)

    assert "Median payback year" in text_of(tagged(nb, "payback"))
    assert "all staff groups" in text_of(tagged(nb, "hours"))
    assert "PV of value over the appraisal period" in text_of(tagged(nb, "programmes"))


def test_sensitivity_study(executed):
    nb = executed("02-sensitivity-study.ipynb")
    assert_no_errors(nb)
    assert_plots_drawn(nb)
    for tag, expected in [
        ("tornado_table", "switching value"),
        ("switching", "percentile of the switching value"),
        ("sobol_table", "Sum of first-order indices"),
        ("prcc_table", "prcc"),
        ("sweep_table", "Largest Monte Carlo s.e."),
        ("options_table", "ring-fenced"),
        ("evppi_table", "EVPPI (GBP m)"),
        ("waterfall_table", "do-minimum counterfactual"),
    ]:
        assert expected in text_of(tagged(nb, tag)), tag
    # The tornado's top input is also among the leading Sobol' inputs, as the text says.
    first_input = re.compile(r"^(?:risks|programmes)\.\S+", flags=re.M)
    tornado_top = first_input.search(text_of(tagged(nb, "tornado_table"))).group()
    assert tornado_top in text_of(tagged(nb, "sobol_table"))
    evpi = float(re.search(r"EVPI: GBP ([\d.]+)m", text_of(tagged(nb, "evpi"))).group(1))
    assert evpi > 0

    # With common random numbers every draw's value falls as the IT roll-out is planned later and rises
    # with the share of freed time put to use, so the cell means are strictly monotone along both axes
    # of the sweep (no Monte Carlo slack needed).
    sweep_rows = [
        [float(x) for x in line.split()]
        for line in text_of(tagged(nb, "sweep_table")).splitlines()
        if re.fullmatch(r"[\d.]+(\s+[\d.]+)+", line.strip())
    ]
    means = np.array(sweep_rows)[:, 1:]
    assert means.shape == (5, 6)
    assert (np.diff(means, axis=0) < 0).all() and (np.diff(means, axis=1) > 0).all()

    # The waterfall bridges the gross potential to the planned level through the haircuts, and the
    # planned level to the realised one through the risks; every step is a loss (or nothing).
    steps = {
        label.strip(): (kind, float(level), float(change))
        for label, kind, level, change in re.findall(
            r"^([a-z][a-z -]*?)\s+(total|haircut|risk)\s+(-?[\d.]+)\s+(-?[\d.]+)$",
            text_of(tagged(nb, "waterfall_table")),
            flags=re.M,
        )
    }
    haircuts = [change for kind, _, change in steps.values() if kind == "haircut"]
    risks = [change for kind, _, change in steps.values() if kind == "risk"]
    assert len(haircuts) == 3 and all(change < 0 for change in haircuts)
    assert len(risks) >= 6 and all(change <= 0.0005 for change in risks)
    # printed to 3 decimals: each rounded figure within 0.0005 of the exact one
    gross, planned, realised = (steps[name][1] for name in ("gross potential", "planned", "realised"))
    assert gross + sum(haircuts) == pytest.approx(planned, abs=5 * 0.0005)
    assert planned + sum(risks) == pytest.approx(realised, abs=(len(risks) + 2) * 0.0005)
    assert realised < planned < gross


def test_your_own_scenario(executed):
    nb = executed("03-your-own-scenario.ipynb")
    assert_no_errors(nb)
    assert_plots_drawn(nb)
    assert "[programmes.ambient_voice]" in text_of(tagged(nb, "toml"))
    assert "riverside-ics" in html_of(tagged(nb, "scenario"))
    broken = text_of(tagged(nb, "broken"))
    assert "key path: programmes.shared_care_record.uptake_ceiling" in broken
    assert "must be <= 1" in broken
    assert "every number needs a source" in broken
    assert "nhsrisk summary of riverside-ics" in text_of(tagged(nb, "summary"))
    assert "correlated inputs" in text_of(tagged(nb, "correlations"))
    assert "paired s.e." in text_of(tagged(nb, "with_values"))
    assert "national default" in text_of(tagged(nb, "national"))


def test_monitoring(executed):
    nb = executed(MONITORING)
    assert_no_errors(nb)
    assert_plots_drawn(nb)
    assert "spend" in text_of(tagged(nb, "observations"))
    assert "effective sample size" in text_of(tagged(nb, "update"))
    effects = text_of(tagged(nb, "effects"))
    assert "all together" in effects and "uptake 2025/26, staff_technology" in effects
    assert "weighted by 2 observations" in text_of(tagged(nb, "summary"))


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_no_cell_prints_a_warning(executed, name):
    # A warning in a tutorial is noise the reader cannot act on; progress bars on stderr are fine.
    for index, cell in enumerate(code_cells(executed(name))):
        for output in cell.outputs:
            if output.output_type == "stream" and output.name == "stderr":
                assert "Warning" not in output.text, f"{name}, code cell {index}: {output.text}"


# ---------------------------------------------------------------------------------------------------------
# Figures in the prose
#
# Each claim names a notebook, the exact words of its prose that carry a figure (asserted to be in the
# notebook's markdown, so that prose and test cannot drift apart silently), how the words state the figure,
# and the figure the notebook computes (a key of its probe's output). What a statement admits follows from
# how it is written, never from the value it is checked against:
#
# * A number is the computed value rounded to the last digit shown: within half a unit of that digit
#   ("£1.37bn": 1.365 to 1.375; "78p": 77.5p to 78.5p). In a whole number of three or more digits, trailing
#   zeros are rounding ("6,700" is to the hundred, "370" to the ten). "About", "roughly" and "near" tell the
#   reader that the figure is rounded; they do not widen it.
# * "One in N" with N in digits is the odds 1/p written as the number N, and "k in a thousand" (or another
#   power of ten) is the count p * 1000 written as the number k; both then follow the rule for numbers.
# * A range ("£0.4-0.7bn", "10-11%") admits what rounds into it at the digits shown.
# * A fraction in words ("half", "a third", "three in four", "one in sixteen", "about as much as") is the
#   nearest rung on the ladder of simple fractions a writer picks from: the value must be nearer to k/n
#   than to any other fraction with a denominator up to n + 1 ("three in four": from halfway between 2/3
#   and 3/4 to halfway between 3/4 and 4/5). "A little under" keeps the lower half of that band.
# * Words of direction or comparison ("exceeds 1.3", "under £7m", "more than half", "most", "grows") are
#   the inequality they state; counts, names, zeros and orders ("three inputs", "never best", "staff
#   capacity matters most, followed by ...") must hold exactly.
# ---------------------------------------------------------------------------------------------------------


class Reading(Protocol):
    """How the words state a figure: the values that statement admits, and the rule in words."""

    def admits(self, computed: Any) -> bool: ...

    def rule(self) -> str: ...


def _written(text: str) -> tuple[float, float]:
    """A number as written in the prose and the unit of its last significant digit."""
    number = text.replace(",", "").replace("\N{MINUS SIGN}", "-")
    digits = number.lstrip("+-")
    if "." in digits:
        unit = 10.0 ** -len(digits.partition(".")[2])
    else:
        zeros = len(digits) - len(digits.rstrip("0"))
        unit = 10.0**zeros if len(digits) >= 3 else 1.0
    return float(number), unit


def _within(value: float, low: float, high: float) -> bool:
    slack = 1e-9 * max(1.0, abs(low), abs(high))  # the bounds themselves are computed in floating point
    return low - slack <= value <= high + slack


def _scaled(per: float, odds: bool = False) -> str:
    if odds:
        return "the odds 1/p"
    return {1.0: "the value", -1.0: "the loss (minus the value)", 100.0: "the percentage"}.get(
        per, f"the count per {per:,.0f}"
    )


@dataclass(frozen=True)
class Number:
    """A number as written; the value is compared as ``value * per``, or as 1/value for "one in N"."""

    text: str
    per: float = 1.0
    odds: bool = False

    def shown(self) -> tuple[str, ...]:
        return (self.text,)

    def bounds(self) -> tuple[float, float]:
        value, unit = _written(self.text)
        return value - unit / 2, value + unit / 2

    def admits(self, computed: Any) -> bool:
        compared = (math.inf if computed == 0 else 1 / computed) if self.odds else computed * self.per
        return _within(compared, *self.bounds())

    def rule(self) -> str:
        low, high = self.bounds()
        return f"{_scaled(self.per, self.odds)} rounds to {self.text}: from {low:g} to {high:g}"


@dataclass(frozen=True)
class Range:
    """A range "low-high", each end written to its last digit; the value is compared as ``value * per``."""

    low: str
    high: str
    per: float = 1.0

    def shown(self) -> tuple[str, ...]:
        return (self.low, self.high)

    def bounds(self) -> tuple[float, float]:
        (low, unit_low), (high, unit_high) = _written(self.low), _written(self.high)
        return low - unit_low / 2, high + unit_high / 2

    def admits(self, computed: Any) -> bool:
        return _within(computed * self.per, *self.bounds())

    def rule(self) -> str:
        low, high = self.bounds()
        return f"{_scaled(self.per)} rounds into {self.low} to {self.high}: from {low:g} to {high:g}"


@dataclass(frozen=True)
class Simple:
    """A fraction in words, k/n; ``little_under``: "a little under" it."""

    k: int
    n: int
    little_under: bool = False

    def bounds(self) -> tuple[Fraction, Fraction]:
        stated = Fraction(self.k, self.n)
        denominators = range(1, self.n + 2)
        below = max(Fraction(math.ceil(stated * d) - 1, d) for d in denominators)
        above = min(Fraction(math.floor(stated * d) + 1, d) for d in denominators)
        return (below + stated) / 2, stated if self.little_under else (stated + above) / 2

    def admits(self, computed: Any) -> bool:
        low, high = self.bounds()
        return low <= computed < high if self.little_under else low <= computed <= high

    def rule(self) -> str:
        low, high = self.bounds()
        words = "a little under" if self.little_under else "nearer to"
        band = f"{float(low):.4g} to {float(high):.4g}"
        return f"a fraction {words} {self.k}/{self.n} than to any other simple fraction: {band}"


@dataclass(frozen=True)
class Above:
    bound: float

    def admits(self, computed: Any) -> bool:
        return computed > self.bound

    def rule(self) -> str:
        return f"a value above {self.bound:g}"


@dataclass(frozen=True)
class Below:
    bound: float

    def admits(self, computed: Any) -> bool:
        return computed < self.bound

    def rule(self) -> str:
        return f"a value below {self.bound:g}"


@dataclass(frozen=True)
class Exactly:
    value: Any

    def admits(self, computed: Any) -> bool:
        return computed == self.value

    def rule(self) -> str:
        return f"exactly {self.value!r}"


@dataclass(frozen=True)
class OneOf:
    values: frozenset[str]

    def admits(self, computed: Any) -> bool:
        return computed in self.values

    def rule(self) -> str:
        return f"one of {sorted(self.values)}"


@dataclass(frozen=True)
class Ranked:
    """The computed ranking starts with these names; a set is a group whose order the prose leaves open."""

    groups: tuple[str | frozenset[str], ...]

    def admits(self, computed: Any) -> bool:
        position = 0
        for group in self.groups:
            names = {group} if isinstance(group, str) else set(group)
            if set(computed[position : position + len(names)]) != names:
                return False
            position += len(names)
        return True

    def rule(self) -> str:
        shown = [group if isinstance(group, str) else sorted(group) for group in self.groups]
        return f"a ranking that starts {shown}"


def either(*names: str) -> frozenset[str]:
    return frozenset(names)


class Claim(NamedTuple):
    notebook: str
    words: str  # exactly as in the notebook's markdown (line breaks read as spaces)
    stated: Reading  # how the words state the figure
    key: str  # the figure the notebook computes, as its probe names it


STAFF_CAPACITY = "risks.staff_capacity"
TIME_USED = "risks.released_time_used"
IT_SWAN = "programmes.it_modernisation.black_swan"
STAFF_TECH_SWAN = "programmes.staff_technology.black_swan"
OVERRUNS = "correlated: programmes.*.cost_overrun & programmes.*.delivery_delay"
OVERRUNS_EVPPI = "overruns and delays of the three strands (correlated, learnt together)"
RAIDS_EVPPI = "budget raids 2025/26 to 2027/28 (learnt together)"
RAID_EVENTS = frozenset(f"risks.raid_event[{year}]" for year in ("2025/26", "2026/27", "2027/28"))
N = Number

# fmt: off
QUICKSTART_CLAIMS = [
    ("keep the standard error of the mean cumulative value near £3m", N("3"),
     "mean cumulative value: MCSE (GBP m)"),
    ("median of about £1.27bn", N("1.27"), "median cumulative value (GBP bn)"),
    ("under a fifth of the £7bn claimed", Below(1 / 5), "median cumulative value / claim"),
    ("90% of the draws fall between about £0.48bn and £2.40bn", N("0.48"), "5% cumulative value (GBP bn)"),
    ("90% of the draws fall between about £0.48bn and £2.40bn", N("2.40"), "95% cumulative value (GBP bn)"),
    ("the median shortfall is about £5.7bn", N("5.7"), "median shortfall (GBP bn)"),
    ("The median NPV is about −£1.22bn", N("−1.22"), "median NPV (GBP bn)"),
    ("the median benefit-cost ratio about 0.70", N("0.70"), "median BCR"),
    ("about 70p of value back", N("70", per=100), "median BCR"),
    ("The BCR is below 1 in about 85% of the draws", N("85", per=100), "P(BCR < 1)"),
    ("in the best 5% of draws it reaches about 1.2", N("1.2"), "95% BCR"),
    ("the capital (about £2.7bn in present value after raids)", N("2.7"),
     "median PV of capital cost (GBP bn)"),
    ("the running costs of keeping the systems going (about £1.4bn)", N("1.4"),
     "median PV of running cost (GBP bn)"),
    ("(*dual running*, about £0.04bn)", N("0.04"), "median PV of dual running cost (GBP bn)"),
    ("most of the benefit is staff time redeployed to more care (non-cash-releasing)", Above(0.5),
     "non-cash-releasing share of the mean PV of benefits"),
    ("the whole range sits far below the claim", Below(1), "95% cumulative value / claim"),
    ("lies far above even the optimistic edge of the fan", Below(1), "95% cumulative value / claim"),
    ("Not one of the 50,000 simulated futures reaches the claim", Exactly(0), "draws reaching the claim"),
    ("The estimated probability is therefore 0", Exactly(0.0), "P(reach the claim)"),
    ("its usual standard error, √(p(1−p)/n), is 0 as well", Exactly(0.0), "P(reach the claim): MCSE"),
    ("the probability is below about 0.006%", N("0.006", per=100),
     "P(reach the claim): one-sided 95% upper bound"),
    ("(roughly 1 in 17,000)", N("17,000", odds=True), "P(reach the claim): one-sided 95% upper bound"),
    ("it is close to 3 ÷ number of draws", N("3"), "P(reach the claim): one-sided 95% upper bound x draws"),
    ("about 94% of draws reach at least £0.5bn", N("94", per=100), "P(value >= GBP 0.5bn)"),
    ("about two in three at least £1bn", Simple(2, 3), "P(value >= GBP 1bn)"),
    ("about one in eight £2bn", Simple(1, 8), "P(value >= GBP 2bn)"),
    ("about two in a thousand reach half the claim (£3.5bn)", N("2", per=1000), "P(value >= GBP 3.5bn)"),
    ("well under one percentage point here", Below(0.01), "largest s.e. of those probabilities"),
    ("(about two in 10,000 by 2029/30)", N("2", per=10_000), "P(paid back by the target year)"),
    ("about one draw in six has", Simple(1, 6), "P(paid back by the last year)"),
    ('The median payback year is therefore "not by 2034/35"', Exactly("not by 2034/35"),
     "median payback year"),
    ("free about 10 million working hours", N("10"), "mean hours released in the target year (million)"),
    ("the equivalent of about 6,200 full-time staff", N("6,200"), "mean FTE released in the target year"),
    ("hospital doctors, hospital admin and hospital nurses gain the most",
     Ranked(("hospital_doctor", "hospital_admin", "hospital_nurse")), "staff groups by mean hours released"),
    ("The IT strand spends the most", Exactly("it_modernisation"), "programme with the most planned spend"),
    ("(£1.8bn in 2023/24 prices)", N("1.8"), "it_modernisation: planned spend, real (GBP bn)"),
    ("returns about £0.7bn of value by 2029/30", N("0.7"),
     "it_modernisation: mean value in the claim window (GBP bn)"),
    ("the staff-technology strand returns about £0.46bn", N("0.46"),
     "staff_technology: mean value in the claim window (GBP bn)"),
    ("on £0.9bn", N("0.9"), "staff_technology: planned spend, real (GBP bn)"),
    ("the patient-services strand, the cheapest", Exactly("patient_services"),
     "programme with the least planned spend"),
    ("the cheapest at £0.39bn", N("0.39"), "patient_services: planned spend, real (GBP bn)"),
    ("returns about £0.16bn", N("0.16"), "patient_services: mean value in the claim window (GBP bn)"),
    ("the IT strand's benefits come to about 0.8 of its planned capital", N("0.8"),
     "it_modernisation: PV of value / planned spend"),
    ("the staff-technology strand's to about 1.1", N("1.1"), "staff_technology: PV of value / planned spend"),
    ("the patient-services strand's to about 0.9", N("0.9"), "patient_services: PV of value / planned spend"),
    # who gains: the patient channel per head, by quintile and age band
    ("about £3.45 a head in the most deprived quintile", N("3.45"),
     "most deprived: benefit per head, mean (GBP)"),
    ("(90% of draws between about −£1.3 and £11.5)", N("−1.3"), "most deprived: benefit per head, 5% (GBP)"),
    ("(90% of draws between about −£1.3 and £11.5)", N("11.5"), "most deprived: benefit per head, 95% (GBP)"),
    ("about £4.20 a head in the least deprived", N("4.20"), "least deprived: benefit per head, mean (GBP)"),
    ("(−£1.6 to £13.9)", N("−1.6"), "least deprived: benefit per head, 5% (GBP)"),
    ("(−£1.6 to £13.9)", N("13.9"), "least deprived: benefit per head, 95% (GBP)"),
    ("the most deprived get 0.822 ± 0.0002 of what the least deprived get", N("0.822"),
     "benefit per head: most / least deprived"),
    ("the most deprived get 0.822 ± 0.0002 of what the least deprived get", N("0.0002"),
     "benefit per head: most / least deprived, MCSE"),
    ("The over-75s gain about £2.08 a head", N("2.08"), "75+: mean benefit per head (GBP)"),
    ("against about £4.49 for people aged 45 to 64", N("4.49"), "45-64: mean benefit per head (GBP)"),
    ("against about £4.49 for people aged 45 to 64, less than half", Below(1 / 2),
     "benefit per head: 75+ / 45-64"),
    ("Weighted by NHS contacts, digital exclusion averages about 29%", N("29", per=100),
     "mean digital exclusion, weighted by NHS contacts"),
    ("against about 23% for the headline share of adults", N("23", per=100),
     "mean digital exclusion, headline"),
    # equity weights
    ("Its median is about −£1.21bn against −£1.22bn unweighted", N("−1.21"),
     "median equity-weighted NPV (GBP bn)"),
    ("Its median is about −£1.21bn against −£1.22bn unweighted", N("−1.22"), "median NPV (GBP bn)"),
    ("the weights add about £16m to the mean NPV", N("16"), "equity weights: change in the mean NPV (GBP m)"),
    ("the most deprived quintile gets about 18% of it", N("18", per=100),
     "patient channel: share of its PV, most deprived"),
    ("the least deprived about 21%", N("21", per=100), "patient channel: share of its PV, least deprived"),
]

SENSITIVITY_CLAIMS = [
    ("delivers a mean of about £1.3bn by 2029/30", N("1.3"), "mean cumulative value (GBP bn)"),
    ("which gives about £1.9bn", N("1.9"), "tornado: value with every input at its median (GBP bn)"),
    ("the simulation's median of £1.27bn", N("1.27"), "median cumulative value (GBP bn)"),
    ('Whether a "black swan" cost overrun hits the staff-technology or the IT strand (about one IT portfolio '
     "in six) matters most, closely followed by staff capacity to adopt the new tools and the share of freed "
     "time put to use, then the staff-technology strand's ceiling and do-minimum path",
     Ranked((either(STAFF_TECH_SWAN, IT_SWAN), STAFF_CAPACITY, TIME_USED,
             either("programmes.staff_technology.uptake_ceiling",
                    "programmes.staff_technology.do_minimum_ceiling"))),
     "tornado: inputs by swing"),
    *(
        ("a higher value of the input lowers the value delivered: black-swan overruns, a larger do-minimum, "
         "later uptake midpoints", Exactly(["lowers"]),
         f"tornado chart: what a higher {kind} does to the value")
        for kind in ("black_swan", "do_minimum_ceiling", "uptake_midpoint")
    ),
    *(
        ("Where it points right, more helps: more staff capacity, more of the freed time put to use, higher "
         "ceilings", Exactly(["raises"]),
         f"tornado chart: what a higher {kind} does to the value")
        for kind in ("staff_capacity", "released_time_used", "uptake_ceiling")
    ),
    ("no single assumption, however optimistic, carries the result to £7bn", Exactly(0),
     "tornado: inputs with a switching value to the claim"),
    ("two inputs have switching values", Exactly(2), "tornado at GBP 2.5bn: inputs with a switching value"),
    ("Staff capacity would have to reach about 0.97", N("0.97"), "risks.staff_capacity: switching value"),
    ("(against a central 0.8; its 99.5th percentile) or the share", N("99.5", per=100),
     "risks.staff_capacity: percentile of the switching value"),
    ("the share of freed time put to use about 80%", N("80", per=100),
     "risks.released_time_used: switching value"),
    ("(against 60%; its 99.5th percentile)", N("99.5", per=100),
     "risks.released_time_used: percentile of the switching value"),
    ("with about a fifth of the variance it leads", Simple(1, 5), f"Sobol: ST of {OVERRUNS}"),
    ("The yearly raid events come next (about 13% with interactions)", N("13", per=100),
     "Sobol: ST of risks.raid_event"),
    ("then the two black swans and staff capacity (10-12% each) and the share of freed time put to use",
     Ranked((OVERRUNS, "risks.raid_event", either(STAFF_CAPACITY, STAFF_TECH_SWAN, IT_SWAN), TIME_USED)),
     "Sobol: inputs by ST"),
    ("the two black swans and staff capacity (10-12% each)", Range("10", "12", per=100),
     f"Sobol: ST of {STAFF_CAPACITY}"),
    ("the two black swans and staff capacity (10-12% each)", Range("10", "12", per=100),
     f"Sobol: ST of {STAFF_TECH_SWAN}"),
    ("the two black swans and staff capacity (10-12% each)", Range("10", "12", per=100),
     f"Sobol: ST of {IT_SWAN}"),
    ("The first-order indices add up to about 0.8", N("0.8"), "Sobol: sum of S1"),
    # "clearly above": ST above the whole 95% interval of S1
    ("Where ST is clearly above S1 (the correlated overruns and delays, the raid events)", Above(0),
     f"Sobol: ST minus the top of S1's interval, {OVERRUNS}"),
    ("Where ST is clearly above S1 (the correlated overruns and delays, the raid events)", Above(0),
     "Sobol: ST minus the top of S1's interval, risks.raid_event"),
    ("staff capacity (about +0.6)", N("+0.6"), f"PRCC: {STAFF_CAPACITY}"),
    ("the two black swans (about −0.6) lead", N("−0.6"), f"PRCC: {IT_SWAN}"),
    ("the two black swans (about −0.6) lead", N("−0.6"), f"PRCC: {STAFF_TECH_SWAN}"),
    ("staff capacity (about +0.6) and the two black swans (about −0.6) lead, then the share of freed time "
     "put to use", Ranked((either(STAFF_CAPACITY, IT_SWAN, STAFF_TECH_SWAN), TIME_USED)),
     "PRCC: inputs by size"),
    ("the staff-technology strand's do-minimum path and the raid events of the spending years",
     Exactly("programmes.staff_technology.do_minimum_ceiling"), "PRCC: fifth input"),
    ("the staff-technology strand's do-minimum path and the raid events of the spending years",
     OneOf(RAID_EVENTS), "PRCC: sixth input"),
    ("the largest standard error of a cell is under £7m", Below(7),
     "sweep: largest s.e. of a cell mean (GBP m)"),
    ("put to use gives a mean of about £2.2bn", N("2.2"), "sweep: midpoint 1.5 years, 90% used (GBP bn)"),
    ("against about £0.7bn for a slow roll-out with 40% put to use", N("0.7"),
     "sweep: midpoint 3.5 years, 40% used (GBP bn)"),
    ("Even the best cell is about a third of the £7bn claim", Simple(1, 3), "sweep: best cell / claim"),
    ("is worth more than half a year sooner on the IT roll-out", Above(1),
     "sweep: ten points more time used / half a year sooner"),
    ("On expected NPV the plan as announced comes first, the digital-inclusion option second and the "
     "ring-fenced budget last", Ranked(("as announced", "digital inclusion", "ring-fenced")),
     "options: by expected NPV"),
    ("ring-fencing lowers the expected NPV by about £67m", N("67"),
     "options: expected NPV, as announced minus ring-fenced (GBP m)"),
    ("The plan as announced is best in about three draws in five", Simple(3, 5),
     "options: P(best), as announced"),
    ("the ring-fenced budget in about two in five", Simple(2, 5), "options: P(best), ring-fenced"),
    ("the digital-inclusion option is best in only five draws of the 50,000", N("5", per=50_000),
     "options: P(best), digital inclusion"),
    ("Ring-fencing delivers the *most* value by 2029/30", Exactly("ring-fenced"),
     "options: most value by the target year"),
    ("(about £0.25bn more than the plan)", N("0.25"),
     "options: value by the target year, ring-fenced minus as announced (GBP bn)"),
    ("(about £0.25bn more than the plan) but the lowest expected NPV", Exactly("ring-fenced"),
     "options: lowest expected NPV"),
    ("with a benefit-cost ratio below 1 in most draws", Above(0.5), "P(BCR < 1), as announced"),
    ("Here it is about £59m", N("59"), "EVPI (GBP m)"),
    ("about 1.7% of the budget", N("1.7", per=100), "EVPI / total spend"),
    ("The share of freed time put to use (about £8m)", N("8"), f"EVPPI (GBP m): {TIME_USED}"),
    ("staff capacity (about £4m)", N("4"), f"EVPPI (GBP m): {STAFF_CAPACITY}"),
    ("(about £4m) are worth most", Ranked((TIME_USED, STAFF_CAPACITY, either(OVERRUNS_EVPPI, RAIDS_EVPPI))),
     "EVPPI: inputs by value"),
    ("The strands' overruns and delays (learnt together) and the budget raids are worth little (about £1m "
     "each)", N("1"), f"EVPPI (GBP m): {OVERRUNS_EVPPI}"),
    ("The strands' overruns and delays (learnt together) and the budget raids are worth little (about £1m "
     "each)", N("1"), f"EVPPI (GBP m): {RAIDS_EVPPI}"),
    ("The value of a contact moved online is worth almost nothing (under £0.1m)", Below(0.1),
     "EVPPI (GBP m): programmes.patient_services.patients.value_per_contact"),
    ("whether either strand hits a black swan is worth nothing at all", Exactly(0.0),
     f"EVPPI (GBP m): {IT_SWAN}"),
    ("whether either strand hits a black swan is worth nothing at all", Exactly(0.0),
     f"EVPPI (GBP m): {STAFF_TECH_SWAN}"),
    ("Digital exclusion is worth nothing here either", Exactly(0.0),
     "EVPPI (GBP m): risks.digital_exclusion"),
    ("only part of the addressable time is recovered (about −£6.9bn)", N("−6.9"),
     "waterfall: partial recovery (GBP bn)"),
    ("only part of the freed time is put to use (about −£3.8bn)", N("−3.8"),
     "waterfall: time not put to use (GBP bn)"),
    ("only benefits beyond the do-minimum path count (about −£1.9bn)", N("−1.9"),
     "waterfall: do-minimum counterfactual (GBP bn)"),
    ("the *planned* value, about £3.4bn", N("3.4"), "waterfall: planned (GBP bn)"),
    ("Even that is about half the £7bn claim", Simple(1, 2), "waterfall: planned / claim"),
    ("staff capacity (about −£0.64bn)", N("−0.64"), "waterfall: staff capacity (GBP bn)"),
    ("cost overruns (−£0.46bn)", N("−0.46"), "waterfall: cost overrun (GBP bn)"),
    ("delivery delay (−£0.42bn)", N("−0.42"), "waterfall: delivery delay (GBP bn)"),
    ("budget raids (−£0.36bn)", N("−0.36"), "waterfall: budget raids (GBP bn)"),
    ("staff capacity (about −£0.64bn), cost overruns (−£0.46bn), delivery delay (−£0.42bn), budget raids",
     Ranked(("staff capacity", "cost overrun", "delivery delay", "budget raids")),
     "waterfall: risks by size"),
    ("social-care leakage and digital exclusion (about −£0.1bn each)", N("−0.1"),
     "waterfall: social-care leakage (GBP bn)"),
    ("social-care leakage and digital exclusion (about −£0.1bn each)", N("−0.1"),
     "waterfall: digital exclusion (GBP bn)"),
    ("Running costs not found cost nothing within the claim window", Exactly(0.0),
     "waterfall: running costs not found (GBP bn)"),
    ("The realised mean is about £1.33bn", N("1.33"), "waterfall: realised (GBP bn)"),
    ("with every risk off the plan delivers about half of it by 2029/30", Simple(1, 2),
     "waterfall: planned / claim"),
    ("partial recovery and the share of freed time put to use take the most before any risk",
     Ranked(("partial recovery", "time not put to use")), "waterfall: haircuts by size"),
    *(
        ("staff capacity, overruns, delay and raids each take £0.4-0.6bn", Range("0.4", "0.6", per=-1),
         f"waterfall: {risk} (GBP bn)")
        for risk in ("staff capacity", "cost overrun", "delivery delay", "budget raids")
    ),
    ("the plan as announced has the highest expected NPV", Ranked(("as announced",)),
     "options: by expected NPV"),
    ("perfect information is worth at most about £59m", N("59"), "EVPI (GBP m)"),
    ("the most valuable things to learn are how much freed time is put to use and staff capacity",
     Ranked((TIME_USED, STAFF_CAPACITY)), "EVPPI: inputs by value"),
]

OWN_SCENARIO_CLAIMS = [
    ("median of about £10m by 2029/30", N("10"), "median cumulative value (GBP m)"),
    ("between roughly £4m and £20m", N("4"), "5% cumulative value (GBP m)"),
    ("between roughly £4m and £20m", N("20"), "95% cumulative value (GBP m)"),
    ("the claim is reached in about one draw in 370", N("370", odds=True), "P(reach the claim)"),
    ("the median benefit-cost ratio is about 1.04", N("1.04"), "median BCR"),
    ("the median NPV just positive", Above(0), "median NPV (GBP m)"),
    ("the benefit-cost ratio is below 1 in a little under half of the draws", Simple(1, 2, little_under=True),
     "P(BCR < 1)"),
    ("Only about one draw in sixteen has paid back", Simple(1, 16), "P(paid back by the target year)"),
    ("but more than half have by 2034/35", Above(0.5), "P(paid back by the last year)"),
    # the requested correlations are written to one decimal
    ("The rank correlations in the draws match those requested", Below(0.05),
     "largest gap between achieved and requested rank correlations"),
    # the notebook gives local money to the £m ("about £10m"): at that precision the mean does not move
    ("so the mean value barely moves", Exactly(0),
     "correlated minus independent: mean, each rounded to GBP m"),
    ("the standard deviation grows", Above(0), "correlated minus independent: sd (GBP m)"),
    ("both tails move outwards", Below(0), "correlated minus independent: 5% (GBP m)"),
    ("both tails move outwards", Above(0), "correlated minus independent: 95% (GBP m)"),
    ("the median benefit-cost ratio is just above 1", Above(1), "median BCR"),
    ("the chance of a ratio of at least 1 falls a little", Below(0),
     "correlated minus independent: P(BCR >= 1)"),
    ("adds about £1m of value by 2029/30", N("1"),
     "care homes connected: mean change in cumulative value (GBP m)"),
    ("adds about £0.5m of NPV", N("0.5"), "care homes connected: mean change in NPV (GBP m)"),
    ("The correlated variant is wider around the same centre", Above(0),
     "variants: sd, correlated minus as written (GBP m)"),
    ("The correlated variant is wider around the same centre", Exactly(0),
     "variants: median, correlated minus as written, each rounded to GBP m"),
    ("connecting the care homes shifts the distribution up a little", Above(0),
     "variants: median, connected minus as written (GBP m)"),
    ("All three sit well below the £30m claim", Below(1), "variants: largest 95% quantile / claim"),
    ("returns about £1.04 per pound at the median", N("1.04"), "median BCR, local"),
    ("against about 70p nationally", N("70", per=100), "median BCR, national"),
    ("about half of its draws break even", Simple(1, 2), "P(BCR >= 1), local"),
    ("against about one in seven nationally", Simple(1, 7), "P(BCR >= 1), national"),
]

MONITORING_CLAIMS = [
    ("leave about 23,000 effective draws of the 50,000", N("23,000"), "effective draws"),
    ("is under one in ten thousand", Below(1e-4), "P(reach the claim) upper bound, before"),
    ("after it, still none does", Exactly(0.0), "P(reach the claim), after"),
    ("rises from about £1.27bn to about £1.47bn", N("1.27"),
     "median value by the target year, before (GBP bn)"),
    ("rises from about £1.27bn to about £1.47bn", N("1.47"),
     "median value by the target year, after (GBP bn)"),
    ("from about 0.70 to about 0.74", N("0.70"), "median BCR, before"),
    ("from about 0.70 to about 0.74", N("0.74"), "median BCR, after"),
    ("falls from about 85% to about 82%", N("85", per=100), "P(BCR < 1), before"),
    ("falls from about 85% to about 82%", N("82", per=100), "P(BCR < 1), after"),
    ("on its own it lifts the median ratio to about 0.74", N("0.74"), "median BCR, uptake alone"),
    ("the spend observation on its own lifts it by about 0.01", N("0.01"),
     "median BCR: spend alone minus before"),
    ("on its own it lowers the mean NPV a little", Below(0), "mean NPV: spend alone minus before (GBP bn)"),
    ("falls from about 37% to almost none", N("37", per=100), "raid in 2025/26, before"),
    ("falls from about 37% to almost none", Below(0.001), "raid in 2025/26, after"),
    ("moves only from about 0.37 to 0.36", N("0.37"), "raid probability, before"),
    ("moves only from about 0.37 to 0.36", N("0.36"), "raid probability, after"),
    ("delay shortens from about 0.47 to 0.41 years", N("0.47"), "staff-technology delay, before (years)"),
    ("delay shortens from about 0.47 to 0.41 years", N("0.41"), "staff-technology delay, after (years)"),
    ("its midpoint comes a little earlier", Below(0),
     "staff-technology midpoint: after minus before (years)"),
    ("staff capacity hardly moves", Below(0.01), "staff capacity: after minus before"),
]
# fmt: on

CLAIMS = [
    Claim(notebook, *row)
    for notebook, rows in (
        (QUICKSTART, QUICKSTART_CLAIMS),
        (SENSITIVITY, SENSITIVITY_CLAIMS),
        (OWN_SCENARIO, OWN_SCENARIO_CLAIMS),
        (MONITORING, MONITORING_CLAIMS),
    )
    for row in rows
]


def prose(nb: nbformat.NotebookNode) -> str:
    """The notebook's markdown, with every run of white space (line breaks included) read as one space."""
    return " ".join(" ".join(cell.source.split()) for cell in nb.cells if cell.cell_type == "markdown")


def test_claims_state_the_numbers_their_words_show():
    spelt = dict(zip("0123456789", "zero one two three four five six seven eight nine".split(), strict=True))
    for claim in CLAIMS:
        if isinstance(claim.stated, Number | Range):
            words = claim.words.replace("£", "")
            for text in claim.stated.shown():
                assert text in words or spelt.get(text, text) in words, (
                    f"{claim.notebook}: {text} in {words!r}"
                )


@pytest.mark.parametrize("claim", CLAIMS, ids=[f"{claim.notebook[:2]}: {claim.key}" for claim in CLAIMS])
def test_prose_figure_matches_the_notebooks_own_computation(notebook_run, claim):
    run = notebook_run(claim.notebook)
    computed = run.figures[claim.key]
    in_prose = claim.words in prose(run.notebook)
    assert in_prose, (
        f"{claim.notebook}: the words {claim.words!r} are no longer in the prose (the notebook computes "
        f"{claim.key} = {computed!r}); make CLAIMS say what the prose says"
    )
    admitted = claim.stated.admits(computed)
    assert admitted, (
        f"{claim.notebook}: the prose says {claim.words!r}, so {claim.stated.rule()}; "
        f"but the notebook computes {claim.key} = {computed!r}"
    )


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_every_figure_a_probe_computes_is_claimed(notebook_run, name):
    claimed = {claim.key for claim in CLAIMS if claim.notebook == name}
    computed = set(notebook_run(name).figures)
    assert computed - claimed == set(), "computed but checked against no words"
    assert claimed - computed == set(), "claimed but not computed"
