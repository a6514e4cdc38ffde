"""The coverage of NumPy's overridable functions, and the generated table in the docs."""

import re
import warnings
from pathlib import Path

import numpy as np
import pytest

import vmaprt
from vmaprt import _coverage
from vmaprt._registry import REFUSED

PAGE = Path(__file__).parent.parent / "docs" / "coverage.rst"


def test_committed_table_matches_the_registry():
    text = PAGE.read_text(encoding="utf-8")
    made_with = re.search(r"\(NumPy ([^)]+)\)", text).group(1)
    if made_with != np.__version__:
        pytest.skip(f"docs/coverage.rst lists NumPy {made_with}'s functions; this is NumPy {np.__version__}")
    assert text == _coverage.render(), (
        "docs/coverage.rst is out of date with the registry: regenerate it with "
        "`python -m vmaprt._coverage > docs/coverage.rst`"
    )


def test_coverage_figure():
    n = _coverage.summary()
    assert n["total"] >= 250
    assert n["percent"] >= 85.0, n
    # Every function that has no rule cannot be batched, and says why.
    assert n["fallback"] == 0, [r.name for r in _coverage.rows() if r.status == "per-example fallback" and r.module in _coverage.COUNTED]
    assert n["rule"] + n["refused"] == n["total"]


def test_every_refused_function_has_a_reason():
    for row in _coverage.rows():
        if row.status == "refused":
            assert row.note, row.name


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda x: np.unique(x), "np.unique cannot be batched: the shape of its result depends on the values"),
        (lambda x: np.nonzero(x), "np.nonzero cannot be batched"),
        (lambda x: np.setdiff1d(x, [0.0]), "np.setdiff1d cannot be batched"),
        (lambda x: np.array2string(x), "np.array2string cannot be batched: it returns a string"),
        (lambda x: np.save("never-written.npy", x), "np.save cannot be batched: it writes a file"),
    ],
)
def test_refused_functions_raise_with_the_reason(call, match):
    with pytest.raises(RuntimeError, match=match):
        vmaprt.vmap(call)(np.ones((2, 3)))
    assert not Path("never-written.npy").exists()


def test_has_batch_rule_matches_the_table():
    for func in [np.linalg.solve, np.sort, np.histogram, np.interp, np.pad, np.zeros, np.ones_like]:
        assert vmaprt.has_batch_rule(func), func
    for func in REFUSED:
        assert not vmaprt.has_batch_rule(func), func


def test_creation_with_like_counts_as_a_rule():
    x = np.ones((3, 2))
    with warnings.catch_warnings():
        warnings.simplefilter("error", vmaprt.PerformanceWarning)
        got = vmaprt.vmap(lambda v: np.zeros(2, like=v) + np.eye(2, like=v) @ v)(x)
    assert np.array_equal(got, x)
