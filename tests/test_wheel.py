"""The package as a user installs it (issue 14, items 1 and 3).

``python -m build`` makes the sdist and the wheel from this checkout, and must
print no warning. The wheel is then installed into a fresh venv with its
dependencies resolved by pip, exactly as ``pip install nhsrisk`` would: the
core install, no extras, from the package registries or pip's cache. Nothing
of this checkout or of the test environment is on that venv's path, so a
module or data file missing from the wheel, or a core dependency missing from
``pyproject.toml``, fails here. In that venv the ``nhsrisk`` command runs the
default scenario and describes it, the README's quick start runs, and every
feature of the ``scale`` extra says which extra to install.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from nhsrisk._progress import COMPILE_NOTICE

ROOT = Path(__file__).resolve().parents[1]
#: What `pip install 'nhsrisk[scale]'` adds; none of it may come with the core install.
SCALE_PACKAGES = {"dask", "distributed", "zarr", "numcodecs", "datasketches"}
#: Seconds for one install or run on a busy 2-core machine (the venv compiles the kernels afresh).
TIMEOUT = 1200


def _clean_env(tmp: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV", "NUMBA_"))}
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep) if ".venv" not in p)
    env["NUMBA_CACHE_DIR"] = str(tmp / "numba-cache")
    env["NHSRISK_CACHE_DIR"] = str(tmp / "tables")
    env["MPLBACKEND"] = "Agg"
    return env


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, str]:
    """Run ``python -m build``; return (wheel, sdist, everything it printed)."""
    out = tmp_path_factory.mktemp("dist")
    env = dict(os.environ)
    # Set in some shells; it makes setuptools warn that byte-compiling is disabled, a warning
    # about the environment rather than the package.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    result = subprocess.run(
        [sys.executable, "-m", "build", "--outdir", str(out), str(ROOT)],
        capture_output=True,
        text=True,
        env=env,
        timeout=TIMEOUT,
    )
    printed = result.stdout + result.stderr
    assert result.returncode == 0, printed[-4000:]
    (wheel,) = out.glob("nhsrisk-*.whl")
    (sdist,) = out.glob("nhsrisk-*.tar.gz")
    return wheel, sdist, printed


@pytest.fixture(scope="module")
def core_venv(built: tuple[Path, Path, str], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv holding the wheel and the dependencies pip resolves for it (no extras)."""
    wheel, _, _ = built
    venv = tmp_path_factory.mktemp("core") / "venv"
    env = _clean_env(venv.parent)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, env=env, timeout=TIMEOUT)
    install = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", str(wheel)],
        capture_output=True,
        text=True,
        env=env,
        timeout=TIMEOUT,
    )
    assert install.returncode == 0, (install.stdout + install.stderr)[-4000:]
    return venv


def _run(venv: Path, args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args, cwd=cwd, env=_clean_env(venv.parent), capture_output=True, text=True, timeout=TIMEOUT
    )


def _python(venv: Path, code: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return _run(venv, [str(venv / "bin" / "python"), "-c", code], cwd)


def test_build_makes_an_sdist_and_a_wheel_without_warnings(built: tuple[Path, Path, str]) -> None:
    wheel, sdist, printed = built
    warnings = [line for line in printed.splitlines() if re.search(r"warn", line, flags=re.I)]
    assert not warnings, "\n".join(warnings)
    with tarfile.open(sdist) as archive:
        names = archive.getnames()
    top = sdist.name.removesuffix(".tar.gz")
    for needed in (
        "LICENSE",
        "CHANGELOG.md",
        "README.md",
        "pyproject.toml",
        "nhsrisk/data/as-announced.toml",
    ):
        assert f"{top}/{needed}" in names, needed
    assert wheel.stat().st_size > 0


def test_wheel_holds_the_package_data_licence_and_entry_point(built: tuple[Path, Path, str]) -> None:
    wheel, _, _ = built
    names = zipfile.ZipFile(wheel).namelist()
    data = ROOT / "nhsrisk" / "data"
    shipped = sorted(p.relative_to(data).as_posix() for p in data.rglob("*") if p.suffix in (".toml", ".csv"))
    assert any(name.startswith("observations/") for name in shipped)
    assert shipped and all(f"nhsrisk/data/{name}" in names for name in shipped)
    assert "nhsrisk/py.typed" in names
    assert any(name.endswith(".dist-info/licenses/LICENSE") for name in names)
    modules = sorted(p.name for p in (ROOT / "nhsrisk").glob("*.py"))
    assert all(f"nhsrisk/{module}" in names for module in modules)
    entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    assert "nhsrisk = nhsrisk.cli:console_main" in zipfile.ZipFile(wheel).read(entry_points).decode()


def test_the_core_install_holds_no_scale_package(core_venv: Path, tmp_path: Path) -> None:
    listed = _run(
        core_venv, [str(core_venv / "bin" / "python"), "-m", "pip", "list", "--format=json"], tmp_path
    )
    assert listed.returncode == 0, listed.stderr
    names = {entry["name"].lower() for entry in json.loads(listed.stdout)}
    assert not names & SCALE_PACKAGES, sorted(names & SCALE_PACKAGES)
    assert {"nhsrisk", "numpy", "scipy", "numba", "xarray", "matplotlib", "h5netcdf"} <= names


def test_the_installed_command_runs_and_describes_the_default_scenario(
    core_venv: Path, tmp_path: Path
) -> None:
    command = str(core_venv / "bin" / "nhsrisk")
    # The first run compiles the kernels into an empty cache and says so, once; the second loads them.
    for draws, notices in (("1000", 1), ("2000", 0)):
        out = tmp_path / f"out-{draws}"
        run = _run(core_venv, [command, "run", "--draws", draws, "--seed", "7", "--out", str(out)], tmp_path)
        assert run.returncode == 0, run.stderr[-4000:]
        assert run.stderr.count(COMPILE_NOTICE) == notices, run.stderr[-4000:]
        assert f"{int(draws):,} draws, seed 7" in run.stdout
        assert "Claim window" in run.stdout and "Appraisal period" in run.stdout
        assert (out / "results.nc").stat().st_size > 0
        assert all((out / name).stat().st_size > 0 for name in ("fan.png", "exceedance.png", "waterfall.png"))
    described = _run(core_venv, [command, "describe"], tmp_path)
    assert described.returncode == 0, described.stderr[-4000:]
    assert "as-announced" in described.stdout
    where = _python(core_venv, "import nhsrisk; print(nhsrisk.__file__)", tmp_path)
    assert Path(where.stdout.strip()).is_relative_to(core_venv), where.stdout


def test_the_readme_quick_start_runs_in_the_core_install(core_venv: Path, tmp_path: Path) -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"## Quick start\s+```python\n(.*?)```", readme, flags=re.S).group(1)
    code = block.replace("draws=100_000", "draws=5_000") + (
        "\nax = ds.nhsrisk.plot.fan()\nprint('QUICKSTART-OK', ax.get_ylabel())\n"
    )
    result = _python(core_venv, code, tmp_path)
    assert result.returncode == 0, result.stderr[-4000:]
    assert "QUICKSTART-OK" in result.stdout and "GBP bn" in result.stdout


def test_each_scale_feature_names_the_extra_and_results_reopen_without_dask(
    core_venv: Path, tmp_path: Path
) -> None:
    code = """
import json, nhsrisk
ds = nhsrisk.simulate(draws=500, seed=3)
messages = {}
calls = {
    "chunks": lambda: nhsrisk.simulate(draws=500, seed=3, chunks=100),
    "summary": lambda: nhsrisk.simulate(draws=500, seed=3, keep="summary"),
    "zarr": lambda: nhsrisk.save_results(ds, "run.zarr"),
}
for name, call in calls.items():
    try:
        call()
        messages[name] = None
    except ImportError as err:
        messages[name] = str(err)
path = nhsrisk.save_results(ds[["npv", "bcr"]], "run.nc")
with nhsrisk.open_results(path) as reopened:
    same = bool((reopened["npv"].values == ds["npv"].values).all())
    lazy = reopened["npv"].chunks is None
try:
    nhsrisk.open_results(path, chunks={"draw": 100})
    messages["open-chunks"] = None
except ImportError as err:
    messages["open-chunks"] = str(err)
print(json.dumps({"messages": messages, "same": same, "lazy": lazy}))
"""
    result = _python(core_venv, code, tmp_path)
    assert result.returncode == 0, result.stderr[-4000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    needed = {"chunks": "dask", "summary": "datasketches", "zarr": "zarr", "open-chunks": "dask"}
    for name, package in needed.items():
        message = report["messages"][name]
        assert message is not None, f"{name}: no ImportError without the scale extra"
        assert f"'{package}'" in message and "pip install 'nhsrisk[scale]'" in message, message
    assert report["same"] and report["lazy"]
    assert not (tmp_path / "run.zarr").exists()

    command = str(core_venv / "bin" / "nhsrisk")
    for option in (["--chunks", "1000"], ["--summary-only"]):
        out = tmp_path / "cli-out"
        refused = _run(core_venv, [command, "run", "--draws", "2000", "--out", str(out), *option], tmp_path)
        assert refused.returncode == 2, refused.stderr
        assert "pip install 'nhsrisk[scale]'" in refused.stderr, refused.stderr
        assert not out.exists()  # refused before any work
