"""`nhsrisk run` writes its folder whole, with a manifest, and stops cleanly on Ctrl-C (issue 13, item 6)."""

from __future__ import annotations

import builtins
import hashlib
import json
import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import xarray as xr

import nhsrisk
from nhsrisk import cli

DRAWS = ["--draws", "400", "--seed", "11", "--no-progress"]


def run(out: Path, *extra: str) -> int:
    return cli.main(["run", *DRAWS, "--out", str(out), *extra])


def snapshot(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def hidden_leftovers(parent: Path) -> list[str]:
    return [p.name for p in parent.iterdir() if p.name.startswith(".")]


@pytest.fixture(scope="module")
def previous(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A complete earlier run, copied into each test that needs one."""
    out = tmp_path_factory.mktemp("previous") / "out"
    assert run(out) == 0
    return out


def copy_of(previous: Path, tmp_path: Path) -> Path:
    out = tmp_path / "out"
    out.mkdir()
    for path in previous.iterdir():
        (out / path.name).write_bytes(path.read_bytes())
    return out


def test_the_manifest_records_the_run_and_every_file(previous):
    manifest = json.loads((previous / "manifest.json").read_text())
    assert manifest["nhsrisk_version"] == nhsrisk.__version__
    assert manifest["draws"] == 400 and manifest["seed"] == "11"
    assert manifest["scenario_name"] == "as-announced"
    assert manifest["scenario_sha256"] == nhsrisk.load_scenario().sha256()
    files = {p.name for p in previous.iterdir()} - {"manifest.json"}
    expected = {"summary.txt", "results.nc", "waterfall.nc", "fan.png", "exceedance.png", "waterfall.png"}
    assert set(manifest["files"]) == files == expected
    for name, record in manifest["files"].items():
        data = (previous / name).read_bytes()
        assert record["bytes"] == len(data)
        assert record["sha256"] == hashlib.sha256(data).hexdigest()
    with xr.open_dataset(previous / "results.nc", engine="h5netcdf") as ds:
        assert ds.attrs["scenario_sha256"] == manifest["scenario_sha256"]
        assert ds.attrs["seed"] == manifest["seed"] and ds.sizes["draw"] == manifest["draws"]


def test_a_forced_run_replaces_the_whole_folder(previous, tmp_path):
    out = copy_of(previous, tmp_path)
    assert cli.main(["run", *DRAWS, "--out", str(out), "--force", "--summary-only", "--chunks", "200"]) == 0
    # no results.nc of the earlier run beside the new summary: one run per folder
    assert sorted(p.name for p in out.iterdir()) == ["manifest.json", "summary.nc", "summary.txt"]
    assert not hidden_leftovers(tmp_path)


def test_a_folder_with_files_nhsrisk_did_not_write_is_never_replaced(tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "thesis.docx").write_text("years of work")
    assert run(out, "--force") == 2
    err = capsys.readouterr().err
    assert "holds files that nhsrisk run did not write (thesis.docx)" in err and err.count("\n") == 1
    assert [p.name for p in out.iterdir()] == ["thesis.docx"]


def test_a_killed_writers_hidden_folder_is_cleared_by_the_next_run(tmp_path):
    out = tmp_path / "out"
    stale = tmp_path / ".out.0123456789ab.partial"
    stale.mkdir()
    (stale / "results.nc").write_bytes(b"half")
    assert run(out) == 0
    assert not stale.exists() and not hidden_leftovers(tmp_path)


def _interrupt(*args, **kwargs):
    raise KeyboardInterrupt


def _half_written_results(ds, path, **kwargs):
    Path(path).write_bytes(b"half a file")
    raise KeyboardInterrupt


@pytest.mark.parametrize(
    ("target", "replacement"),
    [
        ("nhsrisk.simulate", _interrupt),
        ("nhsrisk.cli.summary_table", _interrupt),
        ("nhsrisk.cli.save_results", _half_written_results),
        ("nhsrisk.cli._figure", _interrupt),
        ("nhsrisk.cli._write_manifest", _interrupt),
    ],
    ids=["simulating", "summarising", "writing results", "drawing figures", "writing the manifest"],
)
@pytest.mark.parametrize("earlier", [False, True], ids=["new folder", "over an earlier run"])
def test_ctrl_c_before_the_folder_is_in_place_leaves_everything_as_it_was(
    previous, tmp_path, monkeypatch, capsys, target, replacement, earlier
):
    out = copy_of(previous, tmp_path) if earlier else tmp_path / "out"
    before = snapshot(out) if earlier else None
    module, name = target.rsplit(".", 1)
    monkeypatch.setattr(sys.modules[module], name, replacement)
    assert run(out, "--force") == 130
    err = capsys.readouterr().err
    expected = f"{out} left as it was" if earlier else "nothing written"
    assert err == f"nhsrisk run: interrupted; {expected}\n"
    if earlier:
        assert snapshot(out) == before
    else:
        assert not out.exists()
    assert not hidden_leftovers(tmp_path)


def test_ctrl_c_while_printing_leaves_the_complete_folder(tmp_path, monkeypatch, capsys):
    out = tmp_path / "out"

    # the summary is printed once the folder is in place (print is looked up in cli's globals first);
    # the line on stderr that reports the interruption still prints
    def interrupt_stdout(*args, file=None, **kwargs):
        if file is None:
            raise KeyboardInterrupt
        builtins.print(*args, file=file, **kwargs)

    monkeypatch.setattr(cli, "print", interrupt_stdout, raising=False)
    assert run(out) == 130
    assert capsys.readouterr().err == f"nhsrisk run: interrupted; {out} is complete\n"
    manifest = json.loads((out / "manifest.json").read_text())
    assert set(manifest["files"]) | {"manifest.json"} == {p.name for p in out.iterdir()}


def test_ctrl_c_in_summary_only_run_writes_nothing(tmp_path, monkeypatch, capsys):
    out = tmp_path / "out"
    monkeypatch.setattr(cli, "_write_manifest", _interrupt)
    assert cli.main(["run", *DRAWS, "--out", str(out), "--summary-only", "--chunks", "200"]) == 130
    assert capsys.readouterr().err == "nhsrisk run: interrupted; nothing written\n"
    assert not out.exists() and not hidden_leftovers(tmp_path)


def test_a_real_sigint_during_the_simulation_stops_the_process_quickly(tmp_path):
    # A run long enough to be interrupted in its kernel loop: the signal is sent once the progress
    # bar shows that simulating has begun, and honoured between two kernel calls of 2**17 draws.
    script = Path(sys.executable).with_name("nhsrisk")
    out = tmp_path / "out"
    process = subprocess.Popen(
        [str(script), "run", "--draws", "6e5", "--seed", "3", "--progress", "--out", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "COLUMNS": "80"},
    )
    seen = b""
    deadline = time.monotonic() + 600
    while b"simulate" not in seen and time.monotonic() < deadline and process.poll() is None:
        ready, _, _ = select.select([process.stderr], [], [], 1.0)
        if ready:
            seen += os.read(process.stderr.fileno(), 4096)
    assert b"simulate" in seen, seen[-2000:]
    sent = time.monotonic()
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=600)
    latency = time.monotonic() - sent
    print(f"stopped {latency:.2f} s after SIGINT")
    err = (seen + stderr).decode()
    assert process.returncode == 130, err[-2000:]
    assert "Traceback" not in err
    assert err.rstrip().endswith("nhsrisk run: interrupted; nothing written")
    assert not out.exists() and not hidden_leftovers(tmp_path)
    assert latency < 60  # a safety net on a busy machine; measured well under a second when idle
