"""The HTML briefing (nhsrisk.report, ``nhsrisk report``, ``nhsrisk run --report``).

The page is opened in headless Chromium (Debian's ``chromium`` and
``chromium-driver`` packages, which ``.ci/run`` installs) through Selenium, with
ChromeDriver given by path so that Selenium Manager never downloads a browser.

To look at a report yourself, run this file as a script: it writes a report
of a small run (or takes yours) and saves full-page screenshots, on screen and
as printed::

    python tests/test_report.py [REPORT.html] [--out FOLDER]
"""

from __future__ import annotations

import argparse
import base64
import html
import json
import re
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import xarray as xr

import nhsrisk
from nhsrisk._format import money_unit, significant
from nhsrisk.cli import main
from nhsrisk.report import REPORT_FILE, render_report, source_basis, write_report

CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
)
DRAWS = 2_000
SEED = 3
# The compact results that `nhsrisk run` may keep: per-draw outputs, the per-year value, spend and
# cap flags, the sampled inputs and the scenario's fixed arrays (plus every attribute).
COMPACT = (
    "cumulative_value",
    "spend",
    "hours_capped",
    "planned_spend",
    "budget_change",
    "claimed_return",
    # who gains, for a scenario with population segments (with the pv_patient_by_* margins)
    "contact_weighted_exclusion",
    "people_by_quintile",
    "people_by_age_band",
)


def _browser() -> tuple[str, str] | None:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    return (browser, driver) if browser and driver else None


def compact(ds: xr.Dataset) -> xr.Dataset:
    names = [
        name
        for name, variable in ds.data_vars.items()
        if str(name).startswith("pv_")
        or name in ("npv", "bcr", "npv_distributional", *COMPACT)
        or variable.attrs.get("sampled_input") == 1
    ]
    return ds[names]


@pytest.fixture(scope="module")
def run() -> xr.Dataset:
    return nhsrisk.simulate(draws=DRAWS, seed=SEED)


@pytest.fixture(scope="module")
def bridge() -> xr.Dataset:
    return nhsrisk.waterfall(draws=DRAWS, seed=SEED, progress=False)


@pytest.fixture(scope="module")
def page(run: xr.Dataset, bridge: xr.Dataset) -> str:
    return render_report(compact(run), waterfall=bridge)


# --------------------------------------------------------------------------------------------------
# The page itself, without a browser
# --------------------------------------------------------------------------------------------------


def test_the_page_is_self_contained(page: str) -> None:
    # nothing is fetched: no URL of any scheme but data:, no script, no external stylesheet or font
    assert not re.search(r"(?:https?|ftp)://|//[a-z0-9.-]+\.[a-z]{2,}/", page, flags=re.I)
    assert "<script" not in page and "<link" not in page and "@import" not in page and "url(" not in page
    sources = re.findall(r'<img [^>]*src="([^"]+)"', page)
    assert len(sources) == 5  # the default scenario has population segments: who gains is the fifth
    for source in sources:
        assert source.startswith("data:image/png;base64,")
        assert base64.b64decode(source.split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"
    # every image says what it shows, and has a caption
    assert len(re.findall(r'<img [^>]*alt="[^"]{40,}"', page)) == 5
    assert page.count("<figcaption>") == 5
    assert "@media print" in page


def test_the_page_holds_the_summary_table(run: xr.Dataset, page: str) -> None:
    assert nhsrisk.summary(run)._repr_html_() in page
    # and the line nhsrisk run prints under it
    assert f"Staff-time cap binding: {nhsrisk.stats.cap_binding(run)}." in page


def test_the_compact_results_give_the_same_page_as_the_full_ones(
    run: xr.Dataset, bridge: xr.Dataset, page: str
) -> None:
    tornado = nhsrisk.tornado()
    full = render_report(run, waterfall=bridge, tornado=tornado)
    assert full == render_report(compact(run), waterfall=bridge, tornado=tornado)
    # the default tornado is the one computed here: the page is the same
    assert page == full


def test_every_figure_of_the_scenario_is_listed_with_its_source_and_basis(page: str) -> None:
    scenario = nhsrisk.load_scenario()
    text = html.unescape(page)
    for key, quantity in scenario.quantities().items():
        row = re.search(
            rf"<tr><td><code>{re.escape(key)}</code></td>(.*?)</tr>", text.replace("<wbr>", ""), flags=re.S
        )
        assert row is not None, key
        basis = source_basis(quantity.source)
        assert f">{basis}</span>" in row.group(1), key
        # the reasoning or citation is shown whole (an assumption's without its "assumption:" prefix)
        shown = " ".join(quantity.source.split())
        if basis == "assumption":
            shown = shown.split(":", 1)[1].strip()
        assert shown in row.group(1), key
    counts = {basis: 0 for basis in ("published", "partly assumed", "assumption")}
    for quantity in scenario.quantities().values():
        counts[source_basis(quantity.source)] += 1
    assert f"Of its {len(scenario.quantities())} figures: " in text
    assert f"{counts['assumption']} assumption" in text
    for programme in scenario.programmes.values():
        assert " ".join(programme.spend.source.split()) in text


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("assumption: as for GPs", "assumption"),
        ("  Assumption, from the pilot", "assumption"),
        ("Spring Budget 2024. The yearly profile is an assumption (no published phasing)", "partly assumed"),
        ("ONS series L8GG; 2031/32 onward assumed at 2.0%", "partly assumed"),
        ("HM Treasury Green Book (2022)", "published"),
    ],
)
def test_source_basis(source: str, expected: str) -> None:
    assert source_basis(source) == expected


def test_the_verdict_is_built_from_the_numbers(run: xr.Dataset, page: str) -> None:
    # a run in which the claim is reached sometimes: the sentence changes with the numbers
    table = nhsrisk.summary(run)
    target = float(table["quantile_estimate"].sel(output="cumulative_value[2029/30]", quantile=0.5))
    lowered = run.assign(claimed_return=run["claimed_return"] * 0 + target)
    other = render_report(lowered, waterfall=nhsrisk.waterfall(draws=200, seed=SEED, progress=False))
    assert "No draw of 2,000 reaches the claim" in page
    assert "No draw of" not in other
    reached = int(np.count_nonzero(run["cumulative_value"].sel(year="2029/30").values >= target))
    assert f"({reached:,} of 2,000 draws)" in other


def test_render_report_refuses_bad_input(run: xr.Dataset, bridge: xr.Dataset) -> None:
    with pytest.raises(TypeError, match="'ds' parameter of render_report must be an xarray Dataset"):
        render_report(run["npv"])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="the scenario's TOML text"):
        render_report(run.drop_attrs())
    with pytest.raises(ValueError, match="and the 'seed'"):
        render_report(
            run.assign_attrs(seed=None).drop_attrs(deep=False).assign_attrs(scenario=run.attrs["scenario"])
        )
    with pytest.raises(ValueError, match="'waterfall' parameter of render_report"):
        render_report(run, waterfall=bridge[["level"]])
    other = nhsrisk.waterfall("ring-fenced", draws=200, seed=SEED, progress=False)
    with pytest.raises(ValueError, match="scenario of the run"):
        render_report(run, waterfall=other)
    with pytest.raises(TypeError, match="'tornado' parameter of render_report"):
        render_report(run, tornado="npv")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="'ds' parameter of summary"):
        render_report(run.drop_vars("npv"), waterfall=bridge)


def test_write_report_is_atomic_and_never_overwrites_by_default(
    run: xr.Dataset, bridge: xr.Dataset, tmp_path: Path
) -> None:
    target = tmp_path / "brief.html"
    with pytest.raises(ValueError, match="'path' parameter of write_report"):
        write_report(run)
    written = write_report(compact(run), target, waterfall=bridge)
    assert written == target and target.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    before = target.read_bytes()
    with pytest.raises(FileExistsError, match="overwrite=True"):
        write_report(run, target, waterfall=bridge)
    assert target.read_bytes() == before
    assert sorted(path.name for path in tmp_path.iterdir()) == ["brief.html"]  # no temporary left


def test_write_report_reads_saved_results(run: xr.Dataset, bridge: xr.Dataset, tmp_path: Path) -> None:
    saved = nhsrisk.save_results(compact(run), tmp_path / "run.nc")
    written = write_report(saved, waterfall=bridge)
    assert written == tmp_path / "run.html"
    assert written.read_text(encoding="utf-8") == render_report(compact(run), waterfall=bridge)
    with pytest.raises(FileNotFoundError, match="no results at"):
        write_report(tmp_path / "missing.nc")
    with pytest.raises(FileNotFoundError, match="holds no results.nc"):
        write_report(tmp_path)


# --------------------------------------------------------------------------------------------------
# The command line
# --------------------------------------------------------------------------------------------------


def test_nhsrisk_report_writes_report_html_into_a_run_folder(
    run: xr.Dataset, bridge: xr.Dataset, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "out"
    folder.mkdir()
    nhsrisk.save_results(compact(run), folder / "results.nc")
    nhsrisk.save_results(bridge, folder / "waterfall.nc", compression=0)  # as nhsrisk run writes it
    assert main(["report", str(folder)]) == 0
    written = folder / REPORT_FILE
    assert str(written) in capsys.readouterr().out
    # the stored waterfall is the one shown (the same seed and draws as the run's own, here)
    tornado = nhsrisk.tornado()
    assert written.read_text(encoding="utf-8") == render_report(
        compact(run), waterfall=bridge, tornado=tornado
    )
    # never over a file without --force; one line on stderr and exit 2
    assert main(["report", str(folder)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("nhsrisk report: ") and "--force" in err
    assert main(["report", str(folder), "--force", "--out", str(tmp_path / "b.html")]) == 0
    assert (tmp_path / "b.html").is_file()


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda root: root / "nowhere", "no results at"),
        (lambda root: root, "holds no results.nc"),
        (lambda root: (root / "x.nc").write_text("not netcdf") and root / "x.nc", "cannot be read"),
    ],
)
def test_nhsrisk_report_errors_are_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], make: Any, message: str
) -> None:
    assert main(["report", str(make(tmp_path))]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("nhsrisk report: ") and message in err


def test_nhsrisk_run_report_adds_report_html_to_the_folder(tmp_path: Path) -> None:
    out = tmp_path / "run"
    argv = ["run", "--scenario", "after-the-cut", "--draws", "500", "--seed", "1", "--out", str(out)]
    assert main([*argv, "--report"]) == 0
    page = (out / REPORT_FILE).read_text(encoding="utf-8")
    # the four figures, and who gains: the scenario has population segments
    assert page.count("<img ") == 5 and 'id="figure-equity"' in page
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert REPORT_FILE in manifest["files"]
    # a run beside its baseline reports the change against it, as budget_change_effect computes it
    effect = nhsrisk.budget_change_effect(
        nhsrisk.simulate("after-the-cut", draws=500, seed=1),
        nhsrisk.simulate("as-announced", draws=500, seed=1),
    )
    assert "Against the baseline <code>as-announced</code>" in page
    shown = dict(re.findall(r'data-summary="(per_gbp_value|budget_change)" data-value="([^"]+)"', page))
    assert float(shown["per_gbp_value"]) == float(effect["per_gbp"].isel(output=0))
    assert float(shown["budget_change"]) == float(effect["budget_change"])
    # the folder may be replaced by a later run (report.html is one of the files nhsrisk run writes)
    assert main([*argv, "--force"]) == 0
    assert not (out / REPORT_FILE).exists()


def test_nhsrisk_run_report_refuses_summary_only(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "run"
    assert main(["run", "--draws", "500", "--out", str(out), "--report", "--summary-only"]) == 2
    assert "--report" in capsys.readouterr().err and not out.exists()


# --------------------------------------------------------------------------------------------------
# In a browser
# --------------------------------------------------------------------------------------------------


def chromium(width: int = 1366, height: int = 900) -> Any:
    """Start headless Chromium through Selenium, offline, with the console log recorded."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    found = _browser()
    assert found is not None
    browser, driver = found
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    profile = tempfile.mkdtemp(prefix="nhsrisk-chromium-")
    for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={profile}", f"--window-size={width},{height}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    session = webdriver.Chrome(service=Service(executable_path=driver), options=options)
    session._nhsrisk_profile = profile  # removed by close()
    return session


def close(session: Any) -> None:
    profile = session._nhsrisk_profile
    session.quit()
    shutil.rmtree(profile, ignore_errors=True)


def screenshot(session: Any, path: Path, *, width: int, print_media: bool = False) -> Path:
    """Save a full-page PNG: the window is made as tall as the document first."""
    session.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": "print" if print_media else ""})
    session.set_window_size(width, 900)
    height = session.execute_script(
        "return Math.max(document.documentElement.scrollHeight, document.body.scrollHeight)"
    )
    session.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": int(height), "deviceScaleFactor": 1, "mobile": False},
    )
    session.get_screenshot_as_file(str(path))
    session.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
    return path


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if _browser() is None:
        pytest.skip(
            "no Chromium and ChromeDriver on PATH (Debian: apt-get install chromium chromium-driver; "
            ".ci/run installs them)"
        )
    pytest.importorskip("selenium", reason="selenium is in the test extra: pip install -e '.[test]'")
    session = chromium()
    yield session
    close(session)


def test_the_report_renders_in_chromium_without_errors(
    browser: Any, run: xr.Dataset, bridge: xr.Dataset, tmp_path: Path
) -> None:
    report = write_report(compact(run), tmp_path / REPORT_FILE, waterfall=bridge)
    browser.get(report.resolve().as_uri())
    assert browser.title.startswith("nhsrisk briefing: Spring Budget 2024")
    log = browser.get_log("browser")
    assert [entry for entry in log if entry["level"] == "SEVERE"] == []
    images = browser.execute_script(
        "return Array.from(document.images, i => [i.complete, i.naturalWidth, i.naturalHeight, "
        "i.getBoundingClientRect().width, i.alt])"
    )
    assert len(images) == 5
    for complete, natural_width, natural_height, shown_width, alt in images:
        assert complete and natural_width > 0 and natural_height > 0, alt
        # on a laptop screen each figure is at least 500 px wide: readable, two to a row
        assert shown_width >= 500, alt

    # the headline numbers on the page are the summary's, to the last digit
    table = nhsrisk.summary(run)
    claim = "cumulative_value[2029/30]"
    expected = {
        "median_value": float(table["quantile_estimate"].sel(output=claim, quantile=0.5)),
        "target": float(table["target"]),
        "p_target": float(table["p_target"]),
        "median_bcr": float(table["quantile_estimate"].sel(output="bcr", quantile=0.5)),
        "median_npv": float(table["quantile_estimate"].sel(output="npv", quantile=0.5)),
        "p_bcr_below_1": float(table["p_bcr_below_1"]),
        "p05_value": float(table["quantile_estimate"].sel(output=claim, quantile=0.05)),
        "p95_value": float(table["quantile_estimate"].sel(output=claim, quantile=0.95)),
    }
    shown = browser.execute_script(
        "return Array.from(document.querySelectorAll('[data-summary]'), "
        "e => [e.dataset.summary, e.dataset.value, e.textContent])"
    )
    seen = {name for name, _, _ in shown}
    assert set(expected) <= seen
    money = {"median_value", "target", "median_npv", "p05_value", "p95_value"}
    for name, value, text in shown:
        if name in expected:
            assert float(value) == expected[name], name
        if name in money:
            assert text == money_unit(float(value)).amount(float(value)), name
    cards = dict(
        browser.execute_script(
            "return Array.from(document.querySelectorAll('.card'), "
            "c => [c.querySelector('.card-label').textContent, c.querySelector('.card-value').textContent])"
        )
    )
    assert cards["Median benefit-cost ratio"] == significant(expected["median_bcr"], 3)
    assert cards["Claimed return"] == "£7.00bn"
    # every row of the headline table reads as the printed summary does
    printed = [" ".join(line.split()) for line in repr(table).splitlines()]
    rows = browser.execute_script(
        "return Array.from(document.querySelectorAll('.headline tr'), "
        "r => Array.from(r.children, c => c.textContent).join(' ').trim())"
    )
    assert len(rows) >= 14
    for row in rows:
        assert " ".join(row.split()) in printed, row

    # a screenshot for a human (kept under pytest's tmp_path), full page, on screen and printed
    shot = screenshot(browser, tmp_path / "report.png", width=1366)
    printed_shot = screenshot(browser, tmp_path / "report-print.png", width=703, print_media=True)
    print(f"\nscreenshots: {shot} {printed_shot}")
    for path in (shot, printed_shot):
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    from PIL import Image

    with Image.open(shot) as image:
        # the whole page, not the first screenful: four figures and the scenario are far below
        assert image.size[0] == 1366 and image.size[1] > 3000
    assert [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"] == []


def _script(argv: list[str] | None = None) -> int:
    """Write (or take) a report and save full-page screenshots of it, on screen and printed."""
    parser = argparse.ArgumentParser(description=_script.__doc__)
    parser.add_argument("report", nargs="?", help="an HTML report (default: one of a 2,000-draw run)")
    parser.add_argument("--out", default=".", help="folder for the PNGs (default: .)")
    args = parser.parse_args(argv)
    if _browser() is None:
        print("needs chromium and chromedriver on PATH", file=sys.stderr)
        return 2
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    report = Path(args.report) if args.report else out / REPORT_FILE
    if not args.report:
        write_report(nhsrisk.simulate(draws=DRAWS, seed=SEED), report, overwrite=True)
    session = chromium()
    try:
        session.get(report.resolve().as_uri())
        for entry in session.get_log("browser"):
            print(f"console {entry['level']}: {entry['message']}", file=sys.stderr)
        # the print view at the width of an A4 page inside its margins (186 mm at 96 px an inch)
        for name, width, print_media in (("report.png", 1366, False), ("report-print.png", 703, True)):
            print(screenshot(session, out / name, width=width, print_media=print_media))
        pdf = session.execute_cdp_cmd("Page.printToPDF", {"preferCSSPageSize": True, "printBackground": True})
        (out / "report.pdf").write_bytes(base64.b64decode(pdf["data"]))
        print(out / "report.pdf")
    finally:
        close(session)
    return 0


if __name__ == "__main__":
    sys.exit(_script())


def test_a_run_with_population_segments_reports_who_gains(run: xr.Dataset, bridge: xr.Dataset) -> None:
    from nhsrisk.stats import equity

    page = render_report(run, waterfall=bridge)
    assert page.count("<img ") == 5
    figure = page.split('<figure id="figure-equity">')[1].split("</figure>")[0]
    ratio = float(equity(run)["most_to_least_deprived"])
    assert f"the most deprived fifth gets {ratio:.3g} " in " ".join(figure.split())
    exclusion = float(run["contact_weighted_exclusion"].mean())
    assert f"{100 * exclusion:.3g}% of the contacts" in figure
    # what the model leaves out says what this run counts: dual running, and approximate weights
    method = page.split('id="method-title"')[1]
    assert "Dual running of non-digital routes is a cost line" in method
    assert "Distributional weights are not applied" not in method


def test_a_scenario_without_a_population_says_weights_are_not_applied() -> None:
    import copy

    from nhsrisk.scenario import Scenario, dumps_toml

    data = copy.deepcopy(nhsrisk.load_scenario().to_dict())
    del data["population"]
    scenario = Scenario.from_toml(dumps_toml(data))
    whole = nhsrisk.simulate(scenario, draws=500, seed=SEED, progress=False)
    bridge = nhsrisk.waterfall(scenario, draws=500, seed=SEED, groups=["budget raids"], progress=False)
    page = render_report(whole, waterfall=bridge)
    assert page.count("<img ") == 4
    method = page.split('id="method-title"')[1]
    assert (
        "dual running of non-digital routes," in method and "Distributional weights are not applied" in method
    )
