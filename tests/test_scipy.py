"""vmaprt.scipy: the batch-aware SciPy wrappers, against the per-example loop of SciPy itself.

The cases run through the same checks as the registry-wide test in
tests/test_rules.py: random in_dims (unbatched inputs included), physical
layouts, chunking, a batch of 0, and nesting with captured outer values.
The pytest configuration makes a PerformanceWarning an error, so a wrapper
that fell back to its loop would fail here.
"""

import warnings

import numpy as np
import pytest
import scipy.linalg
import scipy.special

import test_rules as harness
import vmaprt
from vmaprt import scipy as vsp

from conftest import LAYOUTS, assert_matches, loop

F, F32, C = np.float64, np.float32, np.complex128
Case = harness.Case


def _spd(a):
    return a @ np.swapaxes(a, -1, -2).conj() + 3 * np.eye(a.shape[-1])


CASES = [
    Case(vsp.logsumexp, lambda x, b: (vsp.logsumexp(x), vsp.logsumexp(x, axis=1), vsp.logsumexp(x, axis=0, keepdims=True), vsp.logsumexp(x, b=np.abs(b)), *vsp.logsumexp(x, axis=-1, b=b, return_sign=True)), [(3, 4), (4,)], (F, F32), id="logsumexp"),
    Case((vsp.softmax, vsp.log_softmax), lambda x: (vsp.softmax(x), vsp.softmax(x, axis=1), vsp.log_softmax(x, axis=0), vsp.log_softmax(x)), [(3, 4)], (F, F32), id="softmax"),
    # per-example vectors: the compiled row kernels
    Case((vsp.logsumexp, vsp.softmax), lambda x: (vsp.logsumexp(x), vsp.softmax(x), vsp.logsumexp(x, axis=-1), vsp.softmax(x, axis=0)), [(7,)], (F, F32), id="row_kernels"),
    Case(vsp.solve, lambda a, b: (vsp.solve(a + 3 * np.eye(3), b), vsp.solve(a + 3 * np.eye(3), b[:, None] * b), vsp.solve(_spd(a), b, assume_a="pos"), vsp.solve(a + 3 * np.eye(3), b, transposed=True)), [(3, 3), (3,)], (F, F32), id="solve"),
    Case(vsp.solve_triangular, lambda a, b: (vsp.solve_triangular(a + 3 * np.eye(3), b), vsp.solve_triangular(a + 3 * np.eye(3), b, lower=True, trans=1), vsp.solve_triangular(a, b[:, None] * b, unit_diagonal=True, trans="C"), vsp.solve_triangular(a + 3 * np.eye(3), b, lower=True, trans=2)), [(3, 3), (3,)], (F, C), id="solve_triangular"),
    Case((vsp.cho_factor, vsp.cho_solve), lambda a, b: (vsp.cho_factor(_spd(a))[0], vsp.cho_factor(_spd(a), lower=True)[0], vsp.cho_solve(vsp.cho_factor(_spd(a)), b), vsp.cho_solve(vsp.cho_factor(_spd(a), lower=True), b[:, None] * b)), [(3, 3), (3,)], (F, C), id="cho"),
    Case((vsp.lu_factor, vsp.lu_solve), lambda a, b: (*vsp.lu_factor(a), vsp.lu_solve(vsp.lu_factor(a), b), vsp.lu_solve(vsp.lu_factor(a), b, trans=1), vsp.lu_solve(vsp.lu_factor(a), b[:, None] * b, trans=2)), [(4, 4), (4,)], (F, F32, C), id="lu"),
    Case(vsp.lu_factor, lambda a: vsp.lu_factor(a), [(3, 5)], (F,), id="lu_wide"),
    Case(vsp.expm, lambda a: (vsp.expm(a), vsp.expm(4 * a), vsp.expm(a[:1, :1]), vsp.expm(a * 0.01)), [(3, 3)], (F, F32, C), id="expm"),
]


@pytest.mark.parametrize("case", CASES, ids=repr)
@pytest.mark.parametrize("layout_kind", LAYOUTS)
def test_wrapper_matches_loop(case, layout_kind):
    harness.test_rule_matches_loop(case, layout_kind)


@pytest.mark.parametrize("case", CASES, ids=repr)
def test_wrapper_chunked_matches_loop(case):
    harness.test_rule_chunked_matches_loop(case)


@pytest.mark.parametrize("case", CASES, ids=repr)
def test_wrapper_size_zero(case):
    harness.test_rule_size_zero(case)


@pytest.mark.parametrize("case", CASES, ids=repr)
def test_wrapper_nested_with_captured_outer_values(case):
    harness.test_rule_nested_with_captured_outer_values(case)


def test_every_wrapper_has_a_rule_and_a_case():
    covered = {f for case in CASES for f in case.funcs}
    for name in vsp.__all__:
        wrapper = getattr(vsp, name)
        assert vmaprt.has_batch_rule(wrapper), name
        assert wrapper in covered, name


def test_outside_vmap_the_wrappers_are_scipy(rng):
    a = rng.standard_normal((4, 4)) + 4 * np.eye(4)
    b = rng.standard_normal(4)
    assert np.array_equal(vsp.expm(a), scipy.linalg.expm(a))
    assert np.array_equal(vsp.lu_solve(vsp.lu_factor(a), b), scipy.linalg.lu_solve(scipy.linalg.lu_factor(a), b))
    assert np.array_equal(vsp.logsumexp(b), scipy.special.logsumexp(b))
    assert vsp.solve.__wrapped__ is scipy.linalg.solve


def test_factors_from_scipy_outside_vmap_solve_inside(rng):
    """lu_factor/cho_factor results computed by SciPy itself feed the batched solves."""
    a = rng.standard_normal((5, 3, 3)) + 3 * np.eye(3)
    b = rng.standard_normal((5, 3))
    lu = [scipy.linalg.lu_factor(m) for m in a]
    got = vmaprt.vmap(lambda f, p, v: vsp.lu_solve((f, p), v))(np.stack([f for f, _ in lu]), np.stack([p for _, p in lu]), b)
    assert_matches(got, np.stack([scipy.linalg.lu_solve(f, v) for f, v in zip(lu, b)]))


@pytest.mark.parametrize("trans", [0, 1, 2])
def test_lu_solve_of_a_singular_factor_gives_scipys_infs(rng, trans):
    """LAPACK's getrs divides by the zero pivot instead of refusing: inf and NaN."""
    a = rng.standard_normal((4, 3, 3))
    a[0, :, 1] = 0.0
    a[1, 2] = 0.0
    b = rng.standard_normal((4, 3, 2))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", scipy.linalg.LinAlgWarning)
        got = vmaprt.vmap(lambda m, v: vsp.lu_solve(vsp.lu_factor(m), v, trans=trans))(a, b)
        want = np.stack([scipy.linalg.lu_solve(scipy.linalg.lu_factor(m), v, trans=trans) for m, v in zip(a, b)])
    np.testing.assert_allclose(got, want, rtol=1e-10, equal_nan=True)
    assert not np.isfinite(got[:2]).all()


def test_lu_factor_pivots_as_lapack_on_ties(rng):
    """Integer matrices tie often; the column is scaled by the pivot's reciprocal, as in
    LAPACK, so that the next pivot sees the same numbers (division differed in ~0.5% of
    4x4 matrices).  Where the order of the update's rounding still differs from
    OpenBLAS's, the pivot may too, and the factors are equally valid."""
    a = rng.integers(-5, 6, (2000, 4, 4)).astype(float)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", scipy.linalg.LinAlgWarning)
        lu, piv = vmaprt.vmap(vsp.lu_factor)(a)
        want = [scipy.linalg.lu_factor(m)[1] for m in a]
    same = np.mean([np.array_equal(p, w) for p, w in zip(piv, want)])
    assert same >= 0.997
    for m, f, p in zip(a, lu, piv):  # P L U == A for every example
        perm = np.arange(4)
        for k, pk in enumerate(p):
            perm[[k, pk]] = perm[[pk, k]]
        np.testing.assert_allclose((np.tril(f, -1) + np.eye(4)) @ np.triu(f), m[perm], atol=1e-12)


def test_check_finite(rng):
    a = rng.standard_normal((2, 3, 3))
    a[1, 0, 0] = np.nan
    with pytest.raises(ValueError, match="infs or NaNs"):
        vmaprt.vmap(vsp.lu_factor)(a)
    got = vmaprt.vmap(lambda m: vsp.lu_factor(m, check_finite=False)[1])(a[:1])
    assert_matches(got, scipy.linalg.lu_factor(a[0])[1][None])


@pytest.mark.parametrize("name", ["expit", "logit", "erf", "erfc", "gammaln", "digamma", "ndtr", "ndtri", "log_ndtr", "i0", "i1e", "jv", "yv", "kv", "xlogy", "xlog1py", "entr", "rel_entr", "betaln", "gammainc"])
def test_scipy_special_ufuncs_work_directly(name):
    """scipy.special's ufuncs need no wrapper: they dispatch like NumPy's."""
    f = getattr(scipy.special, name)
    rng = np.random.default_rng(5)
    args = [np.abs(rng.standard_normal((4, 3))) * 0.4 + 0.1 for _ in range(f.nin)]
    in_dims = (0,) + (None,) * (f.nin - 1)
    args[1:] = [a[0] for a in args[1:]]
    assert vmaprt.has_batch_rule(f)
    assert_matches(vmaprt.vmap(f, in_dims=in_dims)(*args), loop(f, args, in_dims))


@pytest.mark.parametrize("in_dim", [0, 1, 2])
@pytest.mark.parametrize("stored", ["view", "copy"])
def test_softmax_and_logsumexp_over_the_last_axis_of_larger_examples_run_as_rows(monkeypatch, in_dim, stored):
    # [B, 5, 4] examples of [5, 4], over axis -1: the compiled kernels on [B * 5, 4] rows when they merge
    from vmaprt import _core

    seen = []
    for name in ("batched_softmax", "batched_logsumexp"):
        real = getattr(_core, name)
        monkeypatch.setattr(_core, name, lambda x, b, real=real: seen.append(x.shape) or real(x, b))
    x = np.random.default_rng(3).standard_normal((6, 5, 4))
    moved = np.moveaxis(x, 0, in_dim)
    moved = moved if stored == "view" else np.ascontiguousarray(moved)
    for fn, ref in [(vsp.softmax, scipy.special.softmax), (vsp.logsumexp, scipy.special.logsumexp)]:
        got = vmaprt.vmap(lambda a: fn(a, axis=-1), in_dims=in_dim)(moved)
        np.testing.assert_allclose(got, np.stack([ref(e, axis=-1) for e in x]), rtol=1e-13)
    merges = stored == "view" or in_dim == 0  # a C copy with the batch inside does not merge: SciPy runs
    assert seen == ([(30, 4)] * 2 if merges else [])
