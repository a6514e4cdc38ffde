"""A few key workloads under pytest-benchmark: ``pytest benchmarks --benchmark-only``.

Each workload is timed as ``vmaprt.vmap`` and as its reference hand-vectorized
NumPy expression, in one benchmark group, after checking that the two agree.
The full side-by-side suite is ``python -m benchmarks``; this file is for
pytest-benchmark's history and comparison tools (``--benchmark-autosave``,
``--benchmark-compare``).  It is not part of ``pytest tests``.
"""

import numpy as np
import pytest

from benchmarks.columns import build
from benchmarks.workloads import WORKLOADS

KEY = ["dot [100000, 8]", "matmul [100000, 3, 3]", "row sum", "row softmax", "tiny dot"]
CASES = [w for w in WORKLOADS if any(w.label.startswith(k) for k in KEY)]


@pytest.mark.parametrize("column", ["vmaprt", "numpy"])
@pytest.mark.parametrize("w", CASES, ids=lambda w: w.label)
def test_workload(benchmark, w, column):
    pytest.importorskip("pytest_benchmark")
    args = w.inputs(np.random.default_rng(0))
    ref_fn = next(iter(w.numpy.values()))
    reference = ref_fn(*args)
    if column == "numpy":
        fn = lambda: ref_fn(*args)  # noqa: E731
    else:
        fn, _ = build(column, w, args, reference, {})
    np.testing.assert_allclose(fn(), reference, rtol=1e-6, atol=1e-9)
    benchmark.group = w.label
    benchmark(fn)
