"""The built wheel works on its own (issue 14, item 3).

The wheel is built from this checkout (``pip wheel``, in pip's isolated build
environment) and installed with ``--no-deps`` into a directory of its own. The
command line then runs from that directory in a fresh interpreter that does not
process ``.pth`` files, so the editable install of the checkout cannot stand in
for it: a module or data file missing from the wheel fails here. The
dependencies come from this environment's site-packages (their resolution is a
question for the install, not for the wheel's contents).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def installed_wheel(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Build the wheel and install it alone into a target directory; return (wheel, target)."""
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "--wheel-dir", str(out), str(ROOT)],
        check=True,
    )
    (wheel,) = out.glob("nhsrisk-*.whl")
    target = out / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--quiet", "--target", str(target), str(wheel)],
        check=True,
    )
    return wheel, target


def run_from_wheel(target: Path, code: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run ``code`` with only the wheel's directory and the dependencies' site-packages on the path."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(target), sysconfig.get_paths()["purelib"]])
    env["NUMBA_CACHE_DIR"] = str(cwd / "numba-cache")
    env["NHSRISK_CACHE_DIR"] = str(cwd / "tables")
    return subprocess.run(
        [sys.executable, "-S", "-c", code], cwd=cwd, env=env, capture_output=True, text=True, timeout=600
    )


def test_wheel_holds_the_package_data_licence_and_entry_point(installed_wheel: tuple[Path, Path]) -> None:
    wheel, _ = installed_wheel
    names = zipfile.ZipFile(wheel).namelist()
    shipped = sorted(p.name for p in (ROOT / "nhsrisk" / "data").glob("*.toml"))
    assert shipped and all(f"nhsrisk/data/{name}" in names for name in shipped)
    assert "nhsrisk/py.typed" in names
    assert any(name.endswith(".dist-info/licenses/LICENSE") for name in names)
    modules = sorted(p.name for p in (ROOT / "nhsrisk").glob("*.py"))
    assert all(f"nhsrisk/{module}" in names for module in modules)
    entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    assert "nhsrisk = nhsrisk.cli:main" in zipfile.ZipFile(wheel).read(entry_points).decode()


def test_the_installed_wheel_runs_and_describes_the_default_scenario(
    installed_wheel: tuple[Path, Path], tmp_path: Path
) -> None:
    _, target = installed_wheel
    code = (
        "import json, sys, contextlib, io\n"
        "import nhsrisk\n"
        "from nhsrisk.cli import main\n"
        "run = main(['run', '--draws', '1000', '--seed', '7', '--out', 'out', '--no-progress'])\n"
        "text = io.StringIO()\n"
        "with contextlib.redirect_stdout(text):\n"
        "    described = main(['describe'])\n"
        "print(json.dumps({'file': nhsrisk.__file__, 'run': run, 'describe': described,"
        " 'described': text.getvalue()}))\n"
    )
    result = run_from_wheel(target, code, tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert Path(report["file"]).is_relative_to(target), report["file"]
    assert report["run"] == 0 and report["describe"] == 0
    assert "as-announced" in report["described"]
    assert (tmp_path / "out" / "results.nc").stat().st_size > 0
    assert "Claim window" in result.stdout and "Appraisal period" in result.stdout
