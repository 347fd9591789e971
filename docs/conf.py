"""Sphinx configuration of the nhsrisk documentation site.

Build it with ``sphinx-build -W --keep-going -b html docs docs/_build/html``;
``tests/test_docs.py`` does the same, with warnings as errors. autodoc documents
the installed ``nhsrisk`` (``pip install -e .`` makes that the checkout).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import nhsrisk

if TYPE_CHECKING:
    from sphinx.application import Sphinx

project = "nhsrisk"
author = "nhsrisk contributors"
copyright = "nhsrisk contributors, MIT licence"
release = nhsrisk.__version__
version = release

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.mathjax",
    "numpydoc",
    "matplotlib.sphinxext.plot_directive",
]

# ".rst" is there for numpydoc, which loads autosummary; autosummary refuses to run without it.
source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
root_doc = "index"
# Only the pages are sources: build output, caches and notebooks are not.
exclude_patterns = ["_build", "**/.ipynb_checkpoints", "Thumbs.db", ".DS_Store"]

# -- Markdown (MyST) ------------------------------------------------------------------------------
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence", "deflist"]
# "## Heading" becomes an anchor, so [text](page.md#heading) links resolve and are checked.
myst_heading_anchors = 3

# -- API reference (autodoc + numpydoc) ----------------------------------------------------------
autodoc_default_options = {"member-order": "bysource"}
autodoc_typehints = "none"  # numpydoc's "Parameters" section already states every type, with units
autodoc_preserve_defaults = True
numpydoc_show_class_members = False  # members are listed by autodoc's :members:, not a second table
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False
numpydoc_validation_checks: set[str] = set()


def _module_sections_as_rubrics(
    app: Sphinx, what: str, name: str, obj: object, options: object, lines: list[str]
) -> None:
    """Turn the numpydoc section headings of a module docstring into rubrics, in place.

    numpydoc rewrites the sections of functions and classes but leaves a module
    docstring to docutils, which makes each ``Examples`` underlined heading a
    section of the API page; two modules with one each then give two sections
    with the same id, a build error. A rubric, which is what numpydoc makes of
    the same heading in a function, has no id and stays out of the page's table
    of contents.
    """
    if what != "module":
        return
    for i in range(1, len(lines)):
        title, underline = lines[i - 1].strip(), lines[i].strip()
        starts_block = i == 1 or not lines[i - 2].strip()
        if title and starts_block and len(underline) == len(title) and set(underline) == {"-"}:
            lines[i - 1], lines[i] = f".. rubric:: {title}", ""


def setup(app: Sphinx) -> None:
    """Register the docstring hook of this site."""
    app.connect("autodoc-process-docstring", _module_sections_as_rubrics)


# -- Gallery (matplotlib plot directive) ---------------------------------------------------------
# Each example is shown as written and must run as written: nothing is run before it.
plot_pre_code = ""
plot_include_source = True
plot_html_show_source_link = False
plot_html_show_formats = False
plot_formats = [("png", 100)]

# -- HTML ----------------------------------------------------------------------------------------
html_theme = "furo"
html_title = f"nhsrisk {release}"
html_static_path: list[str] = []
