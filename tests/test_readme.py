"""The README's quick start runs as written, and the image it shows is there."""

from __future__ import annotations

import re
from pathlib import Path

import matplotlib

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_quick_start_is_five_lines_and_runs():
    matplotlib.use("Agg")
    block = re.search(r"## Quick start\s+```python\n(.*?)```", README, flags=re.S).group(1)
    lines = [line for line in block.splitlines() if line.strip()]
    assert len(lines) == 5
    namespace: dict[str, object] = {}
    exec(compile(block.replace("draws=100_000", "draws=5_000"), "README quick start", "exec"), namespace)
    ax = namespace["ds"].nhsrisk.plot.fan()
    assert "GBP bn" in ax.get_ylabel()


def test_readme_images_exist():
    for target in re.findall(r"!\[[^\]]*\]\(([^)]+)\)", README):
        path = ROOT / target
        assert path.is_file(), target
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
