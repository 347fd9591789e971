"""Saving and reopening results (nhsrisk.io): round trips, laziness, no half-written store read as whole."""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import dask.array as da
import h5netcdf
import numpy as np
import pytest
import xarray as xr
import zarr

import nhsrisk
from nhsrisk.io import (
    CHUNKS_ATTRIBUTE,
    COMPLETE_ATTRIBUTE,
    DEFAULT_DRAW_CHUNK,
    _check_zarr_chunks,
    open_results,
    results_attributes,
    save_results,
    write_atomically,
)
from nhsrisk.scenario import ScenarioError, scenario_from_attrs

# These tests read every output of the model, not only the headline ones a run keeps by default.
simulate_all = functools.partial(nhsrisk.simulate, keep="all")

SUFFIXES = {"netcdf": ".nc", "zarr": ".zarr"}
REPOSITORY = Path(nhsrisk.__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def results() -> xr.Dataset:
    # Correlated inputs add a list-valued attribute, which netCDF stores as an array.
    scenario = nhsrisk.load_scenario().with_correlations(
        ["programmes.it_modernisation.cost_overrun", "risks.staff_capacity"],
        [[1.0, -0.4], [-0.4, 1.0]],
        source="assumption: test fixture",
    )
    return simulate_all(scenario, draws=2_000, seed=11)


@pytest.fixture(scope="module")
def small(results: xr.Dataset) -> xr.Dataset:
    """A few variables of every kind (float, bool, per-year input, scalar) with every attr and label."""
    return results[
        ["npv", "hours_released", "raid", "risks.raid_fraction", "planned_spend", "claimed_return"]
    ]


def _listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def _path(folder: Path, fmt: str, stem: str = "run") -> Path:
    return folder / f"{stem}{SUFFIXES[fmt]}"


# --------------------------------------------------------------------------------------------------
# Round trips
# --------------------------------------------------------------------------------------------------


@pytest.fixture(
    scope="module",
    params=[("netcdf", "eager"), ("netcdf", "dask"), ("zarr", "eager"), ("zarr", "dask")],
    ids=["netcdf-eager", "netcdf-dask", "zarr-eager", "zarr-dask"],
)
def saved(request, results, tmp_path_factory) -> tuple[Path, str]:
    """The full results saved once per format and backing (each write of ~100 variables takes seconds)."""
    fmt, backing = request.param
    source = results.chunk({"draw": 500}) if backing == "dask" else results
    folder = tmp_path_factory.mktemp(f"{fmt}-{backing}")
    path = save_results(source, _path(folder, fmt))
    assert path == _path(folder, fmt)
    assert _listing(folder) == [path.name]  # no temporary file or .partial directory left
    if backing == "dask":
        assert isinstance(source["npv"].data, da.Array)  # the caller's Dataset was not loaded in place
    return path, backing


def test_round_trip_is_identical_lazy_and_keeps_the_run_attributes(saved, results):
    # One test per saved store: opening ~100 netCDF variables takes a second or two.
    path, backing = saved
    with open_results(path) as reopened:
        lazy = [name for name, variable in reopened.data_vars.items() if variable.ndim]
        assert all(isinstance(reopened[name].data, da.Array) for name in lazy)
        stored_chunk = reopened["hours_released"].encoding["preferred_chunks"]["draw"]
        assert stored_chunk == (500 if backing == "dask" else 2_000)
        reopened.load()
        xr.testing.assert_identical(reopened, results)
    attrs = reopened.attrs
    assert attrs["seed"] == "11"
    assert attrs["nhsrisk_version"] == nhsrisk.__version__
    assert attrs["scenario"] == results.attrs["scenario"]
    assert attrs["scenario_sha256"] == hashlib.sha256(results.attrs["scenario"].encode("utf-8")).hexdigest()
    assert list(attrs["correlated_inputs"]) == [
        "programmes.it_modernisation.cost_overrun",
        "risks.staff_capacity",
    ]
    assert COMPLETE_ATTRIBUTE not in attrs
    assert list(reopened["programme_label"].values) == list(results["programme_label"].values)
    assert reopened["raid"].dtype == bool


def test_netcdf_packs_the_sampled_inputs_into_one_variable_that_open_results_unpacks(tmp_path, results):
    # A netCDF variable costs milliseconds to write whatever its size: the hundred-odd inputs go in
    # one (sampled_input, draw) variable, a row a chunk, and come back as variables of their own.
    inputs = [
        name for name, v in results.data_vars.items() if v.attrs.get("sampled_input") and v.dims == ("draw",)
    ]
    assert len(inputs) > 100
    path = save_results(results, tmp_path / "run.nc")
    with xr.open_dataset(path, engine="h5netcdf") as raw:
        assert raw["sampled_inputs"].dims == ("sampled_input", "draw")
        assert list(raw["sampled_input"].values) == inputs
        assert not set(inputs) & set(raw.data_vars)
        assert raw["sampled_inputs"].encoding["chunksizes"][0] == 1
        row = inputs.index("risks.digital_exclusion")
        np.testing.assert_array_equal(
            raw["sampled_inputs"].values[row], results["risks.digital_exclusion"].values
        )
        stored_attrs = json.loads(str(raw["sampled_input_attrs"].values[row]))
        assert stored_attrs == results["risks.digital_exclusion"].attrs
    assert "nhsrisk_variable_order" not in results_attributes(path)
    for chunks in ("auto", None):
        with open_results(path, chunks=chunks) as reopened:
            assert list(reopened.data_vars) == list(results.data_vars)  # the order too
            assert list(reopened.coords) == list(results.coords)
            xr.testing.assert_identical(reopened.load(), results)


def test_packing_leaves_a_dataset_alone_when_its_names_would_clash(tmp_path, results):
    # a user's own variable called sampled_inputs: nothing is packed, nothing overwritten
    clash = results[["npv", "risks.digital_exclusion", "risks.staff_capacity"]].assign(
        sampled_inputs=("draw", np.arange(results.sizes["draw"], dtype=float))
    )
    with open_results(save_results(clash, tmp_path / "clash.nc")) as reopened:
        xr.testing.assert_identical(reopened.load(), clash)


@pytest.mark.parametrize("fmt", ["netcdf", "zarr"])
def test_a_reopened_dataset_saves_again_identically(tmp_path, small, fmt):
    # The stored encodings of a reopened file (chunk sizes, codecs) must not leak into the next write.
    first = save_results(small, _path(tmp_path, fmt, "first"))
    other = "zarr" if fmt == "netcdf" else "netcdf"
    with open_results(first) as reopened:
        second = save_results(reopened, _path(tmp_path, other, "second"))
    with open_results(second) as again:
        xr.testing.assert_identical(again.load(), small)


def test_scenario_reloads_from_a_zarr_store(tmp_path, small):
    attrs = results_attributes(save_results(small, tmp_path / "run.zarr"))
    assert attrs == dict(small.attrs)
    assert scenario_from_attrs(attrs).to_toml() == small.attrs["scenario"]


def test_netcdf_attributes_read_without_decoding_match_the_dataset(tmp_path, small):
    attrs = results_attributes(save_results(small, tmp_path / "run.nc"))
    assert attrs == dict(small.attrs)
    assert isinstance(attrs["start"], int) and isinstance(attrs["correlated_inputs"], list)


# --------------------------------------------------------------------------------------------------
# Chunking, compression, laziness
# --------------------------------------------------------------------------------------------------


def _synthetic(draws: int) -> xr.Dataset:
    values = np.linspace(0.0, 1.0, 3 * draws).reshape(3, draws)  # smooth: compresses well
    return xr.Dataset(
        {"x": (("year", "draw"), values), "total": ((), 1.5)},
        coords={"year": ["2025/26", "2026/27", "2027/28"], "draw": np.arange(draws)},
        attrs={"seed": "5"},
    )


def test_zarr_chunks_follow_draws_and_use_zstd(tmp_path):
    draws = DEFAULT_DRAW_CHUNK + 1_000
    path = save_results(_synthetic(draws), tmp_path / "run.zarr", compression=7)
    metadata = json.loads((path / "x" / ".zarray").read_text())
    assert metadata["zarr_format"] == 2
    assert metadata["chunks"] == [3, DEFAULT_DRAW_CHUNK]  # whole along year, cut along draw only
    assert metadata["compressor"]["cname"] == "zstd" and metadata["compressor"]["clevel"] == 7
    assert json.loads((path / ".zattrs").read_text())[COMPLETE_ATTRIBUTE] == 1
    consolidated = json.loads((path / ".zmetadata").read_text())["metadata"]
    assert consolidated[".zattrs"][COMPLETE_ATTRIBUTE] == 1


def test_zarr_keeps_regular_dask_chunks_and_regularises_irregular_ones(tmp_path):
    ds = _synthetic(5_000)
    regular = save_results(ds.chunk({"draw": 1_200}), tmp_path / "regular.zarr")
    assert json.loads((regular / "x" / ".zarray").read_text())["chunks"] == [3, 1_200]
    irregular = save_results(ds.chunk({"draw": (1_000, 3_000, 1_000)}), tmp_path / "irregular.zarr")
    assert json.loads((irregular / "x" / ".zarray").read_text())["chunks"] == [3, 5_000]
    with open_results(irregular) as reopened:
        xr.testing.assert_identical(reopened.load(), ds)


def test_dask_backed_data_is_written_chunk_by_chunk(tmp_path):
    # Each block the writer asks for is one 1,000-draw chunk: the whole array is never materialised.
    seen: list[tuple[int, ...]] = []

    def record(block):
        seen.append(block.shape)
        return block

    ds = _synthetic(6_000).chunk({"draw": 1_000})
    ds["x"] = ds["x"].copy(data=ds["x"].data.map_blocks(record, dtype=float))
    for fmt in ("netcdf", "zarr"):
        seen.clear()
        save_results(ds, _path(tmp_path, fmt))
        # dask calls a block function once with a 0-d probe when it infers metadata; data blocks are (3, 1000)
        assert sorted({shape for shape in seen if len(shape) == 2}) == [(3, 1_000)]


def test_netcdf_is_compressed_and_chunked_along_draws(tmp_path):
    ds = _synthetic(50_000)
    compressed = save_results(ds, tmp_path / "level3.nc", compression=3)
    plain = save_results(ds, tmp_path / "level0.nc", compression=0)
    with h5netcdf.File(compressed, "r") as store:
        variable = store.variables["x"]
        assert variable.compression == "gzip" and variable.compression_opts == 3
        assert variable.chunks == (3, 50_000)  # 1.2 MB per chunk: under the 4 MiB cap
    with h5netcdf.File(plain, "r") as store:
        assert store.variables["x"].compression is None
    assert compressed.stat().st_size < plain.stat().st_size / 2


@pytest.mark.parametrize("fmt", ["netcdf", "zarr"])
def test_chunks_option_of_open_results(tmp_path, small, fmt):
    # stored in chunks of 500 draws, so that 1,000-draw dask chunks hold whole stored chunks
    path = save_results(small.chunk({"draw": 500}), _path(tmp_path, fmt))
    with open_results(path, chunks={"draw": 1_000}) as reopened:
        assert reopened["npv"].chunks == ((1_000, 1_000),)
    with open_results(path, chunks=None) as reopened:
        assert reopened["npv"].chunks is None  # lazily indexed, not dask
        np.testing.assert_array_equal(reopened["npv"].values, small["npv"].values)


# --------------------------------------------------------------------------------------------------
# Incomplete writes are never read as complete
# --------------------------------------------------------------------------------------------------


def test_a_partial_directory_is_refused(tmp_path, small):
    partial = tmp_path / "run.zarr.partial"
    small.to_zarr(partial, zarr_format=2, consolidated=True)  # a complete-looking zarr store, by name partial
    with pytest.raises(ValueError, match=r"run\.zarr\.partial: incomplete"):
        open_results(partial)
    with pytest.raises(FileNotFoundError, match=r"run\.zarr\.partial holds an incomplete"):
        open_results(tmp_path / "run.zarr")


@pytest.mark.parametrize("marker", [0, None, True, "1"])
def test_a_zarr_store_not_marked_complete_is_refused(tmp_path, small, marker):
    ds = small.copy()
    if marker is not None:
        ds.attrs[COMPLETE_ATTRIBUTE] = marker
    ds.to_zarr(tmp_path / "run.zarr", zarr_format=2, consolidated=True)
    with pytest.raises(ValueError, match=rf"run\.zarr: incomplete results.*{COMPLETE_ATTRIBUTE}"):
        open_results(tmp_path / "run.zarr")
    with pytest.raises(ValueError, match="incomplete"):
        results_attributes(tmp_path / "run.zarr")


def test_a_netcdf_temporary_file_is_refused(tmp_path, small):
    temporary = tmp_path / ".run.nc.k3j4h5.partial"
    small.to_netcdf(temporary, engine="h5netcdf")
    with pytest.raises(ValueError, match="incomplete"):
        open_results(temporary)


def test_a_directory_that_is_not_a_store_is_refused(tmp_path):
    (tmp_path / "run.zarr").mkdir()
    with pytest.raises(ValueError, match=r"run\.zarr: a directory but not a zarr store"):
        open_results(tmp_path / "run.zarr")
    with pytest.raises(FileNotFoundError, match="no such results"):
        open_results(tmp_path / "missing.nc")


_STALLED_WRITER = """
import pathlib, sys, time
import dask.array as da
import xarray as xr
from nhsrisk.io import save_results

target, ready = sys.argv[1], pathlib.Path(sys.argv[2])

def stall_fourth_chunk(block, block_info=None):
    if block_info[None]["chunk-location"][-1] == 3:
        ready.touch()
        time.sleep(600)
    return block

data = da.ones((4, 8_000), chunks=(4, 1_000)).map_blocks(stall_fourth_chunk, dtype=float)
save_results(xr.Dataset({"x": (("year", "draw"), data)}, attrs={"seed": "1"}), target)
"""


def _start(script: str, tmp_path: Path, *args: str) -> subprocess.Popen:
    program = tmp_path / "writer.py"
    program.write_text(textwrap.dedent(script))
    environment = {**os.environ, "PYTHONPATH": str(REPOSITORY)}
    return subprocess.Popen(
        [sys.executable, str(program), *args],
        cwd=tmp_path,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_for(condition, process: subprocess.Popen, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if process.poll() is not None:
            pytest.fail(f"the writer exited early ({process.returncode}): {process.communicate()[1]}")
        if time.monotonic() > deadline:
            process.kill()
            pytest.fail("the writer did not reach the point where it is killed")
        time.sleep(0.02)


def _assert_left_incomplete(folder: Path, target: Path) -> list[Path]:
    """After a killed write: no target, and whatever the writer left is refused as incomplete."""
    assert not target.exists()
    leftovers = [p for p in folder.iterdir() if p.name.endswith(".partial")]
    assert leftovers, _listing(folder)
    for leftover in leftovers:
        with pytest.raises(ValueError, match="incomplete"):
            open_results(leftover)
    with pytest.raises(FileNotFoundError):
        open_results(target)
    return leftovers


@pytest.mark.parametrize("fmt", ["netcdf", "zarr"])
def test_a_write_killed_mid_way_never_reads_as_complete(tmp_path, fmt):
    out = tmp_path / "out"
    out.mkdir()
    target = _path(out, fmt)
    ready = tmp_path / "stalled"
    # The fourth of eight chunks stalls: the writer is killed with some chunks written and some not.
    writer = _start(_STALLED_WRITER, tmp_path, str(target), str(ready))
    _wait_for(ready.exists, writer)
    writer.send_signal(signal.SIGKILL)
    writer.communicate()
    assert writer.returncode == -signal.SIGKILL
    (leftover,) = _assert_left_incomplete(out, target)
    if fmt == "zarr":
        # The marker, not only the name, says incomplete: a renamed partial store is still refused.
        assert leftover == out / "run.zarr.partial"
        leftover.rename(target)
        with pytest.raises(ValueError, match=f"{COMPLETE_ATTRIBUTE}.* is 0"):
            open_results(target)
        target.rename(leftover)
        with pytest.raises(FileExistsError, match=r"run\.zarr\.partial' exists"):
            save_results(_synthetic(10), target)
        save_results(_synthetic(10), target, overwrite=True)  # clears the interrupted write
        assert _listing(out) == ["run.zarr"]


_LARGE_WRITER = """
import sys
import numpy as np
import xarray as xr
from nhsrisk.io import save_results

rng = np.random.default_rng(0)
# 25 variables of 8 MB: 200 MB of incompressible doubles, so the write takes seconds
ds = xr.Dataset({f"v{i}": (("year", "draw"), rng.standard_normal((4, 250_000))) for i in range(25)})
print("writing", flush=True)
save_results(ds, sys.argv[1])
"""


def _staged_bytes(folder: Path) -> int:
    """Bytes written so far to the temporary files and .partial directories in ``folder``."""
    total = 0
    for item in folder.iterdir():
        if item.name.endswith(".partial"):
            files = [item] if item.is_file() else [p for p in item.rglob("*") if p.is_file()]
            total += sum(p.stat().st_size for p in files)
    return total


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["netcdf", "zarr"])
def test_a_large_eager_write_killed_mid_way_never_reads_as_complete(tmp_path, fmt):
    out = tmp_path / "out"
    out.mkdir()
    target = _path(out, fmt)
    writer = _start(_LARGE_WRITER, tmp_path, str(target))
    # Killed once 20 MB of the 200 MB are on disk: well inside the write.
    _wait_for(lambda: _staged_bytes(out) > 20e6, writer, timeout=300)
    writer.send_signal(signal.SIGKILL)
    writer.communicate()
    assert writer.returncode == -signal.SIGKILL
    _assert_left_incomplete(out, target)


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["netcdf", "zarr"])
def test_ctrl_c_leaves_nothing_behind(tmp_path, fmt):
    out = tmp_path / "out"
    out.mkdir()
    ready = tmp_path / "stalled"
    # The stalled chunk wakes after 3 s; Ctrl-C must wait for it rather than let it write afterwards.
    writer = _start(
        _STALLED_WRITER.replace("time.sleep(600)", "time.sleep(3)"),
        tmp_path,
        str(_path(out, fmt)),
        str(ready),
    )
    _wait_for(ready.exists, writer)
    writer.send_signal(signal.SIGINT)
    _, errors = writer.communicate(timeout=120)
    assert "KeyboardInterrupt" in errors
    time.sleep(4)  # longer than the stalled task: nothing reappears
    assert _listing(out) == []


@pytest.mark.parametrize("fmt", ["netcdf", "zarr"])
def test_a_failing_chunk_leaves_nothing_behind_even_with_tasks_in_flight(tmp_path, fmt):
    def fail_first_stall_second(block, block_info=None):
        location = block_info[None]["chunk-location"][-1]
        if location == 0:
            raise RuntimeError("chunk 0 failed")
        if location == 1:
            time.sleep(0.3)  # still running when chunk 0 fails; it must not write after the clean-up
        return block

    data = da.ones((2, 4_000), chunks=(2, 1_000)).map_blocks(fail_first_stall_second, dtype=float)
    ds = xr.Dataset({"x": (("year", "draw"), data)})
    with pytest.raises(RuntimeError, match="chunk 0 failed"):
        save_results(ds, _path(tmp_path, fmt))
    time.sleep(0.5)
    assert _listing(tmp_path) == []


# --------------------------------------------------------------------------------------------------
# Overwrite semantics
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["netcdf", "zarr"])
def test_an_existing_target_is_kept_without_overwrite(tmp_path, small, fmt):
    path = save_results(small, _path(tmp_path, fmt))
    with pytest.raises(FileExistsError, match=rf"The 'path' parameter of save_results .*{path.name}"):
        save_results(_synthetic(10), path)
    assert _listing(tmp_path) == [path.name]
    with open_results(path) as kept:
        xr.testing.assert_identical(kept.load(), small)


@pytest.mark.parametrize("fmt", ["netcdf", "zarr"])
def test_overwrite_replaces_and_leaves_no_old_copy(tmp_path, small, fmt):
    path = save_results(small, _path(tmp_path, fmt))
    save_results(_synthetic(10), path, overwrite=True)
    assert _listing(tmp_path) == [path.name]
    with open_results(path) as replaced:
        xr.testing.assert_identical(replaced.load(), _synthetic(10))


def test_overwrite_can_change_the_format(tmp_path, small):
    path = tmp_path / "run.results"
    save_results(small, path, format="zarr")
    save_results(small, path, format="netcdf", overwrite=True)
    assert path.is_file() and _listing(tmp_path) == ["run.results"]
    with open_results(path) as reopened:
        xr.testing.assert_identical(reopened.load(), small)


@pytest.mark.parametrize("fmt", ["netcdf", "zarr"])
def test_a_failed_overwrite_keeps_the_old_results(tmp_path, small, fmt):
    path = save_results(small, _path(tmp_path, fmt))

    def fail(block):
        raise RuntimeError("simulation failed")

    broken = _synthetic(4_000).chunk({"draw": 1_000})
    broken["x"] = broken["x"].copy(data=broken["x"].data.map_blocks(fail, dtype=float))
    with pytest.raises(RuntimeError, match="simulation failed"):
        save_results(broken, path, overwrite=True)
    assert _listing(tmp_path) == [path.name]
    with open_results(path) as kept:
        xr.testing.assert_identical(kept.load(), small)


def test_overwrite_never_removes_a_directory_that_is_not_a_store(tmp_path, small):
    folder = tmp_path / "run.zarr"
    folder.mkdir()
    (folder / "notes.txt").write_text("keep me")
    with pytest.raises(FileExistsError, match="not another directory"):
        save_results(small, folder, overwrite=True)
    assert (folder / "notes.txt").read_text() == "keep me"
    assert _listing(tmp_path) == ["run.zarr"]


# --------------------------------------------------------------------------------------------------
# Errors name the path and leave nothing behind
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["netcdf", "zarr"])
def test_missing_parent_directory(tmp_path, small, fmt):
    path = _path(tmp_path / "missing", fmt)
    with pytest.raises(FileNotFoundError, match=rf"must be in an existing directory.*{path.name}"):
        save_results(small, path)
    assert _listing(tmp_path) == []


@pytest.mark.parametrize("fmt", ["netcdf", "zarr"])
def test_parent_that_is_a_file(tmp_path, small, fmt):
    (tmp_path / "a-file").write_text("")
    path = _path(tmp_path / "a-file", fmt)
    with pytest.raises(NotADirectoryError, match=rf"'.*a-file' is not one\. Got '.*{path.name}'"):
        save_results(small, path)
    assert _listing(tmp_path) == ["a-file"]


@pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() == 0,
    reason="root writes to read-only directories (test_parent_that_is_a_file covers an unwritable parent)",
)
@pytest.mark.parametrize("fmt", ["netcdf", "zarr"])
def test_read_only_directory(tmp_path, small, fmt):
    folder = tmp_path / "read-only"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        with pytest.raises(PermissionError, match=rf"read-only\. Got '.*{SUFFIXES[fmt]}'"):
            save_results(small, _path(folder, fmt))
        assert _listing(folder) == []
    finally:
        folder.chmod(0o755)


@pytest.mark.parametrize(
    ("arguments", "error", "message"),
    [
        ({"ds": "results"}, TypeError, "The 'ds' parameter of save_results must be an xarray.Dataset"),
        ({"path": 3}, TypeError, "The 'path' parameter of save_results must be a str or path-like. Got 3"),
        ({"path": "run.txt"}, ValueError, r"'format' parameter .* not one of \['.nc'.*Got None instead"),
        ({"format": "hdf5"}, ValueError, r"'format' parameter .* one of \['netcdf', 'zarr'\].*Got 'hdf5'"),
        ({"format": 2}, TypeError, "'format' parameter of save_results"),
        ({"overwrite": "yes"}, TypeError, "'overwrite' parameter of save_results must be True or False"),
        ({"compression": 10}, ValueError, "'compression' parameter .* from 0 to 9. Got 10 instead"),
        ({"compression": -1}, ValueError, "from 0 to 9. Got -1 instead"),
        ({"compression": 3.0}, TypeError, "from 0 to 9. Got 3.0 instead"),
        ({"compression": True}, TypeError, "from 0 to 9. Got True instead"),
        ({"path": "run.zarr.partial"}, ValueError, "must be a path that does not end in '.partial'"),
    ],
)
def test_save_results_rejects_bad_arguments(tmp_path, small, arguments, error, message):
    call = {"ds": small, "path": "run.nc"} | arguments
    if isinstance(call["path"], str):
        call["path"] = tmp_path / call["path"]
    with pytest.raises(error, match=message):
        save_results(call.pop("ds"), call.pop("path"), **call)
    assert _listing(tmp_path) == []


@pytest.mark.parametrize(("chunks", "error"), [("big", ValueError), (5, TypeError), ([1000], TypeError)])
def test_open_results_rejects_bad_chunks(tmp_path, small, chunks, error):
    path = save_results(small, tmp_path / "run.nc")
    with pytest.raises(
        error, match=rf"The 'chunks' parameter of open_results .* Got {re.escape(repr(chunks))}"
    ):
        open_results(path, chunks=chunks)


def test_a_file_that_is_not_netcdf_is_refused(tmp_path):
    path = tmp_path / "run.nc"
    path.write_text("not HDF5")
    with pytest.raises(ValueError, match=r"run\.nc: cannot be read as a netCDF4 results file"):
        open_results(path)


# --------------------------------------------------------------------------------------------------
# Tampering
# --------------------------------------------------------------------------------------------------


def _tamper(path: Path, fmt: str, **attributes: str | None) -> None:
    if fmt == "netcdf":
        with h5netcdf.File(path, "a") as store:
            for name, value in attributes.items():
                if value is None:
                    del store.attrs[name]
                else:
                    store.attrs[name] = value
    else:
        group = zarr.open_group(path, mode="r+", use_consolidated=False)
        for name, value in attributes.items():
            if value is None:
                del group.attrs[name]
            else:
                group.attrs[name] = value
        zarr.consolidate_metadata(path, zarr_format=2)


@pytest.mark.parametrize("fmt", ["netcdf", "zarr"])
def test_an_edited_scenario_is_detected_on_reopening(tmp_path, small, fmt):
    path = save_results(small, _path(tmp_path, fmt))
    _tamper(path, fmt, scenario=small.attrs["scenario"] + "# edited after the run\n")
    with pytest.raises(ScenarioError, match=rf"{path.name}: attrs.scenario: does not match its checksum"):
        open_results(path)
    # the same check as load_scenario makes of a results file
    with pytest.raises(ScenarioError, match="altered after the run"):
        scenario_from_attrs(results_attributes(path))


@pytest.mark.parametrize("fmt", ["netcdf", "zarr"])
def test_a_removed_checksum_is_detected(tmp_path, small, fmt):
    path = save_results(small, _path(tmp_path, fmt))
    _tamper(path, fmt, scenario_sha256=None)
    with pytest.raises(ScenarioError, match="must both be present"):
        open_results(path)


def test_results_without_a_scenario_open(tmp_path):
    with open_results(save_results(_synthetic(10), tmp_path / "run.nc")) as reopened:
        assert reopened.attrs == {"seed": "5"}


# --------------------------------------------------------------------------------------------------
# write_atomically (the netCDF writer, shared with the command line)
# --------------------------------------------------------------------------------------------------


def test_write_atomically_keeps_the_old_file_when_writing_fails(tmp_path):
    target = tmp_path / "figure.png"
    target.write_text("old")

    def half_write(path: Path) -> None:
        path.write_text("half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        write_atomically(target, half_write)
    assert target.read_text() == "old" and _listing(tmp_path) == ["figure.png"]
    with pytest.raises(FileExistsError, match="figure.png"):
        write_atomically(target, lambda path: path.write_text("new"), overwrite=False)
    write_atomically(target, lambda path: path.write_text("new"))
    assert target.read_text() == "new" and _listing(tmp_path) == ["figure.png"]


def test_write_atomically_gives_the_usual_permissions(tmp_path):
    umask = os.umask(0o022)
    try:
        target = write_atomically(tmp_path / "out.txt", lambda path: path.write_text("x"))
    finally:
        os.umask(umask)
    assert target.stat().st_mode & 0o777 == 0o644


def test_a_store_marked_complete_without_consolidated_metadata_is_refused(tmp_path):
    ds = _synthetic(10)
    ds.attrs[COMPLETE_ATTRIBUTE] = 1
    ds.to_zarr(tmp_path / "run.zarr", zarr_format=2, consolidated=False)
    with pytest.raises(ValueError, match=r"run\.zarr: incomplete results: .* no consolidated metadata"):
        open_results(tmp_path / "run.zarr")


def test_load_scenario_reads_a_zarr_store(tmp_path):
    ds = simulate_all(draws=200, seed=4)
    path = nhsrisk.save_results(ds, tmp_path / "run.zarr")
    assert nhsrisk.load_scenario(path) == nhsrisk.load_scenario()


# --------------------------------------------------------------------------------------------------
# Lost chunk files of a zarr store
# --------------------------------------------------------------------------------------------------


def test_every_chunk_of_a_zarr_store_is_a_file_and_is_counted(tmp_path):
    # An all-NaN chunk (fill values only) is written too, so that a missing file always means a lost one.
    ds = _synthetic(2 * DEFAULT_DRAW_CHUNK + 10)
    ds["x"][:, :DEFAULT_DRAW_CHUNK] = np.nan
    ds["flag"] = ("draw", np.zeros(ds.sizes["draw"], dtype=bool))  # all False: the fill value
    path = save_results(ds, tmp_path / "run.zarr")
    counts = json.loads((path / ".zattrs").read_text())[CHUNKS_ATTRIBUTE]
    assert counts["x"] == 3 and counts["flag"] == 3 and counts["total"] == 1 and counts["draw"] == 3
    assert {"0.0", "0.1", "0.2"} <= set(os.listdir(path / "x")) and "0" in os.listdir(path / "total")
    with open_results(path) as reopened:
        assert CHUNKS_ATTRIBUTE not in reopened.attrs
        xr.testing.assert_identical(reopened.load(), ds)
    assert CHUNKS_ATTRIBUTE not in results_attributes(path)


@pytest.mark.parametrize(
    ("variable", "chunk", "lost"),
    [("x", "0.1", "1 of its 3"), ("total", "0", "1 of its 1"), ("draw", "2", "1 of its 3")],
    ids=["data", "scalar", "coordinate"],
)
def test_a_lost_chunk_file_is_refused_naming_the_variable(tmp_path, variable, chunk, lost):
    path = save_results(_synthetic(2 * DEFAULT_DRAW_CHUNK + 10), tmp_path / "run.zarr")
    (path / variable / chunk).unlink()
    with pytest.raises(
        ValueError, match=rf"run\.zarr: incomplete results: variable {variable!r} has lost {lost}"
    ):
        open_results(path)


def test_a_lost_variable_directory_is_refused(tmp_path):
    path = save_results(_synthetic(10), tmp_path / "run.zarr")
    for name in os.listdir(path / "x"):
        (path / "x" / name).unlink()
    (path / "x").rmdir()
    with pytest.raises(ValueError, match="run.zarr"):
        open_results(path)


def test_chunk_counts_that_do_not_match_the_metadata_are_refused(tmp_path):
    path = save_results(_synthetic(10), tmp_path / "run.zarr")
    counts = json.loads((path / ".zattrs").read_text())[CHUNKS_ATTRIBUTE]
    _tamper(path, "zarr", **{CHUNKS_ATTRIBUTE: {**counts, "x": 2}})
    with pytest.raises(ValueError, match=r"variable 'x' has 1 chunks by its metadata, but 2 were written"):
        open_results(path)


def test_a_store_without_chunk_counts_still_opens(tmp_path, small):
    # Stores saved before the counts were recorded are not checked (and stores from elsewhere are refused
    # for want of the completeness marker anyway).
    path = save_results(small, tmp_path / "run.zarr")
    _tamper(path, "zarr", **{CHUNKS_ATTRIBUTE: None})
    with open_results(path) as reopened:
        xr.testing.assert_identical(reopened.load(), small)


@pytest.mark.slow
def test_checking_the_chunks_of_a_store_of_10_8_draws_is_cheap(tmp_path):
    # 100 variables of 10**8 draws in the default chunks: 152,600 chunk files, one directory listing per
    # variable. Empty files stand in for the chunks (writing real ones would take minutes).
    draws, variables = 10**8, 100
    per_variable = -(-draws // DEFAULT_DRAW_CHUNK)
    metadata = {}
    for i in range(variables):
        folder = tmp_path / f"v{i}"
        folder.mkdir()
        for k in range(per_variable):
            (folder / str(k)).touch()
        metadata[f"v{i}/.zarray"] = {"shape": [draws], "chunks": [DEFAULT_DRAW_CHUNK]}
    (tmp_path / ".zmetadata").write_text(json.dumps({"metadata": metadata}))
    counts = {f"v{i}": per_variable for i in range(variables)}
    start = time.perf_counter()
    _check_zarr_chunks(tmp_path, {CHUNKS_ATTRIBUTE: counts})
    assert time.perf_counter() - start < 2.0  # about 0.2 s here
    (tmp_path / "v7" / "1000").unlink()
    with pytest.raises(
        ValueError, match=f"variable 'v7' has lost 1 of its {per_variable} chunk files \\(1000\\)"
    ):
        _check_zarr_chunks(tmp_path, {CHUNKS_ATTRIBUTE: counts})


# --------------------------------------------------------------------------------------------------
# Package structure: io and scenario (and every other pair) do not import each other
# --------------------------------------------------------------------------------------------------


def _package_imports() -> dict[str, set[str]]:
    """Module -> the package modules it imports, anywhere in its code (functions included)."""
    import ast

    package = Path(nhsrisk.__file__).parent
    modules = {path.stem: path for path in package.rglob("*.py")}
    graph = {}
    for name, path in modules.items():
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "nhsrisk":
                parts = node.module.split(".")
                if len(parts) > 1:
                    found.add(parts[-1])
                for alias in node.names:
                    # `from nhsrisk import stats` imports a module; `from nhsrisk import simulate` the package
                    if alias.name in modules:
                        found.add(alias.name)
                    elif len(parts) == 1:
                        found.add("__init__")
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    parts = alias.name.split(".")
                    if parts[0] == "nhsrisk":
                        found.add(parts[-1] if len(parts) > 1 else "__init__")
        graph[name] = {m for m in found if m in modules and m != name}
    return graph


def test_the_package_has_no_import_cycles():
    graph = _package_imports()
    # the two cycles model v2 removed: io and scenario, simulation and streaming
    assert "io" not in graph["scenario"] and "simulation" not in graph["streaming"]
    assert {"_stored", "_errors"} <= graph["io"] and "_stored" in graph["scenario"]
    assert "_engine" in graph["streaming"] and {"_engine", "streaming"} <= graph["simulation"]
    # and none of any length: depth-first search for a back edge
    state: dict[str, int] = {}

    def visit(module: str, path: list[str]) -> None:
        state[module] = 1
        for target in sorted(graph[module]):
            if state.get(target) == 1:
                cycle = path[path.index(target) :] + [target]
                raise AssertionError("import cycle: " + " -> ".join(cycle))
            if target not in state:
                visit(target, [*path, target])
        state[module] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    # the search sees imports inside functions too: cli imports the package in its commands
    assert "__init__" in graph["cli"]
