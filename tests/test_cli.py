"""``nhsrisk run``: summary, outputs written atomically, no silent overwrite."""

from __future__ import annotations

import os
import re
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
    claim = text.index("Claim window 2025/26 to 2029/30")
    appraisal = text.index("Appraisal period 2025/26 to 2034/35 (Green Book, 3.5%)")
    assert claim < appraisal  # the claim test first, then value for money
    claim_section, appraisal_section = text[claim:appraisal], text[appraisal:]
    for needle in (
        "\nCumulative value by 2029/30    £bn",
        "\nShortfall against £7.00bn ",
        "P(cumulative value by 2029/30 >= £7.00bn)",
        "Mean of the worst 5% of outcomes (2029/30)",
    ):
        assert needle in claim_section, needle
    for needle in (
        "\nNPV ",
        "\nBenefit-cost ratio ",
        "P(benefit-cost ratio < 1)",
        "\nPV of costs ",
        "\n  capital ",
        "\n  running ",
        "\nPV of benefits ",
        "\n  cash-releasing ",
        "\n  non-cash-releasing ",
        "\n  patient ",
        "\n  residual value ",
    ):
        assert needle in appraisal_section, needle
    for header in ("mean ± MCSE", "5% [95% CI]", "50% [95% CI]", "95% [95% CI]"):
        assert header in text
    assert "Change against" not in text  # as-announced names no baseline: nothing to compare with
    assert sorted(p.name for p in out.iterdir()) == [
        "exceedance.png",
        "fan.png",
        "manifest.json",
        "results.nc",
        "summary.txt",
        "waterfall.nc",
        "waterfall.png",
    ]
    # summary.txt holds what was printed, "Wrote ..." aside
    assert (out / "summary.txt").read_text(encoding="utf-8") == text.split("\nWrote ")[0].rstrip("\n") + "\n"
    # by default the headline outputs and every sampled input of every draw, as simulate keeps them
    with nhsrisk.open_results(out / "results.nc") as saved:
        expected = nhsrisk.simulate(draws=2000, seed=5, keep="headline")
        xr.testing.assert_identical(saved.load(), expected)
    with xr.open_dataset(out / "waterfall.nc", engine="h5netcdf") as saved:
        expected = nhsrisk.waterfall(draws=min(2000, cli.WATERFALL_DRAWS), seed=5, progress=False)
        xr.testing.assert_identical(saved.load(), expected)
    for name in ("fan.png", "exceedance.png", "waterfall.png"):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_run_keep_all_writes_every_output_and_the_default_about_half_the_bytes(tmp_path, capsys):
    light, full = tmp_path / "light", tmp_path / "full"
    assert run(["--draws", "3000", "--seed", "8", "--out", str(light)]) == 0
    assert run(["--draws", "3000", "--seed", "8", "--out", str(full), "--keep", "all"]) == 0
    # the same summary printed either way: "Wrote ..." ends each run's output
    first, second, _ = capsys.readouterr().out.split("\nWrote ")
    assert first == second.split("\n", 1)[1]
    with nhsrisk.open_results(full / "results.nc") as saved:
        xr.testing.assert_identical(saved.load(), nhsrisk.simulate(draws=3000, seed=8, keep="all"))
    with nhsrisk.open_results(light / "results.nc") as saved:
        xr.testing.assert_identical(saved.load(), nhsrisk.simulate(draws=3000, seed=8))  # the default
    with (
        nhsrisk.open_results(full / "results.nc") as everything,
        nhsrisk.open_results(light / "results.nc") as headline,
    ):
        assert set(headline.data_vars) < set(everything.data_vars)
        for name in headline.data_vars:
            xr.testing.assert_identical(headline[name], everything[name])
        assert repr(nhsrisk.summary(headline.load())) == repr(nhsrisk.summary(everything.load()))
    light_bytes = (light / "results.nc").stat().st_size
    full_bytes = (full / "results.nc").stat().st_size
    assert light_bytes < 0.55 * full_bytes


def test_run_timings_name_every_phase_on_stderr(tmp_path, capsys):
    assert run(["--draws", "1000", "--seed", "1", "--out", str(tmp_path / "t"), "--timings"]) == 0
    captured = capsys.readouterr()
    assert "Timings" not in captured.out
    phases = dict(re.findall(r"^  (\S.*?)\s+(-?\d+\.\d{3}) s$", captured.err, flags=re.MULTILINE))
    names = list(phases)
    assert names[:3] == ["start Python, import nhsrisk", "load the scenario, check the options", "simulate"]
    assert names[-2:] == ["other", "total"]
    assert {"write results.nc", "wait for the waterfall", "summary", "manifest"} <= set(names)
    # the phases are disjoint spans of the run: what is left over ("other") is never negative
    assert all(float(seconds) >= 0 for seconds in phases.values())


def test_the_command_line_prints_the_summary_object(tmp_path, capsys):
    # One summary: nhsrisk run prints repr(nhsrisk.summary(ds)) of its own results, then (the default
    # scenario has population segments) who gains, then the cap line.
    run(["--draws", "3000", "--seed", "11", "--out", str(tmp_path)])
    text = capsys.readouterr().out
    ds = nhsrisk.simulate(draws=3000, seed=11)
    expected = f"{nhsrisk.summary(ds)!r}\n\n{cli.equity_table(ds)}\n\nStaff-time cap binding: "
    assert text.startswith(expected)
    assert cli.summary_table(ds) == f"{expected}{nhsrisk.stats.cap_binding(ds)}"


@pytest.mark.parametrize(
    ("p", "draws", "expected"),
    [
        # no draw: the exact one-sided 95% bound 1 - 0.05**(1/n), close to the rule of three 3/n
        (0.0, 100_000, "0% ± 0% (one-sided 95% upper bound 0.00300%)"),
        (1.0, 1_000, "100% ± 0% (all 1,000 draws; one-sided 95% lower bound 99.7%)"),
        (0.25, 1_000, "25.0% ± 1.4%"),
    ],
)
def test_probabilities_never_claim_certainty(p, draws, expected):
    from nhsrisk.stats import _probability_text

    mcse = (p * (1 - p) / draws) ** 0.5
    assert _probability_text(p, mcse, draws) == expected
    assert 1 - 0.05 ** (1 / draws) == pytest.approx(3 / draws, rel=0.01)


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
    assert "nhsrisk summary of my-trust, 300 draws, seed 3" in capsys.readouterr().out


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
    assert "nhsrisk summary of as-announced, 100,000 draws" in result.stdout
    assert "Claim window 2025/26 to 2029/30" in result.stdout
    assert "Appraisal period 2025/26 to 2034/35 (Green Book, 3.5%)" in result.stdout
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


def test_scenarios_lists_every_shipped_scenario_with_its_title_and_baseline(capsys):
    assert cli.main(["scenarios"]) == 0
    text = capsys.readouterr().out
    lines = text.splitlines()
    for name in nhsrisk.BUILTIN_SCENARIOS:
        scenario = nhsrisk.load_scenario(name)  # a listed name always loads
        shown = f"{name} (default)" if name == "as-announced" else name
        line = next(line for line in lines if line.startswith(f"{shown} "))
        assert line.split()[len(shown.split())] == (scenario.baseline or "-")
        assert line.endswith(scenario.title)
    assert "spring-budget-2024 (now as-announced)" in text
    assert cli.scenarios_table() == text.rstrip("\n")


def test_run_defaults_to_as_announced_and_names_the_shipped_scenarios_in_its_help(capsys):
    args = cli._parser().parse_args(["run"])
    assert args.scenario == "as-announced"
    with pytest.raises(SystemExit):
        cli.main(["run", "--help"])
    # argparse wraps lines after hyphens ("ring-" / "fenced"): join the pieces again
    help_text = re.sub(r"-\n\s*", "-", capsys.readouterr().out)
    for name in nhsrisk.BUILTIN_SCENARIOS:
        assert name in help_text


def test_a_baseline_that_cannot_be_loaded_is_refused_before_anything_is_written(tmp_path, capsys):
    path = tmp_path / "orphan.toml"
    text = nhsrisk.load_scenario("after-the-cut").to_toml()
    path.write_text(text.replace('baseline = "as-announced"', 'baseline = "no-such-scenario"'))
    out = tmp_path / "out"
    assert run(["--scenario", str(path), "--draws", "100", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "'no-such-scenario'" in err and "baseline" in err
    assert not out.exists()


def test_a_baseline_file_is_found_next_to_the_scenario_that_names_it(tmp_path, monkeypatch):
    folder = tmp_path / "scenarios"
    folder.mkdir()
    (folder / "mine-base.toml").write_text(
        nhsrisk.load_scenario().with_values({"name": "mine-base"}).to_toml()
    )
    variant = nhsrisk.load_scenario("ring-fenced").with_values({"name": "mine", "baseline": "mine-base.toml"})
    (folder / "mine.toml").write_text(variant.to_toml())
    monkeypatch.chdir(tmp_path)  # the baseline is not in the working directory
    baseline = cli._load_baseline(variant, str(folder / "mine.toml"))
    assert baseline.name == "mine-base"
    assert cli._load_baseline(nhsrisk.load_scenario(), "as-announced") is None


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
        "manifest.json",
        "results.nc",
        "summary.txt",
        "waterfall.nc",
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
    text = cli.streaming_table(summary)
    claim = text.index("Claim window 2025/26 to 2029/30")
    appraisal = text.index("Appraisal period 2025/26 to 2034/35 (Green Book, 3.5%)")
    assert (
        claim
        < text.index("Cumulative value by 2029/30")
        < text.index("P(cumulative value by 2029/30 >= £7.00bn)")
        < appraisal
    )
    assert appraisal < text.index("\nNPV ") < text.index("P(benefit-cost ratio < 1)")
    assert text == f"{nhsrisk.summary(summary)!r}\n\n" + text.split("\n\n")[-1]  # the summary object
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


def test_version_flag_prints_the_installed_version(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.strip() == f"nhsrisk {nhsrisk.__version__}"


def test_run_help_has_a_description_and_examples_that_parse(capsys):
    with pytest.raises(SystemExit):
        cli.main(["run", "--help"])
    text = capsys.readouterr().out
    assert "claim window" in text and "appraisal period" in text
    examples = text.split("examples:\n", 1)[1].splitlines()
    commands = [words for words in (line.strip().split("  ")[0].split() for line in examples) if words]
    assert len(commands) >= 5
    for words in commands:
        assert words[0] == "nhsrisk"
        cli._parser().parse_args(words[1:])  # every example is a valid command line


def test_readme_sample_output_is_what_nhsrisk_run_prints(tmp_path, capsys, monkeypatch):
    # The README shows a plain `nhsrisk run` with seed 2024 (a plain run's seed is fresh entropy):
    # the same command with that seed must print the README's block line for line.
    readme = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")
    block = re.search(
        r"```text\n(nhsrisk summary of as-announced, 100,000 draws, seed 2024.*?)```", readme, re.S
    )
    assert block, "the README's sample output block is missing"
    monkeypatch.chdir(tmp_path)
    assert cli.main(["run", "--seed", "2024", "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert printed.splitlines() == block.group(1).rstrip("\n").splitlines()


def test_the_summary_shows_exclusion_and_who_gains_when_the_scenario_has_segments():
    import copy

    from nhsrisk.scenario import Scenario, dumps_toml
    from nhsrisk.stats import equity

    ds = nhsrisk.simulate(draws=2_000, seed=5, progress=False)
    text = cli.summary_table(ds)
    block = text.split("Digital exclusion and who gains (population segments)\n")[1].split("\n\n")[0]
    lines = block.splitlines()
    exclusion = ds["contact_weighted_exclusion"].mean("year")
    assert lines[0].startswith("Contact-weighted digital exclusion (appraisal-period mean)")
    assert f"{100 * float(exclusion.mean()):.3g}% ± " in lines[0]
    assert f"a headline of {100 * float(ds['risks.digital_exclusion'].mean()):.3g}% of adults" in lines[0]
    table = equity(ds)
    rows = {line.split("£")[0].strip(): line.split("£")[1].split() for line in lines[2:5]}
    most = table["per_head_by_quintile"].sel(quintile="most deprived")
    assert float(rows["most deprived quintile"][0]) == pytest.approx(
        float(most.sel(statistic="mean")), abs=0.005
    )
    assert float(rows["most deprived quintile"][-1]) == pytest.approx(
        float(most.sel(statistic="95%")), rel=0.005
    )
    oldest = table["per_head_by_age_band"].sel(age_band="75+", statistic="mean")
    assert float(rows["aged 75+"][0]) == pytest.approx(float(oldest), abs=0.005)
    assert f"gets {float(table['most_to_least_deprived']):.3g} ± " in lines[5]
    # a scenario without a population table has one segment and no such block
    data = copy.deepcopy(nhsrisk.load_scenario().to_dict())
    del data["population"]
    whole = nhsrisk.simulate(Scenario.from_toml(dumps_toml(data)), draws=500, seed=5, progress=False)
    assert "who gains" not in cli.summary_table(whole)
