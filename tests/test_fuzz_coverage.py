"""The program fuzzer of tests/test_fuzz.py, with the operations of the coverage families.

Random chains mixing the fuzzer's operations with sorting, quantiles,
histograms, linear algebra, padding, rolling, polynomials, interpolation,
convolution and the shape functions, on random shapes (size 0 and 1
included), layouts, in_dims, out_dims, chunk sizes and nesting.  Every run
must equal the per-example loop without a fallback.  ``pytest --fuzz-long``
runs thousands of programs.
"""

import numpy as np
from hypothesis import given

import test_fuzz as F


def nd(k):
    return lambda x: np.ndim(x) >= k


def last(k):
    return lambda x: np.ndim(x) >= 1 and np.shape(x)[-1] >= k


def square(x):
    return np.ndim(x) >= 2 and np.shape(x)[-1] == np.shape(x)[-2]


def nonempty(x):
    return np.size(x) > 0


# name, arity, function, precondition on the per-example operands
MORE = [
    ("sort", 1, lambda x: np.sort(x, axis=-1), nd(1)),
    ("argsort", 1, lambda x: np.argsort(x, axis=-1, kind="stable").astype(float), nd(1)),
    ("sortNone", 1, lambda x: np.sort(x, axis=None), None),
    ("partition", 1, lambda x: np.partition(x, 0, axis=-1), last(1)),
    ("quantile", 1, lambda x: np.quantile(x, [0.3, 0.7], axis=-1), last(1)),
    ("median0", 1, lambda x: np.median(x, axis=0), lambda x: np.ndim(x) >= 1 and np.shape(x)[0] > 0),
    ("diff", 1, lambda x: np.diff(x, axis=-1), nd(1)),
    ("diffpre", 1, lambda x: np.diff(x, prepend=0.0), nd(1)),
    ("gradient", 1, lambda x: np.gradient(x, axis=-1), last(2)),
    ("pad", 1, lambda x: np.pad(x, 1), None),
    ("padedge", 1, lambda x: np.pad(x, 1, mode="edge"), nonempty),
    ("roll", 1, lambda x: np.roll(x, 1), None),
    ("roll-1", 1, lambda x: np.roll(x, 2, axis=-1), nd(1)),
    ("tile", 1, lambda x: np.tile(x, 2), None),
    ("repeat", 1, lambda x: np.repeat(x, 2, axis=-1), nd(1)),
    ("flipud", 1, np.flipud, nd(1)),
    ("rot90", 1, np.rot90, nd(2)),
    ("tril", 1, np.tril, nd(2)),
    ("triu1", 1, lambda x: np.triu(x, 1), nd(1)),
    ("diag", 1, np.diag, lambda x: np.ndim(x) in (1, 2)),
    ("trace", 1, np.trace, nd(2)),
    ("norm", 1, np.linalg.norm, None),
    ("norm-1", 1, lambda x: np.linalg.norm(x, axis=-1), nd(1)),
    ("inv", 1, lambda x: np.linalg.inv(x + 3 * np.eye(np.shape(x)[-1])), square),
    ("det", 1, lambda x: np.linalg.det(x + 3 * np.eye(np.shape(x)[-1])), square),
    ("eigvalsh", 1, lambda x: np.linalg.eigvalsh(x + np.swapaxes(x, -1, -2)), square),
    ("svdvals", 1, lambda x: np.linalg.svd(x, compute_uv=False), nd(2)),
    ("pinv", 1, np.linalg.pinv, nd(2)),
    ("kron", 1, lambda x: np.kron(x, x), lambda x: np.size(x) <= 16),
    ("hist", 1, lambda x: np.histogram(x, 3)[0].astype(float), None),
    ("hist_r", 1, lambda x: np.histogram(x, 4, range=(-1, 1))[0].astype(float), None),
    ("hist_e", 1, lambda x: np.histogram(x, [-1.0, 0.0, 0.5, 2.0])[1], None),
    ("searchself", 1, lambda x: np.searchsorted(np.sort(np.ravel(x)), x).astype(float), None),
    ("interp", 1, lambda x: np.interp(x, np.sort(np.ravel(x)), np.arange(np.size(x), dtype=float)), nonempty),
    ("polyval", 1, lambda x: np.polyval(np.ravel(x)[:3], x), nonempty),
    ("convolve", 1, lambda x: np.convolve(np.ravel(x), np.array([1.0, 2.0], dtype=x.dtype)), nonempty),
    ("average", 1, lambda x: np.average(x, axis=-1, weights=np.abs(x) + 1), last(1)),
    ("tala", 1, lambda x: np.take_along_axis(x, np.argsort(x, axis=-1), axis=-1), nd(1)),
    ("fft", 1, lambda x: np.abs(np.fft.fft(x, axis=-1)), last(1)),
    ("rfft2", 1, lambda x: np.abs(np.fft.rfft2(x)), lambda x: np.ndim(x) >= 2 and np.size(x) > 0),
    ("cumsum_n", 1, lambda x: np.cumulative_sum(x, axis=-1), nd(1)),
    ("swv", 1, lambda x: np.lib.stride_tricks.sliding_window_view(x, 2, axis=-1), last(2)),
    ("asplit", 1, lambda x: np.array_split(x, 2, axis=-1)[0], nd(1)),
    ("delete", 1, lambda x: np.delete(x, 0, axis=-1), last(1)),
    ("insert", 1, lambda x: np.insert(x, 0, 5.0, axis=-1), nd(1)),
    ("append", 1, lambda x: np.append(x, x, axis=-1), nd(1)),
    ("resize", 1, lambda x: np.resize(x, (3,)), None),
    ("meshgrid", 1, lambda x: np.meshgrid(np.ravel(x)[:3], np.ravel(x)[:2])[0], None),
    ("piecewise", 1, lambda x: np.piecewise(x, [x < 0], [lambda v: -v, lambda v: v * 2]), None),
    ("select", 1, lambda x: np.select([x > 0.5, x < -0.5], [x, -x], 0.0), None),
    ("allclose", 1, lambda x: np.where(np.allclose(x, x * 1.0000001), x, -x), None),
    ("unwrap", 1, lambda x: np.unwrap(x * 4), nd(1)),
    ("vander", 1, lambda x: np.vander(np.ravel(x)[:3], 3), None),
    ("cov", 1, lambda x: np.cov(np.reshape(x, (-1,))[None].repeat(2, 0) * np.array([[1], [2]], dtype=x.dtype)), lambda x: np.size(x) >= 2),
    ("solve", 2, lambda a, b: np.linalg.solve(a + 3 * np.eye(np.shape(a)[-1]), b), lambda a, b: square(a) and np.ndim(a) == 2 and np.ndim(b) in (1, 2) and np.shape(b)[0] == np.shape(a)[-1]),
    ("kron2", 2, np.kron, lambda a, b: np.size(a) * np.size(b) <= 64),
    ("searchsorted", 2, lambda a, b: np.searchsorted(np.sort(np.ravel(a)), b).astype(float), None),
    ("digitize", 2, lambda a, b: np.digitize(b, np.sort(np.ravel(a))).astype(float), None),
    ("isin", 2, lambda a, b: np.isin(a, b).astype(float), None),
    ("polyval2", 2, lambda a, b: np.polyval(np.ravel(a), b), None),
    ("correlate", 2, lambda a, b: np.correlate(np.ravel(a), np.ravel(b), "full"), lambda a, b: np.size(a) > 0 and np.size(b) > 0),
    ("appendflat", 2, np.append, None),
    ("arreq", 2, lambda a, b: np.where(np.array_equal(a, b), a, -a), None),
    ("interp2", 2, lambda a, b: np.interp(b, np.sort(np.ravel(a)), np.sort(np.ravel(a))), lambda a, b: np.size(a) > 0),
    ("lstsq", 2, lambda a, b: np.linalg.lstsq(a, b)[0], lambda a, b: np.ndim(a) == 2 and np.ndim(b) in (1, 2) and np.shape(b)[0] == np.shape(a)[0] and np.shape(a)[0] >= np.shape(a)[1] > 0),
]


def test_fuzz_coverage_programs_match_the_loop(fuzz_long, monkeypatch):
    monkeypatch.setattr(F, "OPS", F.OPS + MORE)

    @F._settings(fuzz_long)
    @given(case=F.cases())
    def run(case):
        steps, args, in_dims, size, out_dim, chunk = case
        F._check(steps, args, in_dims, size, out_dim, chunk)
        F._check_nested(steps, args, in_dims, size)

    run()
