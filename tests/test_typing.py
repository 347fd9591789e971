"""The package type-checks (issue 14, item 4): mypy with the [tool.mypy] settings of pyproject.toml.

mypy runs in this process from the checkout's root, so it reads that pyproject.toml and checks the
files it names (the ``nhsrisk`` package), whichever copy of nhsrisk is installed. Its cache is the
default ``.mypy_cache`` there (git-ignored): a first run takes about 15 s, a repeat well under one.
"""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_mypy_finds_no_errors_in_the_package(monkeypatch: pytest.MonkeyPatch) -> None:
    api = pytest.importorskip("mypy.api", reason="mypy is not installed (pip install -e '.[test]')")
    monkeypatch.chdir(ROOT)
    report, errors, status = api.run(["--config-file", str(ROOT / "pyproject.toml")])
    assert status == 0, f"mypy exited with status {status}:\n{report}{errors}"
