"""``nhsrisk run``: summary, outputs written atomically, no silent overwrite."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

import nhsrisk
from nhsrisk import cli


def run(argv: list[str]) -> int:
    return cli.main(["run", *argv])


def test_run_writes_results_and_figure_and_prints_the_summary(tmp_path, capsys):
    out = tmp_path / "out"
    assert run(["--draws", "2000", "--seed", "5", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    for needle in (
        "NPV (GBP bn)",
        "Benefit-cost ratio",
        "Cumulative value",
        "p5",
        "p50",
        "p95",
        "P(cumulative",
    ):
        assert needle in text
    assert sorted(p.name for p in out.iterdir()) == [
        "exceedance.png",
        "fan.png",
        "results.nc",
        "waterfall.png",
    ]
    with xr.open_dataset(out / "results.nc", engine="h5netcdf") as saved:
        expected = nhsrisk.simulate(draws=2000, seed=5)
        xr.testing.assert_identical(saved.load(), expected)
    for name in ("fan.png", "exceedance.png", "waterfall.png"):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_summary_numbers_match_the_results(tmp_path, capsys):
    run(["--draws", "3000", "--seed", "11", "--out", str(tmp_path)])
    text = capsys.readouterr().out
    ds = nhsrisk.simulate(draws=3000, seed=11)
    npv_line = next(line for line in text.splitlines() if line.startswith("NPV"))
    mean, p5, p50, p95 = (float(v) for v in npv_line.split()[-4:])
    npv = ds["npv"].values / 1e9
    assert mean == pytest.approx(npv.mean(), abs=5e-4)
    assert [p5, p50, p95] == pytest.approx(np.percentile(npv, [5, 50, 95]), abs=5e-4)
    reached = (ds["cumulative_value"].sel(year=ds.attrs["target_year"]) >= ds["claimed_return"]).values
    assert f"P(cumulative value reaches the target) {cli._probability(reached)}" in text


@pytest.mark.parametrize(
    ("events", "expected"),
    [
        # k = 0: the exact one-sided 95% bound 1 - 0.05**(1/n), close to the rule of three 3/n
        (np.zeros(100_000, bool), "< 3e-05 (95% upper bound: none of 100,000 draws)"),
        (np.ones(1_000, bool), "> 0.997009 (95% lower bound: all 1,000 draws)"),
        (np.arange(1_000) < 250, "= 0.2500 (Monte Carlo s.e. 0.014)"),
    ],
)
def test_probabilities_never_claim_certainty(events, expected):
    assert cli._probability(events) == expected
    n = events.size
    assert 1 - 0.05 ** (1 / n) == pytest.approx(3 / n, rel=0.01 if n >= 1000 else 0.1)


def test_never_overwrites_without_force(tmp_path, capsys):
    assert run(["--draws", "500", "--seed", "1", "--out", str(tmp_path)]) == 0
    before = (tmp_path / "results.nc").read_bytes()
    assert run(["--draws", "700", "--seed", "2", "--out", str(tmp_path)]) == 2
    assert "refusing to overwrite" in capsys.readouterr().err
    assert (tmp_path / "results.nc").read_bytes() == before
    assert run(["--draws", "700", "--seed", "2", "--out", str(tmp_path), "--force"]) == 0
    with xr.open_dataset(tmp_path / "results.nc", engine="h5netcdf") as saved:
        assert saved.sizes["draw"] == 700


def test_a_failed_write_leaves_no_file_behind(tmp_path, monkeypatch):
    def broken_to_netcdf(self, path, **kwargs):
        Path(path).write_bytes(b"half a file")
        raise OSError("disk full")

    monkeypatch.setattr(xr.Dataset, "to_netcdf", broken_to_netcdf)
    with pytest.raises(OSError, match="disk full"):
        run(["--draws", "200", "--seed", "1", "--out", str(tmp_path)])
    assert list(tmp_path.iterdir()) == []


def test_bad_scenario_file_is_reported_and_nothing_is_written(tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text(nhsrisk.load_scenario().to_toml().replace("[risks]", "[risks]\nsurprise = 1", 1))
    out = tmp_path / "out"
    assert run(["--scenario", str(bad), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert str(bad) in err and "risks.surprise" in err and "unknown key" in err
    assert not out.exists()


def test_scenario_file_is_accepted(tmp_path, capsys):
    path = tmp_path / "mine.toml"
    path.write_text(nhsrisk.load_scenario().with_values({"name": "my-trust"}).to_toml())
    assert run(["--scenario", str(path), "--draws", "300", "--seed", "3", "--out", str(tmp_path / "o")]) == 0
    assert "Scenario my-trust" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--draws", "0"], "--draws"),
        (["--draws", "abc"], "--draws"),
        (["--draws", "1.5"], "--draws"),
        (["--seed", "-1"], "--seed"),
        (["--seed", "x"], "--seed"),
    ],
)
def test_bad_arguments_exit_with_a_message(argv, message, capsys):
    with pytest.raises(SystemExit) as info:
        run(argv)
    assert info.value.code == 2
    assert message in capsys.readouterr().err


def test_draws_accepts_scientific_notation(tmp_path):
    assert run(["--draws", "1e3", "--seed", "1", "--out", str(tmp_path)]) == 0
    with xr.open_dataset(tmp_path / "results.nc", engine="h5netcdf") as saved:
        assert saved.sizes["draw"] == 1000


def test_console_script_with_no_arguments_runs_the_default(tmp_path):
    # The README's first command: `nhsrisk run` with no arguments, in a fresh process.
    script = Path(sys.executable).with_name("nhsrisk")
    command = [str(script), "run"] if script.exists() else [sys.executable, "-m", "nhsrisk.cli", "run"]
    result = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=600, check=False)
    assert result.returncode == 0, result.stderr
    assert "Scenario spring-budget-2024: 100,000 draws" in result.stdout
    assert (tmp_path / "nhsrisk-out" / "results.nc").is_file()
    assert (tmp_path / "nhsrisk-out" / "fan.png").is_file()


def test_describe_matches_the_shipped_documentation(capsys):
    # docs/default-scenario.md is generated by `nhsrisk describe`; this keeps it from going stale.
    assert cli.main(["describe"]) == 0
    generated = capsys.readouterr().out
    shipped = (Path(__file__).parents[1] / "docs" / "default-scenario.md").read_text(encoding="utf-8")
    assert generated == shipped, "regenerate with: nhsrisk describe > docs/default-scenario.md"


def test_describe_lists_every_quantity_with_its_source(capsys):
    cli.main(["describe"])
    text = capsys.readouterr().out
    for key, quantity in nhsrisk.load_scenario().quantities().items():
        assert f"| `{key}` |" in text
        assert " ".join(quantity.source.split())[:40] in text


def test_summary_reports_how_often_the_staff_cap_binds(tmp_path):
    ds = nhsrisk.simulate(draws=1000, seed=1)
    assert "Staff-time cap binding: never" in cli.summary_table(ds)
    tight = nhsrisk.load_scenario().with_values({"staff_groups.gp.max_release_share": 0.001})
    text = cli.summary_table(nhsrisk.simulate(tight, draws=1000, seed=1))
    share = float(nhsrisk.simulate(tight, draws=1000, seed=1)["hours_capped"].sel(staff_group="gp").mean())
    assert f"Staff-time cap binding: gp {share:.2%} of draw-years" in text


def test_a_reader_closing_the_pipe_early_still_gets_the_results(tmp_path):
    script = Path(sys.executable).with_name("nhsrisk")
    # `true` exits at once, long before the summary is printed: the write is sure to hit a closed pipe.
    command = f"'{script}' run --draws 500 --seed 1 --out '{tmp_path}' | true; echo ${{PIPESTATUS[0]}}"
    result = subprocess.run(["bash", "-c", command], capture_output=True, text=True, timeout=600, check=False)
    assert result.stdout.strip() == "1"  # nhsrisk's own exit status: stopped early, quietly
    assert "Traceback" not in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "exceedance.png",
        "fan.png",
        "results.nc",
        "waterfall.png",
    ]


def test_summary_only_streams_and_writes_summary_nc(tmp_path):
    import xarray as xr

    from nhsrisk.cli import main

    out = tmp_path / "big"
    assert (
        main(
            ["run", "--draws", "2e4", "--chunks", "4096", "--summary-only", "--seed", "5", "--out", str(out)]
        )
        == 0
    )
    summary = xr.open_dataset(out / "summary.nc", engine="h5netcdf")
    assert summary.attrs["n_draws"] == 20_000 and summary.attrs["chunk_draws"] == 4096
    assert not (out / "results.nc").exists()
    exact = nhsrisk.simulate(draws=20_000, seed=5)
    np.testing.assert_allclose(summary["npv_mean"].item(), exact["npv"].values.mean(), rtol=1e-12)


def test_chunked_cli_run_equals_the_unchunked_one(tmp_path):
    import xarray as xr

    from nhsrisk.cli import main

    assert (
        main(["run", "--draws", "3000", "--chunks", "1000", "--seed", "8", "--out", str(tmp_path / "a")]) == 0
    )
    assert main(["run", "--draws", "3000", "--seed", "8", "--out", str(tmp_path / "b")]) == 0
    a = xr.open_dataset(tmp_path / "a" / "results.nc", engine="h5netcdf")
    b = xr.open_dataset(tmp_path / "b" / "results.nc", engine="h5netcdf")
    xr.testing.assert_identical(a, b)


def test_unreachable_scheduler_is_a_clear_error(tmp_path, capsys):
    pytest.importorskip("distributed")
    from nhsrisk.cli import main

    code = main(["run", "--draws", "100", "--scheduler", "tcp://127.0.0.1:9", "--out", str(tmp_path / "x")])
    assert code == 2
    assert "cannot reach the dask scheduler at tcp://127.0.0.1:9" in capsys.readouterr().err


@pytest.mark.parametrize("summary_only", [False, True], ids=["results", "summary only"])
def test_an_output_directory_that_cannot_be_written_is_refused_before_simulating(
    tmp_path, capsys, monkeypatch, summary_only
):
    # Root passes every permission check, but no one can create a file in /proc: a real write is tried.
    if os.geteuid() == 0:
        out = Path("/proc")
    else:
        out = tmp_path / "read-only"
        out.mkdir()
        out.chmod(0o555)

    def trap(*args, **kwargs):
        raise AssertionError("simulated although the results could not be written")

    monkeypatch.setattr(nhsrisk, "simulate", trap)
    try:
        code = run(["--draws", "50", "--seed", "1", "--out", str(out), *(["--summary-only"] * summary_only)])
    finally:
        if out != Path("/proc"):
            out.chmod(0o755)
    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith(f"nhsrisk run: cannot write to output directory {out}: ") and err.count("\n") == 1
