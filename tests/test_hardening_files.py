"""Results files an analyst can rely on: the gaps ``tests/test_io.py`` and ``tests/test_cli.py`` leave.

- A saved result is enough to reproduce its run: reopened, it is identical to
  what was saved, and its scenario, seed, start, sampler (and precision target)
  rerun to the same Dataset, for extreme runs (a seed beyond 64 bits, a start
  beyond 2**32, one draw, Latin hypercube and Sobol' designs, correlations,
  unusual characters in every label, a run stopped at a precision, 64
  programmes) in both formats.
- Tampering the file gets a clear error from both ``open_results`` and
  ``load_scenario``, never a wrong scenario: a changed checksum, another valid
  scenario put in its place, an attribute of the wrong type, a truncated file.
  Where the guarantee stops (a rewrite that also updates the checksum) is
  tested too, so that it is stated.
- ``nhsrisk run`` into a directory it cannot write: a clear error and nothing
  left behind, whoever runs the tests (root ignores permission bits, so /proc,
  which nobody can write, stands in for a read-only directory there).
- ``nhsrisk run`` itself killed (SIGKILL) while it writes many draws: no
  ``results.nc`` that opens as complete, and an older complete result that
  was being replaced is still there, whole (full tier).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import h5netcdf
import numpy as np
import pytest
import xarray as xr

import nhsrisk
from nhsrisk import Scenario, ScenarioError, cli
from nhsrisk.io import open_results, results_attributes, save_results
from nhsrisk.testing import synthetic_scenario

try:
    from tests._hardening import tally, toml_text, write_tally
except ModuleNotFoundError:  # pragma: no cover - depends on how pytest was started
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from tests._hardening import tally, toml_text, write_tally

BASE = nhsrisk.load_scenario()
IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0
SUFFIXES = {"netcdf": ".nc", "zarr": ".zarr"}


@pytest.fixture(scope="module", autouse=True)
def _write_the_tally(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    yield
    write_tally(tmp_path_factory.getbasetemp())


def listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


# ---------------------------------------------------------------------------------
# Saved results reproduce their run
# ---------------------------------------------------------------------------------

ODD = BASE.with_values(
    {
        "name": "odd-strings",
        "title": 'Trust "A" & B <plan> £3.4bn, é ü \U0001f600, zero\u200bwidth line\u2028sep',
        "description": "tab\tand\nnewline, the control characters free text may hold; \\ and \\x00 as text",
        "programmes.it_modernisation.label": "IT \U0001f4bb <b>bold</b> \u202eright-to-left",
        "staff_groups.gp.label": "  GPs, leading and trailing spaces  ",
        "programmes.patient_services.label": "",
        "baseline": "as-announced \U0001f4ca",
        "budget_changes": [
            {
                "programme": "staff_technology",
                "year": "2026/27",
                "amount": -1.25e8,
                "source": 'assumption: a cut, \u00a3125m \u2014 "quoted"',
                "note": "tab\tand\nnewline in a note",
            }
        ],
    }
).with_correlations(
    ["programmes.it_modernisation.cost_overrun", "risks.staff_capacity"],
    [[1.0, -0.5], [-0.5, 1.0]],
    source="assumption: test",
)
RUNS: dict[str, dict[str, Any]] = {
    "seed beyond 64 bits, start beyond 2**32": {"draws": 16, "seed": 2**127 + 5, "start": 10**12},
    "one draw": {"draws": 1, "seed": 7},
    "latin hypercube": {"draws": 24, "seed": 3, "sampler": "lhs"},
    "sobol block": {"draws": 32, "seed": 4, "sampler": "sobol", "start": 64},
    "odd strings, correlations": {"scenario": ODD, "draws": 16, "seed": 5},
    # the NPV's standard deviation is about 1.1e9 GBP: 200 draws reach a standard error of 8e7 at once
    "stopped at a precision": {"draws": 200, "seed": 6, "precision": 2e8},
}


def run(**kwargs: Any) -> xr.Dataset:
    tally("scenario simulated (files)")
    return nhsrisk.simulate(kwargs.pop("scenario", BASE), **kwargs)


def rerun_from(path: Path) -> xr.Dataset:
    """The run again, from nothing but what the saved file holds."""
    attrs = results_attributes(path)
    options: dict[str, Any] = {"start": attrs["start"], "sampler": attrs["sampler"]}
    if "precision" in attrs:
        options |= {"precision": attrs["precision"], "precision_output": attrs["precision_output"]}
    return run(
        scenario=nhsrisk.load_scenario(path), draws=attrs["n_draws"], seed=int(attrs["seed"]), **options
    )


def check_reproduced(ds: xr.Dataset, scenario: Scenario, path: Path) -> None:
    with open_results(path) as reopened:
        reopened = reopened.load()
    xr.testing.assert_identical(reopened, ds)
    assert nhsrisk.load_scenario(path) == scenario
    assert reopened.attrs["nhsrisk_version"] == nhsrisk.__version__
    xr.testing.assert_identical(rerun_from(path), reopened)


def test_an_extreme_run_reopens_identically_and_reruns_from_the_file_alone(tmp_path: Path) -> None:
    # Several extremes in one run (the netCDF round trip of ~100 variables takes seconds here):
    # a seed and a start that do not fit 64 and 32 bits, correlations, and odd characters in labels.
    ds = run(scenario=ODD, draws=16, seed=2**127 + 5, start=10**12)
    path = save_results(ds, tmp_path / "run.nc")
    assert results_attributes(path)["seed"] == str(2**127 + 5)
    check_reproduced(ds, ODD, path)
    assert listing(tmp_path) == ["run.nc"]


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["netcdf", "zarr"])
@pytest.mark.parametrize("case", list(RUNS))
def test_every_kind_of_run_reopens_identically_and_reruns_from_the_file_alone_full(
    case: str, fmt: str, tmp_path: Path
) -> None:
    kwargs = dict(RUNS[case])
    scenario = kwargs.get("scenario", BASE)
    ds = run(**kwargs)
    path = save_results(ds, tmp_path / f"run{SUFFIXES[fmt]}")
    check_reproduced(ds, scenario, path)
    assert listing(tmp_path) == [path.name]


@pytest.mark.slow
def test_sixty_four_programmes_reopen_identically_full(tmp_path: Path) -> None:
    # About 1,200 variables: every programme's sampled inputs are variables of their own.
    scenario = synthetic_scenario(64, 8)
    ds = run(scenario=scenario, draws=8, seed=9)
    assert len(ds.data_vars) > 1000
    path = save_results(ds, tmp_path / "wide.nc")
    check_reproduced(ds, scenario, path)


# The netCDF writer cannot store a NUL in an attribute (h5py: "VLEN strings do not support embedded
# NULLs"), and the other control characters garble terminals and tables: the loader refuses them all in
# every string, so that whatever it accepts can be saved (it once accepted a NUL, and save_results failed).
CONTROL_CHARACTERS = ["\x00", "\x07", "\x1b", "\r", "\x7f", "\x85", "\ud800"]
STRINGS = {
    "title": False,
    "name": False,
    "price_base": False,
    "programmes.it_modernisation.label": False,
    "staff_groups.gp.label": False,
    "description": True,
    "target.description": True,
    "risks.raid_probability.source": True,
    "risks.raid_probability.note": True,
    "programmes.it_modernisation.spend.source": True,
    "correlations.note": True,
    "baseline": False,
    "deflator.source": True,
    "budget_changes[0].programme": False,
    "budget_changes[0].year": False,
    "budget_changes[0].source": True,
    "budget_changes[0].note": True,
}  # key path: free text (tab and newline allowed)


def _with_string(path: str, text: str) -> dict[str, Any]:
    document = ODD.to_dict()
    parts: list[Any] = [int(p) if p.isdigit() else p for p in re.findall(r"[^.\[\]]+", path)]
    *parents, last = parts
    node: Any = document
    for part in parents:
        node = node[part]
    node[last] = text
    return document


@pytest.mark.parametrize("char", CONTROL_CHARACTERS, ids=lambda c: f"U+{ord(c):04X}")
@pytest.mark.parametrize("path", list(STRINGS))
def test_a_control_character_in_any_string_is_refused_by_the_loader(path: str, char: str) -> None:
    with pytest.raises(ScenarioError) as info:
        Scenario.from_toml(toml_text(_with_string(path, f"before{char}after")), file="odd.toml")
    tally("control character refused", info.value)
    assert info.value.path == path, str(info.value)
    assert f"{char!r}" in info.value.problem and "at position 6" in info.value.problem, str(info.value)


@pytest.mark.parametrize("char", ["\t", "\n"], ids=["tab", "newline"])
@pytest.mark.parametrize("path", list(STRINGS))
def test_tab_and_newline_are_refused_in_one_line_strings_and_kept_in_free_text(path: str, char: str) -> None:
    document = _with_string(path, f"before{char}after")
    if STRINGS[path]:
        assert Scenario.from_toml(toml_text(document)).to_dict() == document
    else:
        with pytest.raises(ScenarioError, match="one-line string"):
            Scenario.from_toml(toml_text(document))


def test_a_nul_given_in_python_is_refused_before_it_reaches_a_results_file() -> None:
    with pytest.raises(ScenarioError, match=r"^title: contains the control character '\\x00' \(U\+0000\)"):
        BASE.with_values({"title": "before\x00after"})


def test_the_strings_the_loader_accepts_save_as_netcdf(tmp_path: Path) -> None:
    # ODD holds the strings the loader accepts that are hardest to store: tabs and newlines in free
    # text, a backslash, zero-width and bidirectional characters, and no control characters.
    ds = run(scenario=ODD, draws=4, seed=1)[["npv"]]
    path = save_results(ds, tmp_path / "run.nc")
    with open_results(path) as reopened:
        xr.testing.assert_identical(reopened.load(), ds)
    assert nhsrisk.load_scenario(path) == ODD


# ---------------------------------------------------------------------------------
# Tampered files: a clear error, never a wrong scenario
# ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small results file (one variable, every attribute), copied by each test before tampering."""
    ds = run(draws=50, seed=1)[["npv"]]
    return save_results(ds, tmp_path_factory.mktemp("saved") / "run.nc")


@pytest.fixture
def copy_of_saved(saved: Path, tmp_path: Path) -> Path:
    return Path(shutil.copy(saved, tmp_path / "run.nc"))


def set_attributes(path: Path, **attributes: Any) -> None:
    with h5netcdf.File(path, "a") as store:
        for name, value in attributes.items():
            store.attrs[name] = value


def assert_refused_by_both(path: Path, *needles: str) -> None:
    with pytest.raises(ScenarioError) as opened:
        open_results(path)
    with pytest.raises(ScenarioError) as loaded:
        nhsrisk.load_scenario(path)
    for error in (opened.value, loaded.value):
        tally("tampered results file", error)
        assert error.file == str(path) and error.path == "attrs.scenario", str(error)
        assert all(needle in str(error) for needle in needles), str(error)


def test_a_changed_checksum_is_refused(copy_of_saved: Path) -> None:
    digest = results_attributes(copy_of_saved)["scenario_sha256"]
    forged = ("0" if digest[0] != "0" else "1") + digest[1:]
    set_attributes(copy_of_saved, scenario_sha256=forged)
    assert_refused_by_both(copy_of_saved, "does not match its checksum", forged)


def test_another_valid_scenario_in_its_place_is_refused(copy_of_saved: Path) -> None:
    # A different scenario that loads on its own (a 1.5% discount rate), put in without its checksum.
    other = BASE.with_values({"discount_rate": 0.015})
    set_attributes(copy_of_saved, scenario=other.to_toml())
    assert_refused_by_both(copy_of_saved, "altered after the run")


@pytest.mark.parametrize(
    "value",
    [np.array(["a", "b"], dtype=object), np.int64(3), np.array([1.0, 2.0])],
    ids=["array of strings", "integer", "array of numbers"],
)
def test_a_scenario_attribute_of_the_wrong_type_is_refused(copy_of_saved: Path, value: Any) -> None:
    set_attributes(copy_of_saved, scenario=value)
    assert_refused_by_both(copy_of_saved)


#: What was stored, and how the error must describe it (the reader may hand back a numpy or a plain value).
WRONG_TYPES = {
    "array of strings": (np.array(["a", "b"], dtype=object), r"(a list|an array) of 2 "),
    "integer": (np.int64(3), r"int(64)? 3\b"),
    "array of numbers": (np.array([1.0, 2.0]), r"(a list|an array) of 2 "),
}


@pytest.mark.parametrize("kind", list(WRONG_TYPES))
def test_a_scenario_attribute_of_the_wrong_type_is_called_that_not_missing(
    copy_of_saved: Path, kind: str
) -> None:
    # It used to be reported as "missing", which sends the reader looking for an attribute that is there.
    value, found = WRONG_TYPES[kind]
    set_attributes(copy_of_saved, scenario=value)
    with pytest.raises(ScenarioError) as loaded:
        nhsrisk.load_scenario(copy_of_saved)
    with pytest.raises(ScenarioError) as opened:
        open_results(copy_of_saved)
    for error in (loaded.value, opened.value):
        assert "missing" not in str(error), str(error)
    assert re.search(found, str(loaded.value)) and "must be a string" in str(loaded.value), str(loaded.value)
    assert "'scenario' is" in str(opened.value) and "of the wrong type" in str(opened.value), str(
        opened.value
    )


def test_a_missing_scenario_attribute_is_called_missing(copy_of_saved: Path) -> None:
    with h5netcdf.File(copy_of_saved, "a") as store:
        del store.attrs["scenario"]
    with pytest.raises(ScenarioError, match="attrs.scenario: missing"):
        nhsrisk.load_scenario(copy_of_saved)
    with pytest.raises(ScenarioError, match="'scenario' is missing"):
        open_results(copy_of_saved)


def test_a_rewrite_that_also_updates_the_checksum_is_not_detected(copy_of_saved: Path) -> None:
    # Where the guarantee stops: the checksum catches edits made by mistake or without care, not a
    # deliberate rewrite. A signed or keyed hash would be needed for that.
    other = BASE.with_values({"discount_rate": 0.015})
    text = other.to_toml()
    set_attributes(copy_of_saved, scenario=text, scenario_sha256=hashlib.sha256(text.encode()).hexdigest())
    assert nhsrisk.load_scenario(copy_of_saved) == other


@pytest.mark.parametrize("kept", [0.0, 0.5, 0.99, 0.9999])
def test_a_truncated_file_never_opens(saved: Path, tmp_path: Path, kept: float) -> None:
    data = saved.read_bytes()
    path = tmp_path / "run.nc"
    path.write_bytes(data[: int(len(data) * kept)])
    with pytest.raises(ValueError, match=r"run\.nc: cannot be read as a netCDF4 results file"):
        open_results(path)
    with pytest.raises(ScenarioError, match=r"cannot read as a netCDF4 results file"):
        nhsrisk.load_scenario(path)
    with pytest.raises((OSError, ValueError)):
        xr.open_dataset(path, engine="h5netcdf").close()


def test_a_corrupted_compressed_chunk_is_an_error_not_a_number(saved: Path, tmp_path: Path) -> None:
    # Chunks are zlib-compressed, and zlib checks an Adler-32 sum: a flipped byte inside a chunk of
    # the NPV cannot read back as numbers.
    import h5py

    with h5py.File(saved, "r") as store:
        chunk = store["npv"].id.get_chunk_info(0)
    assert chunk.size > 16
    data = bytearray(saved.read_bytes())
    data[chunk.byte_offset + chunk.size // 2] ^= 0xFF
    path = tmp_path / "run.nc"
    path.write_bytes(bytes(data))
    with pytest.raises(OSError, match="filter returned failure"), open_results(path) as reopened:
        reopened["npv"].values  # noqa: B018 - reading is the point


def test_a_zarr_store_that_lost_a_chunk_is_refused_not_read_as_nan(tmp_path: Path) -> None:
    # An interrupted copy or sync can lose a chunk file of a store marked complete; zarr reads it as NaN.
    ds = run(draws=32, seed=2)[["npv"]].chunk({"draw": 16})
    path = save_results(ds, tmp_path / "run.zarr")
    (path / "npv" / "1").unlink()
    with pytest.raises(
        ValueError, match=r"run\.zarr: incomplete results: variable 'npv' has lost 1 of its 2"
    ):
        open_results(path)


# ---------------------------------------------------------------------------------
# Directories that cannot be written
# ---------------------------------------------------------------------------------


@contextlib.contextmanager
def unwritable_directory(tmp_path: Path) -> Iterator[Path]:
    """An existing directory this process cannot create files in."""
    if IS_ROOT:
        yield Path("/proc")  # procfs refuses new files even to root
        return
    folder = tmp_path / "read-only"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        yield folder
    finally:
        folder.chmod(0o755)


@contextlib.contextmanager
def simulation_trap() -> Iterator[None]:
    def trap(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("nhsrisk run simulated although it could not write its results")

    original = nhsrisk.simulate
    nhsrisk.simulate = trap
    try:
        yield
    finally:
        nhsrisk.simulate = original


def test_save_results_into_an_unwritable_directory_fails_and_leaves_nothing(tmp_path: Path) -> None:
    ds = run(draws=10, seed=1)[["npv"]]
    with unwritable_directory(tmp_path) as folder:
        before = listing(folder) if not IS_ROOT else None
        name = f"hardening-{uuid.uuid4().hex}.nc"
        with pytest.raises(OSError) as info:
            save_results(ds, folder / name)
        assert str(folder) in str(info.value)
        assert not (folder / name).exists()
        if before is not None:
            assert listing(folder) == before


def test_nhsrisk_run_under_a_file_fails_cleanly(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "a-file").write_text("")
    with simulation_trap():
        code = cli.main(["run", "--draws", "50", "--seed", "1", "--out", str(tmp_path / "a-file" / "out")])
    assert code == 2
    assert "cannot create output directory" in capsys.readouterr().err
    assert listing(tmp_path) == ["a-file"]


def test_nhsrisk_run_cannot_create_its_directory_fails_cleanly(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with unwritable_directory(tmp_path) as folder:
        out = folder / f"hardening-{uuid.uuid4().hex}"
        with simulation_trap():
            code = cli.main(["run", "--draws", "50", "--seed", "1", "--out", str(out)])
        assert code == 2
        err = capsys.readouterr().err
        assert f"cannot create output directory {out}" in err
        assert not out.exists()


def test_nhsrisk_run_into_an_unwritable_directory_fails_cleanly_before_simulating(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with unwritable_directory(tmp_path) as folder:
        before = listing(folder) if not IS_ROOT else None
        with simulation_trap():
            code = cli.main(["run", "--draws", "50", "--seed", "1", "--out", str(folder)])
        assert code == 2
        err = capsys.readouterr().err
        assert err.startswith(f"nhsrisk run: cannot write to output directory {folder}: ")
        assert err.count("\n") == 1, err  # one line, no traceback
        assert not (folder / "results.nc").exists()
        if before is not None:
            assert listing(folder) == before


def test_overwrite_clears_what_a_killed_netcdf_write_left(saved: Path, tmp_path: Path) -> None:
    # What a writer killed mid-way leaves (see the full-tier test below for a real kill).
    leftover = tmp_path / ".run.nc.k1ll3d00.partial"
    leftover.write_bytes(saved.read_bytes()[:1000])
    with open_results(saved) as reopened:
        ds = reopened.load()
    save_results(ds, tmp_path / "run.nc", overwrite=True)
    assert listing(tmp_path) == ["run.nc"]


def test_overwrite_clears_only_the_temporary_files_of_its_own_target(saved: Path, tmp_path: Path) -> None:
    with open_results(saved) as reopened:
        ds = reopened.load()
    others = [
        ".run.nc.k1ll3d0.partial",  # 7 random characters: not a name mkstemp gives
        ".run.nc.k1ll3d000.partial",  # 9
        ".run.nc.K1LL3D00.partial",  # mkstemp's names are lower case
        ".run.nc.k1ll3d00.partial.keep",
        ".other.nc.k1ll3d00.partial",  # another target's
        ".run.nc4.k1ll3d00.partial",
        "run.nc.k1ll3d00.partial",  # not hidden
        ".run.k1ll3d00.partial",
    ]
    for name in others:
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / ".run.nc.d1rect0r.partial").mkdir()  # a directory is not a temporary file
    (tmp_path / ".run.nc.k1ll3d00.partial").write_bytes(b"x")
    save_results(ds, tmp_path / "run.nc", overwrite=False)  # without overwrite nothing is cleared
    assert ".run.nc.k1ll3d00.partial" in listing(tmp_path)
    save_results(ds, tmp_path / "run.nc", overwrite=True)
    assert listing(tmp_path) == sorted([*others, ".run.nc.d1rect0r.partial", "run.nc"])


# ---------------------------------------------------------------------------------
# nhsrisk run killed while it writes (full tier: each run is a fresh process of several seconds)
# ---------------------------------------------------------------------------------

KILL_DRAWS = 200_000
KILL_SEED = 3


def nhsrisk_command(*arguments: str) -> list[str]:
    script = Path(sys.executable).with_name("nhsrisk")
    if script.exists():
        return [str(script), *arguments]
    return [sys.executable, "-c", "import sys; from nhsrisk.cli import main; sys.exit(main())", *arguments]


def start_run(out: Path, *extra: str) -> subprocess.Popen[str]:
    command = nhsrisk_command(
        "run", "--draws", str(KILL_DRAWS), "--seed", str(KILL_SEED), "--out", str(out), *extra
    )
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for_the_write(process: subprocess.Popen[str], out: Path, timeout: float = 600.0) -> Path:
    """Wait until results are being written (a temporary file of more than 1 MB); return it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for item in out.glob(".results.nc.*.partial") if out.exists() else []:
            with contextlib.suppress(FileNotFoundError):
                if item.stat().st_size > 1_000_000:
                    return item
        if process.poll() is not None:
            pytest.fail(
                f"nhsrisk run ended before it was killed ({process.returncode}): {process.stderr.read()}"
            )
        time.sleep(0.01)
    process.kill()
    pytest.fail("nhsrisk run did not start writing its results in time")


def kill(process: subprocess.Popen[str]) -> None:
    process.send_signal(signal.SIGKILL)
    process.communicate()
    assert process.returncode == -signal.SIGKILL


@pytest.mark.slow
def test_nhsrisk_run_killed_while_writing_leaves_no_result_that_opens_full(tmp_path: Path) -> None:
    out = tmp_path / "out"
    process = start_run(out)
    partial = wait_for_the_write(process, out)
    kill(process)
    assert not (out / "results.nc").exists()
    assert not any((out / name).exists() for name in cli.FIGURES)  # figures come after the results
    assert partial.exists()  # a killed process cannot clean up: the temporary file is left...
    with pytest.raises(ValueError, match="incomplete"):
        open_results(partial)  # ...and refused
    with pytest.raises(FileNotFoundError):
        open_results(out / "results.nc")
    # The next run into the same directory is not blocked by it and writes a complete result.
    rerun = subprocess.run(
        nhsrisk_command("run", "--draws", "2000", "--seed", "4", "--out", str(out)),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        # a fresh process with every warning an error: numpy, numba, xarray, matplotlib, h5py
        env={**os.environ, "PYTHONWARNINGS": "error"},
    )
    assert rerun.returncode == 0, rerun.stderr
    with open_results(out / "results.nc") as reopened:
        xr.testing.assert_identical(reopened.load(), run(draws=2000, seed=4))


@pytest.mark.slow
def test_nhsrisk_run_killed_while_replacing_keeps_the_old_result_whole_full(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    old = run(draws=500, seed=1)
    save_results(old, out / "results.nc")
    process = start_run(out, "--force")
    wait_for_the_write(process, out)
    kill(process)
    with open_results(out / "results.nc") as kept:
        xr.testing.assert_identical(kept.load(), old)


@pytest.mark.slow
@pytest.mark.parametrize("moment", ["while starting", "once results.nc is in place"])
def test_nhsrisk_run_killed_at_another_moment_leaves_nothing_or_whole_files_full(
    tmp_path: Path, moment: str
) -> None:
    # Killed before anything is written, or while the figures are drawn after the results: every file
    # there is either absent or whole (results.nc opens complete, each figure is a whole PNG).
    out = tmp_path / "out"
    process = start_run(out)
    if moment == "while starting":
        time.sleep(1.0)
    else:
        deadline = time.monotonic() + 600
        while not (out / "results.nc").exists():
            assert process.poll() is None and time.monotonic() < deadline, "no results.nc appeared"
            time.sleep(0.005)
    kill(process)
    results = out / "results.nc"
    tally(f"nhsrisk run killed {moment}: {listing(out) if out.exists() else 'nothing written'}")
    if moment == "while starting":
        assert not results.exists()
        return
    with open_results(results) as reopened:
        assert reopened.sizes["draw"] == KILL_DRAWS
        expected = run(draws=10, seed=KILL_SEED)
        xr.testing.assert_identical(reopened["npv"].isel(draw=slice(0, 10)).load(), expected["npv"])
    for name in cli.FIGURES:
        if (out / name).exists():
            assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
            assert (out / name).read_bytes()[-8:] == b"IEND\xaeB`\x82"  # the PNG's last chunk: whole
