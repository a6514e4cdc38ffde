"""The documentation runs: every ``>>>`` example in docs/*.rst, in the docstrings
of the installed vmaprt modules and in README.md, and the Sphinx build with
warnings as errors.

The pytest configuration turns ``vmaprt.PerformanceWarning`` into an error, and
that holds inside these doctests too: an example that shows the per-example
fallback has to catch the warning itself (``warnings.catch_warnings`` with
``simplefilter('always')``), so an example that falls back by accident fails.
"""

import doctest
import importlib
import re
import warnings
from html.parser import HTMLParser
from pathlib import Path

import pytest

import vmaprt

DOCS = Path(__file__).parent.parent / "docs"
README = Path(__file__).parent.parent / "README.md"
FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
RST_FILES = sorted(DOCS.glob("*.rst"))
MODULES = ["vmaprt", "vmaprt._api", "vmaprt._batched", "vmaprt._registry", "vmaprt.tree", "vmaprt._core",
           "vmaprt.random", "vmaprt.random._generator", "vmaprt.scipy"]


@pytest.fixture(autouse=True)
def restore_registry():
    """Undo the batch rules that examples register, so other tests see the real registry."""
    from vmaprt import _registry

    tables = [_registry.RULES, _registry.REFUSED, _registry.INPLACE]
    saved = [dict(t) for t in tables]
    yield
    for table, before in zip(tables, saved):
        table.clear()
        table.update(before)


def run(test):
    """Run one DocTest; failures are reported on stdout, which pytest shows."""
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    runner.run(test)
    return runner.summarize(verbose=False)


def test_docs_exist():
    names = {p.name for p in RST_FILES}
    assert {"index.rst", "tutorial.rst", "api.rst"} <= names, names


@pytest.mark.parametrize("path", RST_FILES, ids=lambda p: p.name)
def test_rst_doctests(path):
    result = doctest.testfile(str(path), module_relative=False, optionflags=FLAGS)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples in {path.name} failed (see the captured stdout)"


def _docstring_tests():
    """One pytest param per docstring with examples, in every module of MODULES."""
    params = []
    for name in MODULES:
        module = importlib.import_module(name)
        tests = [t for t in doctest.DocTestFinder().find(module, name) if t.examples]
        if not tests:  # only the compiled module may lack them (see test_core_doctests_are_found)
            params.append(pytest.param(name, None, id=name))
        params += [pytest.param(name, t.name, id=t.name) for t in sorted(tests, key=lambda t: t.name)]
    return params


@pytest.mark.parametrize("module_name, test_name", _docstring_tests())
def test_docstring_doctests(module_name, test_name):
    module = importlib.import_module(module_name)
    tests = {t.name: t for t in doctest.DocTestFinder().find(module, module_name) if t.examples}
    if test_name is None:
        if module_name == "vmaprt._core":
            pytest.skip(
                "doctest.DocTestFinder finds no docstrings in the compiled module "
                "vmaprt._core: its functions are not Python functions to doctest"
            )
        pytest.fail(f"no doctest examples found in the docstrings of {module_name}")
    result = run(tests[test_name])
    assert result.failed == 0, (
        f"{result.failed} of {result.attempted} examples in the docstring of {test_name} "
        f"failed (see the captured stdout)"
    )


def test_core_doctests_are_found():
    names = {t.name for t in doctest.DocTestFinder().find(vmaprt._core, "vmaprt._core") if t.examples}
    if not names:
        pytest.skip(
            "doctest.DocTestFinder finds no docstrings in the compiled module "
            "vmaprt._core: its functions are not Python functions to doctest"
        )
    assert "vmaprt._core.set_num_threads" in names, names


def test_readme_doctests():
    if not README.exists():
        pytest.skip("README.md does not exist yet")
    # Markdown code fences would be read as expected output; blank them (keeping line numbers).
    text = re.sub(r"(?m)^[ \t]*(```|~~~).*$", "", README.read_text(encoding="utf-8"))
    test = doctest.DocTestParser().get_doctest(text, {"__name__": "README"}, "README.md", str(README), 0)
    if not test.examples:
        pytest.skip("README.md has no >>> examples")
    result = run(test)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples in README.md failed"


# One Sphinx build for the tests that read its output.
@pytest.fixture(scope="module")
def html_build(tmp_path_factory):
    """``(status, html folder)`` of ``sphinx-build -W --keep-going -b html docs``."""
    from sphinx.cmd.build import build_main

    out = tmp_path_factory.mktemp("docs")
    with warnings.catch_warnings():
        # Sphinx's own napoleon uses an API that Sphinx deprecates; not a warning of these docs.
        warnings.filterwarnings("ignore", "The mapping interface for autodoc options",
                                PendingDeprecationWarning)
        status = build_main(["-W", "--keep-going", "-q", "-b", "html", "-d", str(out / "doctrees"),
                             str(DOCS), str(out / "html")])
    return status, out / "html"


def test_sphinx_build_has_no_warnings(html_build):
    status, html = html_build
    assert status == 0, "sphinx-build -W failed; its warnings are in the captured stderr"
    assert (html / "tutorial.html").exists()


# Note [the width of a code block]
#     Measured in headless Chromium 1280 px wide (Debian's chromium,
#     --window-size=1280,2000, so with a 15 px vertical scrollbar) on these
#     docs in pydata-sphinx-theme 0.24 with conf.py's layout (no left sidebar,
#     the page's contents on the right), by a script added to a copy of each
#     page and read back with --dump-dom: a <pre> straight in the article is
#     894 px wide, 862 px inside its padding (clientWidth minus
#     getComputedStyle padding); its font is 14 px monospace, and a span of 100
#     characters in that font measures 842.9 px, 8.43 px a character, in
#     DejaVu Sans Mono (0.602 em; the theme's stack tries Cascadia Code,
#     Source Code Pro, Menlo and Consolas first, none of them wider).
#     862 / 8.43 = 102.3, so 102 characters fit.  Each enclosing <dd> (a
#     definition list, an autodoc'ed function or class) or <li> indents a block
#     by 30-32 px, so a block is charged 32 px (3.8 characters) per level: 98
#     characters in a function's docstring, 94 in a method's inside its class
#     (830 and 798 px measured); a <blockquote> (none in these docs, not
#     measured) is counted the same.  On the 93 blocks of these docs this
#     limit and Chromium's scrollWidth > clientWidth agreed on every block,
#     before the long lines were wrapped (12 scrolled) and after.  A longer line makes the block scroll sideways and hides its
#     end, which on these pages is the shape comment that explains the line.
CODE_WIDTH_PX, CHAR_PX, INDENT_PX = 862, 8.43, 32
INDENTING = {"dd", "li", "blockquote"}

class _CodeBlocks(HTMLParser):
    """The text of every <pre> inside <article>, with how many INDENTING elements enclose it."""

    def __init__(self):
        super().__init__()
        self.blocks, self._depth, self._in_article, self._pre = [], 0, 0, None

    def handle_starttag(self, tag, attrs):
        if tag == "article":
            self._in_article += 1
        elif tag in INDENTING:
            self._depth += 1
        elif tag == "pre" and self._in_article and self._pre is None:
            self._pre = []

    def handle_endtag(self, tag):
        if tag == "article":
            self._in_article -= 1
        elif tag in INDENTING:
            self._depth -= 1
        elif tag == "pre" and self._pre is not None:
            self.blocks.append(("".join(self._pre), self._depth))
            self._pre = None

    def handle_data(self, data):
        if self._pre is not None:
            self._pre.append(data)


def test_code_blocks_fit_the_column(html_build):
    status, html = html_build
    pages = sorted(html.glob("*.html"))
    assert (html / "tutorial.html") in pages, "the docs did not build"
    too_wide, blocks = [], 0
    for page in pages:
        parser = _CodeBlocks()
        parser.feed(page.read_text(encoding="utf-8"))
        for text, depth in parser.blocks:
            blocks += 1
            limit = int((CODE_WIDTH_PX - INDENT_PX * depth) / CHAR_PX)
            lines = text.rstrip("\n").split("\n")
            longest = max(lines, key=len)
            if len(longest) > limit:
                message = (f"{page.name}: the block that starts {lines[0].strip()!r} has a line of "
                           f"{len(longest)} characters, {limit} fit: {longest.strip()!r}")
                too_wide.append(message)
    assert blocks > 50, f"found only {blocks} code blocks in {html}"
    assert not too_wide, (f"{len(too_wide)} code blocks are wider than the content column at 1280 px "
                          "(Note [the width of a code block]):\n" + "\n".join(too_wide))
