"""The public API's annotations, as mypy sees them from a user's script.

``typing/usage.py`` uses vmap, per_example, register_batch_rule, tree and
random the way a typed script would, and must pass ``mypy --strict``;
``typing/misuse.py`` holds one wrong call a line, each of which mypy must
report, so the annotations are shown to check something.
"""

import re
from pathlib import Path

import pytest

mypy_api = pytest.importorskip("mypy.api", reason="mypy is in the test extra: pip install '.[test]'")

HERE = Path(__file__).parent / "typing"


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    """One mypy cache for the module: the second run reuses NumPy's analysed stubs."""
    return tmp_path_factory.mktemp("mypy-cache")


def mypy(path, cache_dir):
    stdout, stderr, status = mypy_api.run(["--strict", "--cache-dir", str(cache_dir), str(path)])
    return stdout + stderr, status


def test_installed_package_is_typed():
    import vmaprt

    assert (Path(vmaprt.__file__).parent / "py.typed").exists()


def test_a_typed_script_passes_mypy_strict(cache_dir):
    out, status = mypy(HERE / "usage.py", cache_dir)
    assert status == 0, out


def test_wrong_calls_are_reported(cache_dir):
    out, status = mypy(HERE / "misuse.py", cache_dir)
    marked = [i for i, line in enumerate((HERE / "misuse.py").read_text().splitlines(), 1) if "# error:" in line]
    reported = {int(n) for n in re.findall(r"misuse\.py:(\d+): error", out)}
    assert status == 1 and reported == set(marked), out
