"""Package metadata (issue 14, item 2): licence, package data, version in one place, changelog."""

from __future__ import annotations

import fnmatch
import importlib.metadata
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_licence_is_an_spdx_expression_with_its_file_shipped() -> None:
    project = PROJECT["project"]
    assert project["license"] == "MIT"
    assert project["license-files"] == ["LICENSE"]
    text = (ROOT / "LICENSE").read_text()
    assert text.startswith("MIT License") and 'THE SOFTWARE IS PROVIDED "AS IS"' in text


def test_every_shipped_scenario_is_declared_package_data() -> None:
    setuptools = PROJECT["tool"]["setuptools"]
    assert "nhsrisk.data" in setuptools["packages"]
    patterns = setuptools["package-data"]["nhsrisk.data"]
    shipped = sorted(p.name for p in (ROOT / "nhsrisk" / "data").iterdir() if p.is_file())
    assert shipped, "no shipped scenarios"
    for name in shipped:
        assert any(fnmatch.fnmatch(name, pattern) for pattern in patterns), name


def test_typed_classifier_matches_the_py_typed_marker() -> None:
    typed = "Typing :: Typed" in PROJECT["project"]["classifiers"]
    assert typed == (ROOT / "nhsrisk" / "py.typed").exists()
    assert "py.typed" in PROJECT["tool"]["setuptools"]["package-data"]["nhsrisk"]


def test_the_version_is_set_once_and_the_changelog_knows_it() -> None:
    version = PROJECT["project"]["version"]
    # the installed metadata (what nhsrisk.__version__ reads) is built from pyproject.toml alone
    assert importlib.metadata.version("nhsrisk") == version
    changelog = (ROOT / "CHANGELOG.md").read_text()
    assert f"## {version} (" in changelog
    assert "## Unreleased" in changelog
