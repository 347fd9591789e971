"""The example notebooks run top to bottom in a fresh kernel and show what their text promises."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

nbformat = pytest.importorskip("nbformat", reason="executing the example notebooks needs nbformat")
nbclient = pytest.importorskip("nbclient", reason="executing the example notebooks needs nbclient")
pytest.importorskip(
    "ipykernel", reason="executing the example notebooks needs ipykernel (the python3 kernel)"
)

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
NOTEBOOKS = ("01-quickstart.ipynb", "02-sensitivity-study.ipynb", "03-your-own-scenario.ipynb")

# Notebooks run once per test session; each test then reads the outputs it needs.
_executed: dict[str, nbformat.NotebookNode] = {}


@pytest.fixture
def executed(monkeypatch: pytest.MonkeyPatch):
    # The kernel inherits this environment: no GUI backend, whatever the machine offers.
    monkeypatch.setenv("MPLBACKEND", "Agg")

    def run(name: str) -> nbformat.NotebookNode:
        if name not in _executed:
            nb = nbformat.read(EXAMPLES / name, as_version=4)
            client = nbclient.NotebookClient(
                nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(EXAMPLES)}}
            )
            client.execute()  # raises CellExecutionError, naming the cell, if any cell fails
            _executed[name] = nb
        return _executed[name]

    return run


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


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_no_cell_prints_a_warning(executed, name):
    # A warning in a tutorial is noise the reader cannot act on; progress bars on stderr are fine.
    for index, cell in enumerate(code_cells(executed(name))):
        for output in cell.outputs:
            if output.output_type == "stream" and output.name == "stderr":
                assert "Warning" not in output.text, f"{name}, code cell {index}: {output.text}"
