"""The example scripts run end to end and print what they promise."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def run_example(name: str) -> str:
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / name)], capture_output=True, text=True, timeout=600, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == "", result.stderr  # no warnings either
    return result.stdout


def test_quickstart_runs():
    out = run_example("quickstart.py")
    assert "ring" in out.lower()


def test_sensitivity_study_names_three_drivers_with_sobol_and_evppi():
    out = run_example("sensitivity_study.py")
    drivers = re.findall(r"^  (\S+)\s+total (\d\.\d+) \[(\d\.\d+), (\d\.\d+)\]", out, flags=re.M)
    assert len(drivers) == 3
    totals = [float(t) for _, t, _, _ in drivers]
    assert totals == sorted(totals, reverse=True)
    for _, total, low, high in drivers:
        assert float(low) <= float(total) <= float(high)
    evppi = dict(re.findall(r"^    (\S+)\s+EVPPI GBP\s+(\d+\.\d+)m", out, flags=re.M))
    assert all(name in evppi for name, *_ in drivers)
    assert re.search(r"EVPI: GBP \d+\.\d+m", out)
