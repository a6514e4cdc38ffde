"""Sphinx configuration for the vmaprt documentation.

Build with ``sphinx-build -W -b html docs docs/_build/html``.

Note [docs import the installed package]
    This file does not touch ``sys.path``.  autodoc documents whatever
    ``import vmaprt`` finds: the installed package (``pip install .``), whose
    compiled ``vmaprt._core`` is the one users get.  Inserting the source tree
    here would document a tree that may have no compiled extension, or one
    that is stale.  Under the src/ layout the checkout itself is not
    importable; to document a checkout you edit, install it editable
    (``pip install -e .``).
"""

import doctest

try:
    import vmaprt
except ImportError as e:  # fail with the fix, not with a page of autodoc warnings
    raise ImportError(
        "the vmaprt docs document the installed package, but `import vmaprt` failed "
        f"({e}). Install it with `pip install .` from the repository root (or "
        "`pip install -e .` for a checkout you edit)."
    ) from e

project = "vmaprt"
author = "the vmaprt authors"
copyright = "the vmaprt authors"
release = vmaprt.__version__
version = ".".join(release.split(".")[:2])

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.doctest",
    "sphinx.ext.mathjax",
]

# Docstrings are numpydoc style (Parameters / Returns / Examples sections).
napoleon_google_docstring = False
napoleon_numpy_docstring = True
napoleon_use_rtype = False

autodoc_member_order = "bysource"
autodoc_typehints = "none"
# Signatures show defaults as written (dtype=np.float64), not their repr
# (dtype=<class 'numpy.float64'>).
autodoc_preserve_defaults = True

# The tutorial's ``>>>`` blocks are doctests: tests/test_docs.py runs every
# docs/*.rst file through the standard library's doctest with these flags.
doctest_default_flags = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE

master_doc = "index"
source_suffix = {".rst": "restructuredtext"}
exclude_patterns = ["_build"]
templates_path = []
pygments_style = "sphinx"

# Note [the page layout]
#     pydata-sphinx-theme, as NumPy, SciPy and pandas use.  Every page is a
#     top-level entry of the toctree, so the header lists them all (no "More"
#     menu hiding the last two), and the left sidebar, which would only show
#     the sub-pages of the current page, would be empty: it is turned off,
#     which gives the article the width of the code blocks (tests/test_docs.py,
#     Note [the width of a code block], measures it).  The right sidebar keeps
#     the page's table of contents; previous/next links close every page.
#     Nothing here links to a host: the build reads no network resource, and
#     the project has no public repository to point to.
html_theme = "pydata_sphinx_theme"
html_static_path = []
html_title = f"vmaprt {release}"
html_sidebars = {"**": []}
html_theme_options = {
    "navigation_with_keys": False,
    "header_links_before_dropdown": 7,
    "navbar_align": "left",
    "navbar_persistent": ["search-button"],
    "show_prev_next": True,
}


# Note [examples after a numpydoc section]
#     numpydoc reads everything after a "Parameters" header as parameters until
#     the next header, so a ``>>>`` block placed straight after the parameter
#     list (as in ``set_num_threads``) would render as a parameter.  Before
#     napoleon runs, such a block gets the "Examples" header it lacks.  A
#     docstring that already has one, or has no section at all, is left alone.
def _examples_header(app, what, name, obj, options, lines):
    is_header = [
        i + 1 < len(lines) and lines[i].strip() and set(lines[i + 1].strip()) == {"-"}
        for i in range(len(lines))
    ]
    first_doctest = next((i for i, line in enumerate(lines) if line.lstrip().startswith(">>>")), None)
    if first_doctest is None or not any(is_header[:first_doctest]):
        return
    if any(lines[i].strip() == "Examples" for i in range(len(lines)) if is_header[i]):
        return
    lines[first_doctest:first_doctest] = ["Examples", "--------", ""]


def setup(app):
    app.connect("autodoc-process-docstring", _examples_header, priority=400)
