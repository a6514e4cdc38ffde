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
from pathlib import Path

import pytest

import vmaprt

DOCS = Path(__file__).parent.parent / "docs"
README = Path(__file__).parent.parent / "README.md"
FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
RST_FILES = sorted(DOCS.glob("*.rst"))
MODULES = ["vmaprt", "vmaprt._api", "vmaprt._batched", "vmaprt._registry", "vmaprt.tree", "vmaprt._core",
           "vmaprt.random", "vmaprt.scipy"]


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


# Sphinx's own napoleon uses an API that Sphinx deprecates; not a warning of these docs.
@pytest.mark.filterwarnings("ignore:The mapping interface for autodoc options:PendingDeprecationWarning")
def test_sphinx_build_has_no_warnings(tmp_path):
    from sphinx.cmd.build import build_main

    status = build_main(
        ["-W", "--keep-going", "-q", "-b", "html", "-d", str(tmp_path / "doctrees"), str(DOCS), str(tmp_path / "html")]
    )
    assert status == 0, "sphinx-build -W failed; its warnings are in the captured stderr"
    assert (tmp_path / "html" / "tutorial.html").exists()
