"""Every registered batch rule against the per-example loop.

Each case is a per-example function, the per-example shapes of its inputs and
the dtypes to try.  For every case the same test draws batch sizes, in_dims
(some inputs unbatched), out_dims and physical layouts (C, F, transposed,
stepped, reversed, zero-stride broadcast), and compares ``vmap(f)`` with
``np.stack([f(x[i]) for i in range(n)])``; size-0 batches and nested vmap
with captured outer values are checked too.  ``test_every_rule_has_a_case``
keeps the table complete: a new rule needs a case here.
"""

import inspect
import warnings
import zlib

import numpy as np
import pytest
import scipy.special

import vmaprt
from vmaprt import _registry
from vmaprt._registry import UFUNC_METHODS

from conftest import LAYOUTS, assert_like_loop, assert_matches, layout, loop, random_array

F, C, I, B = np.float64, np.complex128, np.int64, np.bool_
F32 = np.float32


class Case:
    def __init__(self, funcs, fn, shapes, dtypes=(F,), unbatched=None, id=None, capture=True):
        self.funcs = funcs if isinstance(funcs, tuple) else (funcs,)
        self.fn = fn
        self.shapes = shapes
        self.dtypes = dtypes
        # Which inputs may be left unbatched (default: any, but not all at once).
        self.unbatched = unbatched if unbatched is not None else [True] * len(shapes)
        self.id = id or getattr(self.funcs[0], "__name__", str(self.funcs[0]))
        # False for in-place cases: an inner vmap writing into a value batched only
        # by the outer one is refused by design (tests/test_batched.py checks that).
        self.capture = capture

    def __repr__(self):
        return self.id


def c(*a, **k):
    return Case(*a, **k)


mask34 = np.array([[True, False, True, True]] * 3)

CASES = [
    # ufuncs, __call__: broadcasting between batched and unbatched operands of different ranks
    c(np.add, np.add, [(3, 4), (4,)], (F, F32, C, I)),
    c(np.add, np.add, [(4,), (3, 4)], (F, I), id="add_rank_up"),
    c(np.add, lambda x: x + 1.5, [(2, 3)], (F, F32, I), id="add_scalar"),
    c(np.multiply, lambda x, y: x * y, [(2, 3), ()], (F, C)),
    c(np.subtract, lambda x, y: y - x, [(3,), (2, 3)]),
    c(np.true_divide, lambda x, y: x / (np.abs(y) + 1), [(3,), (3,)], (F, F32, I)),
    c(np.floor_divide, lambda x, y: x // (np.abs(y) + 1), [(4,), (4,)], (I, F)),
    c(np.power, lambda x: np.abs(x) ** 1.5, [(3, 2)], (F, F32)),
    c(np.sin, np.sin, [(2, 3)], (F, F32, C)),
    c(np.exp, lambda x: np.sin(x) * np.exp(-x**2) + 0.5 * x, [(5,)], (F, F32)),
    c(np.arctan2, np.arctan2, [(3,), (3,)]),
    c(np.maximum, np.maximum, [(2, 3), (3,)], (F, I)),
    c(np.logical_and, np.logical_and, [(4,), (4,)], (B,)),
    c(np.greater, lambda x, y: x > y, [(4,), ()], (F, I)),
    c(np.isnan, np.isnan, [(3,)]),
    c(np.conjugate, np.conj, [(3,)], (C,)),
    c(np.negative, lambda x: -x, [(2, 2)], (F, I)),
    c(np.divmod, np.divmod, [(3,), (3,)], (F,)),
    c(np.modf, np.modf, [(4,)]),
    c(scipy.special.expit, scipy.special.expit, [(3,)], (F, F32)),
    c(scipy.special.gammaln, lambda x: scipy.special.gammaln(np.abs(x) + 0.5), [(3,)]),
    c(scipy.special.xlogy, lambda x, y: scipy.special.xlogy(x, np.abs(y)), [(3,), (3,)]),
    # gufuncs
    c(np.matmul, np.matmul, [(3, 4), (4, 2)], (F, F32, C, I)),
    c(np.matmul, np.matmul, [(4,), (4, 2)], (F,), id="matmul_vec_mat"),
    c(np.matmul, np.matmul, [(3, 4), (4,)], (F,), id="matmul_mat_vec"),
    c(np.matmul, np.matmul, [(4,), (4,)], (F, C), id="matmul_vec_vec"),
    c(np.matmul, np.matmul, [(2, 3, 4), (4, 2)], (F,), id="matmul_stack"),
    c(np.matmul, lambda x, w: np.maximum(x @ w, 0), [(6,), (6, 3)], (F, F32), id="relu_xW"),
    c(np.vecdot, np.vecdot, [(3, 4), (4,)], (F, C)),
    c(np.matvec, np.matvec, [(3, 4), (4,)]),
    c(np.vecmat, np.vecmat, [(3,), (3, 2)]),
    c((np.matmul, np.dot), lambda w, v: (w @ v, np.dot(w, v), np.matmul(w, v.astype(w.dtype))), [(3, 4), (4,)], (F, F32, C, I), id="matrix_times_vectors"),
    c(np.vecdot, lambda a, b: (np.vecdot(a, b, axis=0), np.vecdot(a, b, axis=-1, keepdims=True)), [(3, 4), (3, 4)], (F, C), id="gufunc_axis"),
    c(np.matmul, lambda a, b: np.matmul(a, b, axes=[(1, 0), (-1, -2), (0, 1)]), [(4, 3), (5, 4)], id="gufunc_axes"),
    c(np.matvec, lambda a, x: np.matvec(a, x, axes=[(1, 0), (0,), (0,)]), [(4, 3), (4,)], id="gufunc_axes_matvec"),
    # ufunc methods
    c(np.add.reduce, lambda x: np.add.reduce(x), [(3, 4)], (F, I), id="reduce_axis0"),
    c(np.add.reduce, lambda x: np.add.reduce(x, axis=None), [(3, 4)], id="reduce_none"),
    c(np.add.reduce, lambda x: np.add.reduce(x, axis=(0, 1), keepdims=True), [(3, 4)], id="reduce_keep"),
    c(np.add.reduce, lambda x: np.add.reduce(x, axis=-1, where=mask34), [(3, 4)], id="reduce_where"),
    c(np.add.reduce, lambda x, m: np.add.reduce(x, axis=1, where=m > 0), [(3, 4), (4,)], id="reduce_bwhere"),
    c(np.maximum.reduce, lambda x: np.maximum.reduce(x, axis=1, initial=-1.0), [(3, 4)], id="max_reduce"),
    c(np.multiply.accumulate, lambda x: np.multiply.accumulate(x, axis=-1), [(2, 3)], id="accumulate"),
    c(np.add.reduceat, lambda x: np.add.reduceat(x, [0, 2, 3], axis=1), [(2, 5)], id="reduceat"),
    c(np.multiply.outer, np.multiply.outer, [(3,), (2, 2)], (F, I), id="ufunc_outer"),
    c(np.add.at, lambda x, i: _at(x, i), [(5,), (3,)], (F,), unbatched=[False, True], id="ufunc_at", capture=False),
    c(np.add.at, lambda x, i: _at_tuple(x, i), [(4, 5), (3,)], (F,), unbatched=[False, True], id="ufunc_at_tuple", capture=False),
    c(np.add.outer, lambda a, b, m: _outer_into(a, b, m), [(3,), (2,), (3, 2)], (F,), id="ufunc_outer_out_where", capture=False),
    # reductions
    c((np.sum, np.mean, np.prod), lambda x: (np.sum(x), x.mean(axis=0), np.prod(x, axis=-1, keepdims=True)), [(3, 4)], (F, F32, C)),
    c((np.sum, np.max, np.mean), lambda x, m: (np.sum(x, where=m > 0), x.max(axis=0, where=m > 0, initial=-9), np.mean(x, axis=1, where=x > m)), [(3, 4), (4,)], id="masked_reductions"),
    c((np.min, np.max, np.amin, np.amax, np.ptp), lambda x: (x.min(1), np.max(x, axis=(0, 1)), np.amin(x, 0), np.amax(x), np.ptp(x, 1)), [(3, 4)], (F, I)),
    c((np.any, np.all, np.count_nonzero), lambda x: (np.any(x > 0, axis=0), (x > -1).all(), np.count_nonzero(x > 0, axis=1)), [(3, 4)], (F, I)),
    c((np.std, np.var), lambda x: (x.std(), np.var(x, axis=1, ddof=1)), [(3, 4)], (F, F32, C)),
    c((np.std, np.var, np.nanstd), lambda x, m: (np.std(x, mean=x.mean(keepdims=True)), np.var(x, axis=1, mean=m[:, None]), np.nanstd(x, axis=0, ddof=1, mean=np.nanmean(x, axis=0, keepdims=True))), [(3, 4), (3,)], id="std_given_mean"),
    # per-example vectors: the compiled reductions
    c((np.sum, np.mean, np.prod, np.max, np.min, np.var, np.std), lambda x: (x.sum(), np.mean(x, 0), x.prod(-1), x.max(), np.min(x), x.var(), np.std(x, ddof=1)), [(6,)], (F, F32), id="vector_reductions"),
    c((np.median,), lambda x: (np.median(x), np.median(x, axis=1)), [(3, 5)]),
    c((np.argmin, np.argmax), lambda x: (x.argmin(), np.argmax(x, axis=1), np.argmax(x, keepdims=True)), [(3, 4)], (F, I)),
    c((np.cumsum, np.cumprod), lambda x: (x.cumsum(), np.cumprod(x, axis=0)), [(3, 4)], (F, I)),
    c((np.nansum, np.nanmean, np.nanprod, np.nanmin, np.nanmax, np.nanstd, np.nanvar, np.nanmedian),
      lambda x: tuple(f(np.where(x > 1, np.nan, x), axis=1) for f in (np.nansum, np.nanmean, np.nanprod, np.nanmin, np.nanmax, np.nanstd, np.nanvar, np.nanmedian)),
      [(3, 4)], id="nan_reductions"),
    c((np.nanargmin, np.nanargmax, np.nancumsum, np.nancumprod),
      lambda x: (np.nanargmin(x, axis=0), np.nanargmax(x), np.nancumsum(x), np.nancumprod(x, axis=1)), [(3, 4)], id="nan_scans"),
    # products
    c(np.dot, np.dot, [(5,), (5,)], (F, F32, C, I), id="dot_vv"),
    c(np.dot, np.dot, [(3, 5), (5,)], (F, I), id="dot_mv"),
    c(np.dot, np.dot, [(5,), (5, 2)], (F,), id="dot_vm"),
    c(np.dot, np.dot, [(2, 3, 5), (4, 5, 2)], (F,), id="dot_nd"),
    c(np.dot, np.dot, [(), (3,)], (F,), id="dot_scalar"),
    c(np.vdot, np.vdot, [(2, 3), (6,)], (F, F32, C)),
    c(np.inner, np.inner, [(5,), (5,)], (F, F32, C), id="inner_vv"),
    c(np.inner, np.inner, [(2, 5), (3, 5)], (F, I), id="inner_nd"),
    c(np.outer, np.outer, [(3,), (2, 2)], (F, C)),
    c(np.einsum, lambda x, y: np.einsum("ij,jk->ik", x, y), [(2, 3), (3, 4)], (F, C), id="einsum_mm"),
    c(np.einsum, lambda x: np.einsum("ii->i", x), [(3, 3)], id="einsum_diag"),
    c(np.einsum, lambda x, y: np.einsum("...i,...i", x, y), [(2, 3), (3,)], id="einsum_implicit_ellipsis"),
    c(np.einsum, lambda x, y: np.einsum("ij,j", x, y), [(2, 3), (3,)], id="einsum_implicit"),
    c(np.einsum, lambda x: np.einsum("ij->", x), [(2, 3)], id="einsum_sum"),
    c(np.einsum, lambda x, y: (np.einsum(x, [0, 1], y, [1, 2]), np.einsum(x, [0, 1], y, [1, 2], [2, 0]), np.einsum(x, [Ellipsis, 1], [1, Ellipsis])), [(2, 3), (3, 4)], id="einsum_interleaved"),
    c(np.einsum, lambda x, y: (np.einsum("iij->j", x), np.einsum("i...,i...->...", y, y), np.einsum("ab,bc,cd->ad", y, y.T, y, optimize=True)), [(2, 2, 3), (3, 4)], id="einsum_repeated_optimize"),
    c(np.tensordot, np.tensordot, [(2, 3, 4), (3, 4, 2)], (F,), id="tensordot_2"),
    c(np.tensordot, lambda x, y: np.tensordot(x, y, axes=([0, 2], [2, 0])), [(4, 3, 2), (2, 5, 4)], id="tensordot_pairs"),
    c(np.tensordot, lambda x, y: np.tensordot(x, y, axes=0), [(2,), (3,)], id="tensordot_0"),
    # shape ops
    c(np.reshape, lambda x: x.reshape(6, -1), [(3, 4)], (F, I)),
    c(np.reshape, lambda x: np.reshape(x, (2, 6), order="F"), [(3, 4)], id="reshape_F"),
    c(np.ravel, lambda x: (np.ravel(x), x.flatten(), np.ravel(x, order="F")), [(3, 4)]),
    c(np.transpose, lambda x: (x.T, np.transpose(x, (1, 2, 0)), x.transpose(2, 0, 1)), [(2, 3, 4)]),
    c((np.swapaxes, np.matrix_transpose), lambda x: (np.swapaxes(x, 0, -1), x.mT), [(2, 3, 4)]),
    c(np.moveaxis, lambda x: (np.moveaxis(x, 0, -1), np.moveaxis(x, [0, 1], [2, 0])), [(2, 3, 4)]),
    c(np.expand_dims, lambda x: (np.expand_dims(x, 0), np.expand_dims(x, (-1, 1))), [(2, 3)]),
    c(np.squeeze, lambda x: (np.squeeze(x), np.squeeze(x, axis=2)), [(1, 3, 1)]),
    c(np.concatenate, lambda x, y: (np.concatenate([x, y[:1]]), np.concatenate([y, x], axis=1), np.concatenate((x, y), axis=None)), [(2, 3), (2, 3)]),
    c(np.stack, lambda x, y: (np.stack([x, y]), np.stack([y, x], axis=-1)), [(2, 3), (2, 3)]),
    c(np.broadcast_to, lambda x: np.broadcast_to(x, (2, 3, 4)), [(3, 1)]),
    c(np.flip, lambda x: (np.flip(x), np.flip(x, 1)), [(2, 3)]),
    c((np.atleast_1d, np.atleast_2d, np.atleast_3d), lambda x: (np.atleast_1d(x), np.atleast_2d(x), np.atleast_3d(x)), [(3,)]),
    c((np.atleast_2d,), lambda x, y: np.atleast_2d(x, y), [(), (2, 3)], id="atleast_many"),
    c((np.hstack, np.vstack, np.dstack), lambda x, y: (np.hstack([x, y]), np.vstack((x, y)), np.dstack([x, y])), [(2, 3), (2, 3)]),
    c((np.shape, np.ndim, np.size), lambda x: x + np.ndim(x) + np.size(x) + np.shape(x)[0], [(2, 3)], id="metadata"),
    c((np.iscomplexobj, np.isrealobj), lambda x: x * np.iscomplexobj(x) + np.isrealobj(x), [(2,)], (F, C), id="dtype_predicates"),
    # elementwise functions
    c(np.where, lambda c, x, y: np.where(c > 0, x, y), [(3,), (2, 3), ()]),
    c(np.clip, lambda x, lo: (np.clip(x, lo, 1.0), x.clip(-0.5), np.clip(x, a_min=lo, a_max=None), np.clip(x, max=0.5)), [(2, 3), (3,)], (F, F32)),
    c(np.isclose, lambda x, y: np.isclose(x, y, atol=0.5), [(3,), (3,)]),
    c((np.nan_to_num, np.sinc, np.i0, np.fix), lambda x: (np.nan_to_num(np.log(x)), np.sinc(x), np.i0(x), np.fix(x)), [(4,)]),
    c((np.angle, np.real, np.imag, np.iscomplex, np.isreal), lambda z: (np.angle(z), np.real(z), z.imag, np.iscomplex(z), np.isreal(z)), [(3,)], (C,)),
    # The dtype depends on the data (real if every imaginary part is tiny), so a batch of 0 is not compared.
    c(np.real_if_close, lambda z: np.real_if_close(z + 0 * np.real(z) * 1j), [(3,)], (C,), id="real_if_close"),
    c(np.real_if_close, lambda z: np.real_if_close(np.real(z) + 0j), [(3,)], (C,), id="real_if_close_real"),
    c((np.round, np.around, np.copy), lambda x: (np.round(x, 1), np.around(x), x.round(2), np.copy(x), x.copy()), [(3,)], (F, F32)),
    # creation
    c((np.zeros_like, np.ones_like), lambda x: (np.zeros_like(x), np.ones_like(x, dtype=np.int32), np.zeros_like(x, shape=(2,))), [(2, 3)], (F, I)),
    c(np.empty_like, lambda x: np.empty_like(x, shape=(4,)).shape + np.empty_like(x).shape, [(2, 3)], id="empty_like_shape"),
    # NumPy dispatches full_like on its first argument only, so that one must be batched.
    c(np.full_like, lambda x, v: (np.full_like(x, 7), np.full_like(x, v), np.full_like(x, v, shape=(2, 2))), [(2, 3), ()], (F, I), unbatched=[False, True]),
    c(np.copyto, lambda x, y: _copyto(x, y), [(2, 3), (3,)], unbatched=[True, True]),
    # indexing functions (x[key] itself is tested in tests/test_indexing.py)
    c(np.take, lambda x, i: (np.take(x, (np.abs(i) * 2).astype(int) % 4, axis=1), x.take([0, -1])), [(3, 4), (2,)], unbatched=[False, True]),
]


la = np.linalg
_poly = np.polynomial.polynomial
DAYS = np.datetime64("2024-01-01")

# The coverage families (vmaprt/_rules/linalg.py, sorting.py, statistics.py, polynomial.py,
# metadata.py, and the additions to shape.py, indexing.py, elementwise.py, reductions.py,
# creation.py).
CASES += [
    # np.linalg: stacks of matrices
    c((la.inv, la.det, la.slogdet), lambda a: (la.inv(a), la.det(a), *la.slogdet(a)), [(3, 3)], (F, F32, C), id="inv_det"),
    c(la.cholesky, lambda a: (la.cholesky(a @ a.mT.conj() + 3 * np.eye(3)), la.cholesky(a @ a.mT.conj() + 3 * np.eye(3), upper=True)), [(3, 3)], (F, C)),
    c((la.eigh, la.eigvalsh), lambda a: (*la.eigh(a + a.mT), la.eigvalsh(a + a.mT, UPLO="U")), [(3, 3)], (F, F32)),
    c((la.eig, la.eigvals), lambda a: (*la.eig(a @ a.mT), la.eigvals(a @ a.mT)), [(3, 3)], (F,)),
    c((la.eig, la.eigvals), lambda a: (*la.eig(a), la.eigvals(a)), [(3, 3)], (C,), id="eig_complex"),
    c((la.svd, la.svdvals), lambda a: (*la.svd(a), *la.svd(a, full_matrices=False), la.svd(a, compute_uv=False), la.svdvals(a)), [(4, 3)], (F, C)),
    c(la.svd, lambda a: tuple(la.svd(a + a.mT, hermitian=True)), [(3, 3)], (F,), id="svd_hermitian"),
    c(la.qr, lambda a: (*la.qr(a), *la.qr(a, mode="complete"), la.qr(a, mode="r"), *la.qr(a, mode="raw")), [(4, 3)], (F, C)),
    c((la.pinv, la.matrix_power, la.cond), lambda a: (la.pinv(a), la.pinv(a + a.mT, hermitian=True), la.matrix_power(a, 3), la.matrix_power(a, -2), la.cond(a), la.cond(a, "fro")), [(3, 3)]),
    c(la.matrix_rank, lambda a, v: (la.matrix_rank(a), la.matrix_rank(a[:, :1] * a[:1]), la.matrix_rank(v), la.matrix_rank(a, tol=0.5)), [(3, 4), (4,)], (F, I)),
    # NumPy dispatches matrix_rank on A alone, so A must be batched for a batched tol to be seen.
    c(la.matrix_rank, lambda a, t: la.matrix_rank(a, np.abs(t)), [(3, 4), ()], unbatched=[False, True], id="matrix_rank_tol"),
    c(la.norm, lambda v, m: (la.norm(v), la.norm(m), la.norm(v, 1), la.norm(v, np.inf), la.norm(v, -np.inf), la.norm(v, 0), la.norm(v, 3), la.norm(v, -1)), [(4,), (3, 4)], (F, F32, C, I), id="norm_vector"),
    c(la.norm, lambda m: tuple(la.norm(m, o) for o in (None, "fro", "nuc", 1, -1, 2, -2, np.inf, -np.inf)), [(3, 4)], (F, C), id="norm_matrix"),
    c(la.norm, lambda t: (la.norm(t), la.norm(t, axis=1), la.norm(t, 1, axis=(2, 0)), la.norm(t, axis=-1, keepdims=True), la.norm(t, keepdims=True), la.norm(t, "nuc", (0, 1), True)), [(2, 3, 4)], id="norm_axis"),
    c((la.vector_norm, la.matrix_norm), lambda t: (la.vector_norm(t), la.vector_norm(t, ord=1, axis=(0, 2)), la.vector_norm(t, axis=1, keepdims=True), la.vector_norm(t, keepdims=True), la.matrix_norm(t), la.matrix_norm(t, ord=np.inf, keepdims=True)), [(2, 3, 4)], (F, C)),
    c(la.solve, lambda a, b: (la.solve(a + 4 * np.eye(3), b), la.solve(a + 4 * np.eye(3), b[:, None] * b)), [(3, 3), (3,)], (F, F32, C), id="solve_vector"),
    c(la.solve, lambda a, b: la.solve(a + 4 * np.eye(3), b), [(3, 3), (3, 2)], (F,), id="solve_matrix"),
    c(la.solve, lambda a, b: la.solve(a + 4 * np.eye(3), b), [(2, 3, 3), (3,)], (F,), id="solve_stack"),
    c(la.solve, lambda a, b: la.solve(a + 4 * np.eye(3), b), [(3, 3), (2, 3, 2)], (F,), id="solve_stack_b"),
    c(la.lstsq, lambda a, b: (*la.lstsq(a, b), *la.lstsq(a, b[:, None] * b[:3])), [(5, 3), (5,)], (F, C), id="lstsq"),
    c(la.lstsq, lambda a, b: la.lstsq(a, b, rcond=None)[:3], [(2, 4), (2,)], (F,), id="lstsq_wide"),
    c(la.multi_dot, lambda a, b, v: (la.multi_dot([a, b, a]), la.multi_dot([v, a, b, a, b]), la.multi_dot([a, b, a, v]), la.multi_dot([v, a, b, v]), la.multi_dot([a, b])), [(3, 3), (3, 3), (3,)]),
    c((la.tensorinv, la.tensorsolve), lambda a, b: (la.tensorinv(a + np.eye(6).reshape(2, 3, 6)), la.tensorsolve(a + np.eye(6).reshape(2, 3, 6), b)), [(2, 3, 6), (2, 3)]),
    c((la.matmul, la.tensordot, la.matrix_transpose, la.diagonal, la.trace, la.vecdot, la.outer),
      lambda a, b: (la.matmul(a, b), la.tensordot(a, b, axes=1), la.matrix_transpose(a), la.diagonal(a, offset=1), la.trace(b), la.vecdot(a, b.mT), la.vecdot(a, a, axis=0), la.outer(a[0], b[:, 0])), [(3, 4), (4, 3)], (F, C), id="linalg_array_api"),
    c((np.cross, la.cross), lambda a, b: (np.cross(a, b), np.cross(a.T, b, axisa=0), np.cross(a, b, axisc=0), la.cross(a, b)), [(2, 3), (2, 3)], (F, I)),
    c(np.cross, lambda a, b: np.cross(a, b, axis=0), [(3, 2), (3,)], id="cross_axis"),
    c(np.kron, lambda a, b: (np.kron(a, b), np.kron(a[0], b), np.kron(a, 2.0), np.kron(b, a[:, :, None])), [(2, 3), (3, 2)], (F, I)),
    c((np.trace, np.diagonal), lambda a: (np.trace(a), np.trace(a, 1, 2, 0), a.trace(dtype=np.float32), np.diagonal(a), a.diagonal(-1, 2, 1)), [(3, 4, 4)], (F, I)),
    # ordering and search
    c((np.sort, np.argsort), lambda x: (np.sort(x), np.sort(x, axis=0), np.sort(x, axis=None), x.argsort(kind="stable"), np.argsort(x, axis=None, kind="stable")), [(3, 4)], (F, F32, I)),
    c((np.partition, np.argpartition), lambda x: (np.partition(x, 2), np.partition(x, (0, 3), axis=0), np.argpartition(x, 1, axis=None), x.partition(1) if False else np.argpartition(x, 2)[..., :1]), [(4, 5)], (F,)),
    c(np.sort_complex, np.sort_complex, [(2, 5)], (C, F)),
    c(np.lexsort, lambda a, b: (np.lexsort((a, b)), np.lexsort(np.stack([a, b]), axis=0)), [(3, 4), (3, 4)], (I,)),
    c(np.searchsorted, lambda a, v: (np.searchsorted(np.sort(a), v), np.searchsorted(np.sort(a), v, side="right"), np.searchsorted(np.sort(a), v[0]), np.searchsorted(a, v, sorter=np.argsort(a, kind="stable"))), [(6,), (2, 3)], (F, I)),
    c(np.searchsorted, lambda a, v: np.searchsorted(np.sort(a), np.where(v > 1, np.nan, v)), [(5,), (7,)], id="searchsorted_nan"),
    c(np.digitize, lambda x, b: (np.digitize(x, np.sort(b)), np.digitize(x, np.sort(b), right=True), np.digitize(x, np.sort(b)[::-1]), np.digitize(x, np.sort(b)[::-1], True)), [(2, 5), (4,)], (F, I)),
    c(np.isin, lambda e, t: (np.isin(e, t), np.isin(e, t, invert=True), np.isin(e, t[:0])), [(2, 4), (5,)], (I,)),
    # statistics
    c((np.quantile, np.percentile), lambda x: (np.quantile(x, 0.3), np.quantile(x, [0.1, 0.9], axis=1), np.percentile(x, 40, axis=0, keepdims=True), np.quantile(x, 0.5, method="nearest"), np.percentile(x, [[10, 20]], axis=(0, 1))), [(3, 4)], (F, F32)),
    c((np.nanquantile, np.nanpercentile), lambda x: (np.nanquantile(np.where(x > 1, np.nan, x), 0.3, axis=1), np.nanpercentile(np.where(x > 1, np.nan, x), [5, 50])), [(3, 4)]),
    c(np.quantile, lambda x, w: np.quantile(x, 0.4, axis=1, weights=np.abs(w) + 0.1, method="inverted_cdf"), [(3, 4), (4,)], unbatched=[False, True], id="quantile_weights"),
    c(np.average, lambda x, w: (np.average(x), np.average(x, axis=1, weights=np.abs(w) + 0.1), np.average(x, weights=np.abs(x) + 1), *np.average(x, 0, np.abs(x) + 1, returned=True), np.average(x, axis=1, keepdims=True)), [(3, 4), (4,)], (F, I)),
    c((np.cov, np.corrcoef), lambda x, y: (np.cov(x), np.cov(x, y), np.cov(x, rowvar=False, bias=True), np.cov(x[0], ddof=0), np.corrcoef(x), np.corrcoef(x, y), np.corrcoef(x[0], y[0])), [(3, 5), (2, 5)], (F, C)),
    c(np.cov, lambda x, f, a: (np.cov(x, fweights=np.abs(f).astype(np.int64) + 1), np.cov(x, aweights=np.abs(a) + 0.5), np.cov(x, fweights=np.abs(f).astype(np.int64) + 1, aweights=np.abs(a) + 0.5, ddof=2)), [(3, 5), (5,), (5,)], id="cov_weights"),
    c(np.histogram, lambda x: (*np.histogram(x), *np.histogram(x, 4, range=(-1, 2)), *np.histogram(x, [-1, 0, 0.5, 3]), *np.histogram(x, 3, density=True)), [(12,)], (F, F32, I)),
    c(np.histogram, lambda x, w: (*np.histogram(x, 5, weights=w), *np.histogram(x, [-2, 0, 1], weights=w, density=True)), [(2, 6), (2, 6)], id="histogram_weights"),
    c(np.histogram, lambda x, e: np.histogram(x, np.sort(e)), [(10,), (4,)], id="histogram_edges"),
    c(np.histogram_bin_edges, lambda x: (np.histogram_bin_edges(x, 5), np.histogram_bin_edges(x, 3, range=(0, 1))), [(8,)], (F, I)),
    c(np.histogram2d, lambda x, y, w: np.histogram2d(x, y, 3, [(-3, 3), (-3, 3)], weights=np.abs(w))[0], [(9,), (9,), (9,)], id="histogram2d_weights"),
    c((np.histogram2d, np.histogramdd), lambda x, y: (*np.histogram2d(x, y, 3), *np.histogram2d(x, y, [2, [-1, 0, 1]], density=True), *np.histogramdd(np.stack([x, y], axis=1), (2, 3), range=[(-1, 1), (-2, 2)])[1]), [(9,), (9,)]),
    c(np.histogramdd, lambda s, w: np.histogramdd(s, 3, weights=w)[0], [(7, 3), (7,)], id="histogramdd_weights"),
    c(np.bincount, lambda x, w: (np.bincount(np.abs(x), minlength=6), np.bincount(np.abs(x), w, minlength=6)), [(8,), (8,)], (I,)),
    # shape
    c((np.split, np.array_split), lambda x: (*np.split(x, 2), *np.split(x, [1, 3], axis=1), *np.array_split(x, 3, axis=-1)), [(4, 5)]),
    c((np.hsplit, np.vsplit, np.dsplit), lambda x: (*np.hsplit(x, 2), *np.vsplit(x, [1]), *np.dsplit(x, 3), *np.hsplit(x[0, 0], 3)), [(2, 4, 3)]),
    c(np.unstack, lambda x: (*np.unstack(x), *np.unstack(x, axis=-1)), [(2, 3)]),
    c((np.tile, np.repeat), lambda x: (np.tile(x, 2), np.tile(x, (2, 1, 3)), np.tile(x, (2, 2)), np.repeat(x, 2), np.repeat(x, [1, 0, 2], axis=1), x.repeat(2, axis=0)), [(2, 3)], (F, I)),
    c(np.roll, lambda x, s: (np.roll(x, 2), np.roll(x, -1, axis=1), np.roll(x, (1, 2), axis=(0, 1)), np.roll(x + 0 * s, (np.abs(s) * 3).astype(np.int64)), np.roll(x + 0 * s, (np.abs(s) * 3).astype(np.int64) - 4, axis=0)), [(3, 4), ()]),
    c((np.rollaxis, np.rot90), lambda x: (np.rollaxis(x, 2), np.rollaxis(x, 0, 3), np.rollaxis(x, -1, 1), np.rot90(x), np.rot90(x, 2), np.rot90(x, -1, axes=(2, 0))), [(2, 3, 4)]),
    c((np.fliplr, np.flipud), lambda x: (np.fliplr(x), np.flipud(x), np.flipud(x[0])), [(2, 3)]),
    c(np.pad, lambda x, v: (np.pad(x, 1, constant_values=v[0] * 1.5), np.pad(x, {1: (2, 0)}, constant_values=x.max())), [(3, 4), (2,)], (F, I), unbatched=[False, True], id="pad_batched_fill"),  # (np.pad dispatches on x alone)
    c(np.pad, lambda x: (np.pad(x, 1), np.pad(x, ((1, 0), (2, 1)), constant_values=((1, 2), (3, 4))), np.pad(x, 2, mode="reflect"), np.pad(x, (1, 2), mode="edge"), np.pad(x, 1, mode="mean", stat_length=((1, 1), (2, 2))), np.pad(x, {1: (1, 1)}), np.pad(x, 1, "wrap")), [(3, 4)], (F, I)),
    c((np.tril, np.triu), lambda x: (np.tril(x), np.triu(x, 1), np.tril(x[0], -1), np.triu(x[None], -1)), [(3, 4)], (F, I)),
    c((np.diag, np.diagflat), lambda x: (np.diag(x), np.diag(x, 1), np.diag(x[0]), np.diag(x[0], -2), np.diagflat(x), np.diagflat(x[:, 0], 1)), [(3, 4)], (F, I)),
    c(np.broadcast_arrays, lambda x, y: np.broadcast_arrays(x, y, 2.0), [(3, 1), (4,)]),
    c(np.resize, lambda x: (np.resize(x, (2, 5)), np.resize(x, 3), np.resize(x[:0], 2)), [(2, 3)], (F, I)),
    c((np.append, np.delete, np.insert), lambda x, y: (np.append(x, y), np.append(x, y[:1], axis=0), np.delete(x, 1), np.delete(x, [0, 2], axis=1), np.delete(x, slice(0, 1), axis=0), np.insert(x, 1, y[0]), np.insert(x, 2, y[:, 0], axis=1), np.insert(x, [0, 2, 2], y[0, 1], axis=1), np.insert(x, 1, y, axis=0), np.insert(x, slice(0, 2), -1.0, axis=1), np.insert(x, [1], y[:, :1], axis=1)), [(2, 3), (2, 3)]),
    c(np.meshgrid, lambda x, y: (*np.meshgrid(x, y), *np.meshgrid(x, y, indexing="ij"), *np.meshgrid(x, y, x[:2], sparse=True), *np.meshgrid(x)), [(3,), (2,)]),
    c(np.lib.stride_tricks.sliding_window_view, lambda x: (np.lib.stride_tricks.sliding_window_view(x, 2, axis=1), np.lib.stride_tricks.sliding_window_view(x, (2, 3)), np.lib.stride_tricks.sliding_window_view(x, (2, 2), axis=(1, 1))), [(3, 5)]),
    c((np.packbits, np.unpackbits), lambda x: (np.packbits(x > 0), np.packbits(x > 0, axis=1), np.unpackbits(np.packbits(x > 0, axis=0), axis=0, count=3), np.unpackbits(np.packbits(x > 0), bitorder="little")), [(3, 10)], (F, I)),
    c((np.apply_along_axis, np.apply_over_axes), lambda x: (np.apply_along_axis(np.cumsum, 1, x), np.apply_along_axis(lambda r: r[:2] * r.sum(), 0, x), np.apply_over_axes(np.sum, x, [0, 2])), [(2, 3, 4)]),
    c((np.block, np.column_stack), lambda x, y: (np.block([[x, y], [y, x]]), np.block([x[0], 1.0]), np.block([[x], [y[0]]]), np.block(x), np.column_stack((x[0], y[0], x[1])), np.column_stack([x, y])), [(2, 3), (2, 3)]),
    # indexing
    c((np.take_along_axis, np.put_along_axis), lambda x, i: (np.take_along_axis(x, np.argsort(x, axis=1), axis=1), np.take_along_axis(x, (np.abs(i) * 2).astype(np.int64) % 3, axis=0), np.take_along_axis(x.ravel(), np.argsort(x.ravel()), axis=None), _put_along(x, i)), [(3, 4), (1, 4)], unbatched=[False, True], capture=False),
    c(np.choose, lambda i, a, b: (np.choose((np.abs(i) * 2).astype(np.int64) % 2, [a, b]), np.choose((np.abs(i) * 2).astype(np.int64), np.stack([a, a * 2, a - b]), mode="clip"), np.choose((np.abs(i) * 2).astype(np.int64) % 2, (a[0], 3.0))), [(2, 3), (2, 3), (3,)]),
    c(np.compress, lambda x: (np.compress([True, False, True], x, axis=1), np.compress([False, True], x), x.compress([1, 0, 1, 1, 0, 1])), [(2, 3)]),
    c((np.put, np.putmask, np.place, np.fill_diagonal), lambda x, v: _writes(x, v), [(3, 3), (4,)], unbatched=[False, True], capture=False),
    c((np.ravel_multi_index, np.unravel_index), lambda i, j: (np.ravel_multi_index(((np.abs(i) * 2).astype(np.int64) % 3, (np.abs(j) * 2).astype(np.int64) % 4), (3, 4)), np.ravel_multi_index(np.stack([(np.abs(i) * 2).astype(np.int64), (np.abs(j) * 2).astype(np.int64)]), (10, 10), mode="clip"), *np.unravel_index((np.abs(i) * 9).astype(np.int64) % 15, (3, 5))), [(2,), (2,)]),
    c((np.diag_indices_from, np.tril_indices_from, np.triu_indices_from), lambda x: (x[np.diag_indices_from(x)], x[np.tril_indices_from(x)], x[np.triu_indices_from(x, 1)]), [(3, 3)]),
    c(np.ix_, lambda x, i: (x[np.ix_([0, 2], [1, 3])], x[np.ix_((np.abs(i) * 2).astype(np.int64) % 3, [0, 1])], x[np.ix_(np.array([True, False, True]), [3])]), [(3, 4), (2,)], unbatched=[False, True]),
    # elementwise
    c(np.select, lambda x, y: (np.select([x > 0.5, x < -0.5], [x, y]), np.select([x > 0], [y], default=-1.0), np.select([y > 0, x > 0], [1, 2], x), np.select(np.stack([x > 0, y + x > 1]), np.stack([x, y + x]))), [(2, 3), (3,)], (F, I)),
    c(np.piecewise, lambda x, y: (np.piecewise(x, [x < 0, x > 0.5], [lambda v: v ** 2, lambda v: -v, 7.0]), np.piecewise(x, [x > 0], [np.sin, np.cos]), np.piecewise(x[0], x[0] > 0, [np.sin, np.cos]), np.piecewise(x, [x + y > 0], [lambda v: v * 2])), [(2, 3), (3,)]),
    c((np.allclose, np.array_equal, np.array_equiv), lambda x, y: (np.allclose(x, y, atol=2.0), np.allclose(x, x + 1e-9), np.array_equal(x, x), np.array_equal(x, y), np.array_equal(x, x[:1]), np.array_equal(np.where(x > 1, np.nan, x), np.where(x > 1, np.nan, x), equal_nan=True), np.array_equiv(x, x[0]), np.array_equiv(x, y), np.array_equiv(x, x[:, :2])), [(2, 3), (2, 3)], (F, I)),
    c((np.isposinf, np.isneginf), lambda x: (np.isposinf(np.log(x) * -1), np.isneginf(np.log(x))), [(4,)]),
    c(tuple(getattr(np.emath, n) for n in ("sqrt", "log", "log2", "log10", "arccos", "arcsin", "arctanh")), lambda x: tuple(getattr(np.emath, n)(x) for n in ("sqrt", "log", "log2", "log10", "arccos", "arcsin", "arctanh")), [(4,)], (F, C), id="emath"),
    c((np.emath.logn, np.emath.power), lambda x, y: (np.emath.logn(2.0, x), np.emath.logn(np.abs(y) + 2, np.abs(x) + 1), np.emath.power(x, 0.5), np.emath.power(np.abs(x) + 1, y)), [(3,), (3,)], id="emath_2"),
    c((np.is_busday, np.busday_offset, np.busday_count, np.datetime_as_string), lambda d, e: (np.is_busday(DAYS + d.astype("timedelta64[D]")), (np.busday_offset(DAYS + d.astype("timedelta64[D]"), e, roll="forward") - DAYS).astype(np.int64), np.busday_count(DAYS + d.astype("timedelta64[D]"), DAYS + e.astype("timedelta64[D]")), np.datetime_as_string(DAYS + d.astype("timedelta64[D]")) == "2024-01-03"), [(4,), (4,)], (I,), id="dates"),
    c(np.astype, lambda x: (np.astype(x, np.float32), np.astype(x, np.int8, copy=False)), [(3,)], (F, I)),
    # reductions and scans
    c(np.diff, lambda x, p: (np.diff(x), np.diff(x, 2, axis=0), np.diff(x, prepend=0.0), np.diff(x, axis=0, prepend=p[None], append=p[None]), np.diff(x, append=p[0]), np.diff(x, n=0)), [(3, 4), (4,)], (F, I)),
    c(np.ediff1d, lambda x, b: (np.ediff1d(x), np.ediff1d(x, to_begin=b), np.ediff1d(x, b[:1], [1.0, 2.0])), [(2, 3), (2,)]),
    c(np.gradient, lambda f, s, t: (*np.gradient(f, np.cumsum(np.abs(s) + 0.5), np.cumsum(np.abs(t) + 0.5)), np.gradient(f, np.cumsum(np.abs(t) + 0.5), axis=-1, edge_order=2), *np.gradient(f, 0.5, np.cumsum(np.abs(t) + 0.5), edge_order=2), np.gradient(f[0], np.cumsum(np.abs(t) + 0.5))), [(3, 4), (3,), (4,)], (F, F32, I), id="gradient_batched_coordinates"),
    c(np.gradient, lambda f, d: (*np.gradient(f), np.gradient(f, axis=1), *np.gradient(f, 2.0, [0.0, 1.0, 3.0, 4.5]), np.gradient(f, axis=-1, edge_order=2), np.gradient(f[0], 0.5)), [(3, 4), ()]),
    c(np.trapezoid, lambda y, x: (np.trapezoid(y, x), np.trapezoid(y, x, axis=0), np.trapezoid(y, x[:, :1], axis=0), np.trapezoid(y, x[0])), [(3, 4), (3, 4)], id="trapezoid_2d_x"),
    c(np.trapezoid, lambda y, x: (np.trapezoid(y), np.trapezoid(y, dx=0.5, axis=0), np.trapezoid(y, x), np.trapezoid(y[0], x), np.trapezoid(y, np.cumsum(np.abs(x)), axis=1)), [(3, 4), (4,)]),
    c(np.unwrap, lambda p: (np.unwrap(p * 3), np.unwrap(p * 3, axis=0), np.unwrap(p * 4, period=4)), [(3, 5)]),
    c((np.cumulative_sum, np.cumulative_prod), lambda x: (np.cumulative_sum(x, axis=1), np.cumulative_prod(x, axis=0, include_initial=True), np.cumulative_sum(x[0])), [(3, 4)], (F, I)),
    # polynomials, convolution, interpolation
    c((np.polyval, np.polyder, np.polyint), lambda p, x: (np.polyval(p, x), np.polyval(p, 2.0), np.polyval([1.0, 2.0], x), np.polyder(p), np.polyder(p, 2), np.polyint(p), np.polyint(p, 2, k=[1.0, 2.0])), [(4,), (2, 3)], (F, I)),
    c((np.polyadd, np.polysub, np.polymul, np.polydiv), lambda a, b: (np.polyadd(a, b), np.polysub(b, a), np.polyadd(a, 2.0), np.polymul(a, b), np.polymul(b, 3.0), *np.polydiv(b, a), *np.polydiv(b, b[:1] * 2.0)), [(2,), (4,)]),
    c(np.poly, lambda r, m: (np.poly(r), np.poly(m), np.poly(r + 1j * r[::-1]), np.poly(r[:0])), [(3,), (3, 3)], (F, C)),
    # Real roots come out real: the dtype depends on the values, so a batch of 0 is not compared.
    c(np.roots, lambda r: (np.roots(r), np.roots(np.concatenate([r, [0.0]])), np.roots(r[:1]), np.roots(r[1:] * 0)), [(3,)], (F, C), id="roots"),
    c(np.vander, lambda x: (np.vander(x), np.vander(x, 2), np.vander(x, 4, increasing=True), np.vander(x, 0)), [(3,)], (F, I)),
    c(np.polyfit, lambda x, y: (np.polyfit(x, y, 2), np.polyfit(np.arange(6.0), y, 1), np.polyfit(x, y, 1, w=np.abs(y) + 1), *np.polyfit(x, y, 2, full=True)[:3], *np.polyfit(x, y, 1, cov=True)), [(6,), (6,)]),
    c((np.convolve, np.correlate), lambda a, v: tuple(f(x, y, m) for f in (np.convolve, np.correlate) for x, y in ((a, v), (v, a), (a, a)) for m in ("full", "same", "valid")), [(5,), (2,)], (F, C, I), id="convolve"),
    c(np.interp, lambda x, xp, fp: (np.interp(x, np.cumsum(np.abs(xp)), fp), np.interp(x, np.cumsum(np.abs(xp)), fp, left=-5.0, right=5.0), np.interp(x, [0.0, 1.0, 2.0], fp[:3]), np.interp(x, np.cumsum(np.abs(xp)), fp + 1j * fp)), [(3,), (5,), (5,)]),
    c(np.interp, lambda x, xp: np.interp(np.concatenate([x, np.cumsum(np.abs(xp))[[0, 2, 4]], [np.nan]]), np.cumsum(np.abs(xp)), xp), [(3,), (5,)], id="interp_edges"),
    c(np.interp, lambda fp: np.interp(np.linspace(-1.0, 5.0, 7), np.arange(5.0), fp), [(5,)], id="interp_shared_xp"),
    # creation with batched ends
    c((np.linspace, np.logspace, np.geomspace), lambda a, b: (np.linspace(a, b, 5), np.linspace(a, 3.0, 4, endpoint=False, axis=-1), *np.linspace(a, b, 3, retstep=True), np.logspace(a, b, 4), np.logspace(a, b, 3, base=2.0, axis=1), np.geomspace(np.abs(a) + 1, np.abs(b) + 2, 4), np.linspace(a, b, 3, True, False, None, 1)), [(2,), ()], id="spaced"),
    # dtypes, shapes, memory
    c((np.result_type, np.can_cast, np.common_type, np.min_scalar_type), lambda x: (x.astype(np.result_type(x, 1.0, np.int8)), x * np.can_cast(x, np.float32), x.astype(np.common_type(x)), x.astype(np.min_scalar_type(x))), [(3,)], (F, I)),
    c((np.shares_memory, np.may_share_memory), lambda x, y: (np.shares_memory(x, x[1:]), np.may_share_memory(x, y), np.shares_memory(x, np.copy(x))), [(3,), (3,)]),
    # np.fft, strings, numpy.polynomial (listed in the docs, not counted in the coverage figure)
    c((np.fft.fft, np.fft.ifft, np.fft.hfft), lambda x: (np.fft.fft(x), np.fft.ifft(x, n=6, axis=0), np.fft.fft(x, norm="ortho"), np.fft.hfft(x, 5)), [(3, 4)], (F, C), id="fft"),
    c((np.fft.rfft, np.fft.irfft, np.fft.ihfft), lambda x: (np.fft.rfft(x), np.fft.irfft(np.fft.rfft(x), 4), np.fft.ihfft(x, axis=0)), [(3, 4)], (F,), id="rfft"),
    c((np.fft.fft2, np.fft.ifft2, np.fft.rfft2, np.fft.irfft2, np.fft.fftn, np.fft.ifftn, np.fft.rfftn, np.fft.irfftn),
      lambda x: (np.fft.fft2(x), np.fft.ifft2(x, axes=(0, 2)), np.fft.rfft2(x), np.fft.irfft2(np.fft.rfft2(x)), np.fft.fftn(x), np.fft.ifftn(x, axes=(1,)), np.fft.rfftn(x, s=(2, 4), axes=(1, 2)), np.fft.irfftn(np.fft.rfftn(x), s=(2, 3, 4), axes=(0, 1, 2))), [(2, 3, 4)], (F,), id="fftn"),
    c((np.fft.fftshift, np.fft.ifftshift), lambda x: (np.fft.fftshift(x), np.fft.ifftshift(x, axes=1), np.fft.fftshift(x, axes=0)), [(3, 4)], (F, I)),
    c((np.char.equal, np.char.not_equal, np.char.greater, np.char.greater_equal, np.char.less, np.char.less_equal),
      lambda x, y: tuple(f(x.astype(str), y.astype(str)) for f in (np.char.equal, np.char.not_equal, np.char.greater, np.char.greater_equal, np.char.less, np.char.less_equal)), [(4,), (4,)], (I,), id="char"),
    c(tuple(getattr(np.strings, n) for n in ("capitalize", "center", "decode", "encode", "expandtabs", "ljust", "lower", "mod", "multiply", "partition", "replace", "rjust", "rpartition", "swapcase", "title", "translate", "upper", "zfill")),
      lambda x: _strings(x.astype(str)), [(4,)], (I,), id="strings"),
    c((_poly.polyval2d, _poly.polygrid2d), lambda x, y: (_poly.polyval2d(x, y, C23), _poly.polygrid2d(x, y[:2], C23), _poly.polygrid2d(x[:1], y, C23[:, :, None] * y[:2]), _poly.polyval2d(x, y, C23[:, :, None] * x)), [(3,), (3,)], id="polyval2d"),
    c(np.einsum_path, lambda x, y: np.einsum("ij,jk,kl->il", x, y, x, optimize=np.einsum_path("ij,jk,kl->il", x, y, x)[0]), [(2, 3), (3, 2)]),
]


C23 = np.arange(6.0).reshape(2, 3)


def _strings(s):
    ns = np.strings
    out = [ns.capitalize(s), ns.center(s, 5, "*"), ns.decode(ns.encode(s)), ns.expandtabs(s), ns.ljust(s, 3),
           ns.lower(s), ns.mod("<%s>", s), ns.multiply(s, 2), *ns.partition(s, "-"), ns.replace(s, "-", "m"), ns.rjust(s, 4),
           *ns.rpartition(s, "1"), ns.swapcase(s), ns.title(s), ns.translate(s, str.maketrans("-", "+")), ns.upper(s), ns.zfill(s, 3)]  # fmt: skip
    return tuple(ns.str_len(o) for o in out) + tuple(o == "-1" for o in out)


def _put_along(x, i):
    out = x.copy()
    np.put_along_axis(out, np.argsort(x, axis=1)[:, :2], -1.0, axis=1)
    np.put_along_axis(out, (np.abs(i) * 2).astype(np.int64) % 3, i * 10, axis=0)
    np.put_along_axis(out, np.array([0, 5]), 9.0, axis=None)
    return out


def _writes(x, v):
    a, b, c, d = x.copy(), x.copy(), x.copy(), x.copy()
    np.put(a, [0, 4, 8], v[:3])
    a.put([-1, 1], v[0], mode="clip")
    np.put(a, (np.abs(v[:2]) * 20).astype(np.int64), v[2:], mode="wrap")
    np.putmask(b, x > 0, v)
    np.putmask(b, b < -1, 0.0)
    np.place(c, x > 0, v[:3])
    np.place(c, c < -0.5, [7.0])
    np.fill_diagonal(d, v[:2])
    np.fill_diagonal(d[:, :2], 5.0)
    return a, b, c, d


def _at(x, idx):
    x = x.copy()
    np.add.at(x, (np.abs(idx) * 3).astype(np.int64) % 5, 1.0)
    return x


def _at_tuple(x, idx):
    # a tuple of indices of which some are batched, slices among them
    i = (np.abs(idx) * 3).astype(np.int64) % 4
    x = x.copy()
    np.add.at(x, (i, (np.abs(idx) * 4).astype(np.int64) % 5), 1.0)
    np.add.at(x, (i, slice(None)), idx[0])
    np.multiply.at(x, (np.array([0, 0, 3]), i), 2.0)
    return x


def _outer_into(a, b, m):
    # where= masks the output: the entries it leaves out keep out's values
    out = np.full((3, 2), -1.0) + 0 * (a[:, None] + b + m)  # batched when any input is
    np.add.outer(a, b, out=out, where=m > 0)
    np.multiply.outer(a, b, out=out, where=np.array([True, False]))
    return out


def _copyto(x, y):
    out = np.zeros_like(x + y)  # batched whenever x or y is
    np.copyto(out, y)
    np.copyto(out, x, where=x > 0)
    return out


def _draw(case, rng, dtype, size, layout_kind):
    """Inputs of ``case`` for a batch of ``size``: (args, in_dims)."""
    n = len(case.shapes)
    while True:
        mapped = [not ok or rng.random() < 0.7 for ok in case.unbatched]
        if any(mapped):
            break
    args, in_dims = [], []
    for shape, m in zip(case.shapes, mapped):
        if m:
            d = int(rng.integers(0, len(shape) + 1))
            x = layout(random_array(rng, (size,) + shape, dtype), d, layout_kind)
            args.append(x)
            in_dims.append(d if rng.random() < 0.5 else d - x.ndim)  # negative half the time
        else:
            args.append(random_array(rng, shape, dtype))
            in_dims.append(None)
    return args, tuple(in_dims)


def _out_dims(rng, out):
    """A random valid out_dim for every output leaf of a sample result."""
    if isinstance(out, tuple):
        return tuple(_out_dims(rng, o) for o in out)
    nd = np.ndim(out) + 1
    return int(rng.integers(-nd, nd))


def _run(case, args, in_dims, out_dims, **kwargs):
    return vmaprt.vmap(case.fn, in_dims=in_dims, out_dims=out_dims, **kwargs)(*args)


def _expect(case, args, in_dims, out_dims):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # log of negatives in the oracle too
        return loop(case.fn, args, in_dims, out_dims)


def _example_out(case, args, in_dims):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return case.fn(*(a if d is None else np.take(a, 0, axis=d) for a, d in zip(args, in_dims)))


def _compare(case, dtype, got, want):
    if case.funcs[0] is np.empty_like:
        assert np.array_equal(got, want)
    else:  # float results of integer inputs (a norm, a mean) get the float tolerance
        assert_matches(got, want, dtype if np.dtype(dtype).kind in "fc" else None)


@pytest.mark.parametrize("case", CASES, ids=repr)
@pytest.mark.parametrize("layout_kind", LAYOUTS)
def test_rule_matches_loop(case, layout_kind):
    rng = np.random.default_rng(zlib.crc32(f"{case.id}-{layout_kind}".encode()))
    for dtype in case.dtypes:
        size = int(rng.integers(1, 5))
        args, in_dims = _draw(case, rng, dtype, size, layout_kind)
        out_dims = _out_dims(rng, _example_out(case, args, in_dims))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            got = _run(case, args, in_dims, out_dims)
        _compare(case, dtype, got, _expect(case, args, in_dims, out_dims))


@pytest.mark.parametrize("case", CASES, ids=repr)
def test_rule_chunked_matches_loop(case):
    rng = np.random.default_rng(1)
    dtype = case.dtypes[0]
    args, in_dims = _draw(case, rng, dtype, 5, "stepped")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        got = _run(case, args, in_dims, 0, chunk_size=2)
    _compare(case, dtype, got, _expect(case, args, in_dims, 0))


@pytest.mark.parametrize("case", CASES, ids=repr)
def test_rule_size_zero(case):
    """A batch of 0 gives the loop's result for 0 examples: the shape of a larger
    batch's result with 0 along the batch axis, and its dtype."""
    if case.id.startswith(("real_if_close", "emath", "roots")):
        pytest.skip("the result dtype depends on the values, and a batch of 0 has none")
    rng = np.random.default_rng(2)
    dtype = case.dtypes[0]
    args, in_dims = _draw(case, rng, dtype, 2, "C")
    empty = [a if d is None else np.take(a, [], axis=d) for a, d in zip(args, in_dims)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        full = _run(case, args, in_dims, 0)
        got = _run(case, empty, in_dims, 0)
    fulls = full if isinstance(full, tuple) else (full,)
    gots = got if isinstance(got, tuple) else (got,)
    for g, f in zip(gots, fulls):
        assert g.shape == (0,) + f.shape[1:] and g.dtype == f.dtype


@pytest.mark.parametrize("case", CASES, ids=repr)
def test_rule_nested_with_captured_outer_values(case):
    """vmap(vmap(f)) over two batch axes, and an inner vmap that closes over a
    value batched by the outer one, against the double loop."""
    rng = np.random.default_rng(3)
    dtype = case.dtypes[0]
    outer = [random_array(rng, (2, 3) + s, dtype) for s in case.shapes]
    # The outer batch axis at 0 or 1 of each input; the inner one lands at 0 either way.
    in_dims_outer = tuple(int(rng.integers(0, 2)) for _ in outer)
    phys = [x if a == 0 else np.swapaxes(x, 0, 1) for x, a in zip(outer, in_dims_outer)]
    in_dims_inner = 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        got = vmaprt.vmap(vmaprt.vmap(case.fn, in_dims=in_dims_inner), in_dims=in_dims_outer)(*phys)
        want = loop(lambda *xs: loop(case.fn, xs, (0,) * len(xs)), outer, (0,) * len(outer))
    _compare(case, dtype, got, want)

    if len(case.shapes) < 2 or not case.capture:
        return
    # The first input is captured from the outer level, the rest are mapped inside.
    first, rest = outer[0][:, 0], outer[1:]

    def per_outer(x0, *ys):
        return vmaprt.vmap(lambda *yy: case.fn(x0, *yy))(*ys)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        got = vmaprt.vmap(per_outer)(first, *rest)
        want = loop(lambda x0, *ys: loop(lambda *yy: case.fn(x0, *yy), ys, (0,) * len(ys)), [first, *rest], (0,) * len(outer))
    _compare(case, dtype, got, want)


def test_every_rule_has_a_case():
    covered = {f for case in CASES for f in case.funcs}
    numpy_funcs = [f for f in _registry.RULES if getattr(f, "__module__", "").startswith("numpy")]
    missing = [_registry._name(f) for f in numpy_funcs if f not in covered and not isinstance(f, np.ufunc)]
    assert not missing, f"rules without a case in tests/test_rules.py: {missing}"


def test_every_ufunc_method_has_a_case():
    ids = {case.id for case in CASES}
    for method, case_id in [("reduce", "reduce_axis0"), ("accumulate", "accumulate"),
                            ("reduceat", "reduceat"), ("outer", "ufunc_outer"), ("at", "ufunc_at"),
                            ("__call__", "add")]:  # fmt: skip
        assert method in UFUNC_METHODS and case_id in ids


def test_every_ufunc_has_a_rule():
    ufuncs = [getattr(np, n) for n in dir(np) if isinstance(getattr(np, n), np.ufunc)]
    ufuncs += [getattr(scipy.special, n) for n in dir(scipy.special) if isinstance(getattr(scipy.special, n), np.ufunc)]
    assert len(ufuncs) > 150
    assert all(vmaprt.has_batch_rule(u) for u in ufuncs)


@pytest.mark.parametrize(
    "name",
    ["expit", "logit", "erf", "gammaln", "ndtr", "i0", "jv", "xlogy"],
)
def test_scipy_special_sample(name):
    f = getattr(scipy.special, name)
    rng = np.random.default_rng(4)
    args = [np.abs(rng.standard_normal((4, 3))) * 0.4 + 0.1 for _ in range(f.nin)]
    in_dims = (1,) + (None,) * (f.nin - 1)
    args[0] = args[0].T.copy()
    args[1:] = [a[0] for a in args[1:]]
    got = vmaprt.vmap(f, in_dims=in_dims)(*args)
    assert_matches(got, loop(f, args, in_dims))


@pytest.mark.parametrize(
    "f, per_example",
    [
        (lambda y, a: np.linalg.lstsq(a, y)[1], (15,)),
        (lambda y, a: np.linalg.lstsq(a, np.stack([y, y], axis=1))[1], (15,)),
        (lambda y, a: np.linalg.lstsq(np.ones_like(a), y)[1], (15,)),  # rank-deficient: no residuals
        (lambda y, a: np.polyfit(a[:, 1], y, 2, full=True)[1], (15,)),
        (lambda w, a: np.bincount(np.arange(10) % 3, weights=w), (10,)),
        (lambda w, a: np.bincount(np.arange(10) % 3, weights=w, minlength=2), (10,)),
    ],
)
def test_size_zero_with_a_shared_operand_has_the_shape_it_fixes(f, per_example):
    """A shared operand fixes the per-example shape, so a batch of 0 has the shape a
    batch of 2 has, with 0 in front."""
    a = np.vander(np.linspace(-1, 1, 15), 3)
    two = vmaprt.vmap(f, in_dims=(0, None))(np.ones((2, *per_example)), a)
    zero = vmaprt.vmap(f, in_dims=(0, None))(np.ones((0, *per_example)), a)
    assert zero.shape == (0,) + two.shape[1:] and zero.dtype == two.dtype


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.complex128, np.int64])
@pytest.mark.parametrize("in_dim", [0, 1, -1])
def test_shared_matrix_times_a_batch_of_vectors(dtype, in_dim):
    """W @ v, np.dot(W, v) with W shared: one product of the whole batch (V @ W.T)."""
    rng = np.random.default_rng(7)
    w = (rng.standard_normal((3, 4)) * 4).astype(dtype)
    v = (rng.standard_normal((5, 4)) * 4).astype(dtype)
    vv = v if in_dim == 0 else v.T
    for f in (lambda v: w @ v, lambda v: np.dot(w, v)):
        got = vmaprt.vmap(f, in_dims=in_dim)(vv)
        assert_matches(got, loop(f, [v], (0,)))
        assert_matches(vmaprt.vmap(f)(v[:0]), np.zeros((0, 3), got.dtype))


@pytest.mark.parametrize(
    "f, shapes",
    [
        (lambda v, w: np.einsum("ij,j->i", w, v), [(10000, 8), (5, 8)]),
        (lambda a, b: np.tensordot(a, b, axes=1), [(400, 16, 16), (400, 16, 16)]),
        (lambda a, b: np.einsum("ij,jk,k->i", a, b, b[0]), [(300, 16, 16), (300, 16, 16)]),
        (lambda v, w: np.einsum("ij,j->i", w, v, optimize=False), [(10000, 8), (5, 8)]),
    ],
)
def test_large_batched_einsum_is_optimized_and_matches_the_loop(f, shapes, monkeypatch):
    """Above EINSUM_OPTIMIZE_MIN operand elements the batched einsum hands its
    contractions to BLAS (optimize=True) unless the call chose; results match."""
    from vmaprt._rules import products

    rng = np.random.default_rng(3)
    x, y = (rng.standard_normal(s) for s in shapes)
    in_dims = (0, 0 if shapes[0][0] == shapes[1][0] else None)
    assert sum(x.size for x in (x, y)) >= products.EINSUM_OPTIMIZE_MIN
    want = np.stack([f(x[i], y[i] if in_dims[1] == 0 else y) for i in range(len(x))])
    calls, einsum = [], np.einsum

    def spy(*args, **kwargs):
        if all(type(a) is np.ndarray for a in args[1:]):
            calls.append(kwargs.get("optimize", False))
        return einsum(*args, **kwargs)

    monkeypatch.setattr(np, "einsum", spy)
    got = vmaprt.vmap(f, in_dims=in_dims)(x, y)
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)
    chose = "optimize=False" not in inspect.getsource(f)
    assert calls and all(bool(c) == chose for c in calls)


def test_batched_keyword_operands_passed_by_position():
    """A parameter that a rule takes batched by keyword works when given by position
    too (np.histogram2d passes weights to np.histogramdd so): no per-example loop."""
    from vmaprt import scipy as vsp

    rng = np.random.default_rng(5)
    x, w, p = rng.standard_normal((4, 9)), np.abs(rng.standard_normal((4, 9))), rng.standard_normal((4, 2))
    cases = [
        (lambda x, w, p: np.histogramdd(x[:, None], 3, [(-3, 3)], False, w)[0], (x, w, p)),
        (lambda x, w, p: np.diff(x, 1, -1, p), (x, w, p)),
        (lambda x, w, p: vsp.logsumexp(x, None, w), (x, w, p)),
        (lambda x, w, p: np.histogram2d(x, p[0] + x, 3, [(-3, 3), (-4, 4)], False, w)[0], (x, w, p)),
    ]
    for f, args in cases:
        assert_matches(vmaprt.vmap(f)(*args), loop(f, list(args), (0, 0, 0)))


# np.clip's keyword bounds (issue 15, class H) --------------------------------------------------
@pytest.mark.parametrize("example", [(), (2,), (4,), (3, 4)], ids=str)
@pytest.mark.parametrize("bound_shape", [(), (1,), (2,), (4,), (3, 1), (5, 1, 1)], ids=str)
@pytest.mark.parametrize("key", ["min", "max", "both", "a_min"])
@pytest.mark.parametrize("batched", [False, True])
@pytest.mark.parametrize("size", [0, 2])
def test_clip_keyword_bounds_match_the_loop(example, bound_shape, key, batched, size):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((size,) + example)
    bound = rng.standard_normal(((size,) if batched else ()) + bound_shape)

    def f(v, b):
        if key == "both":
            return np.clip(v, min=b - 0.5, max=b + 0.5)
        return np.clip(v, **{key: b})

    dims = (0, 0 if batched else None)
    with warnings.catch_warnings():
        warnings.simplefilter("error", vmaprt.PerformanceWarning)
        if size:
            assert_like_loop(f, [x, bound], dims)
            return
        try:  # no example to loop over: NumPy's result for one, with 0 along the batch
            want = f(np.zeros(example), np.zeros(bound_shape))
        except (TypeError, ValueError) as e:
            with pytest.raises(type(e)):
                vmaprt.vmap(f, in_dims=dims)(x, bound)
            return
        got = vmaprt.vmap(f, in_dims=dims)(x, bound)
        assert got.shape == (0,) + want.shape and got.dtype == want.dtype


def test_clip_keyword_and_positional_bounds_is_numpys_error():
    with pytest.raises(ValueError, match="forbidden"):
        vmaprt.vmap(lambda v: np.clip(v, 0, 1, max=2))(np.ones((2, 3)))


# Issue 15: programs whose vmap disagreed with the loop (classes C-F, I, J, M-O) --------------
def _ravel_write(order):
    def f(v):
        y = v.copy()
        y.ravel(order)[...] = 0
        return y

    return f


def _reshape_write(v):
    y = v.copy()
    y.reshape(-1)[0] = -1
    return y


def _copy_then(copy, write):
    def f(v):
        y = copy(v)
        write(y)
        return y

    return f


_WRITES = {
    "ravel": lambda y: y.ravel().__setitem__(0, -1),
    "ravelF": lambda y: np.ravel(y, order="F").__setitem__(0, -1),
    "ravelK": lambda y: np.ravel(y, order="K").__setitem__(0, -1),
    "ravelA": lambda y: y.ravel("A").__setitem__(0, -1),
    "reshape": lambda y: y.reshape(-1).__setitem__(0, -1),
    "reshapeF": lambda y: y.reshape(-1, order="F").__setitem__(0, -1),
}
_COPIES = {
    "copy": lambda v: v.copy(), "copyF": lambda v: v.copy(order="F"), "np.copy": np.copy,
    "np.copyF": lambda v: np.copy(v, order="F"), "np.copyK": lambda v: np.copy(v, order="K"),
    "astype": lambda v: v.astype(np.float32), "astypeF": lambda v: v.astype(np.float64, order="F"),
    "view": lambda v: v, "T": lambda v: v.T, "step": lambda v: v[..., ::2],
    "v + 0": lambda v: v + 0, "sin": np.sin, "2 * v.T": lambda v: 2 * v.T,  # new results of ufuncs
    "concat": lambda v: np.concatenate([v, v], axis=-1), "stack": lambda v: np.stack([v, v], axis=-1),
    "diff": lambda v: np.diff(v, prepend=0.5),  # new results of other functions
}


@pytest.mark.parametrize("write", sorted(_WRITES))
@pytest.mark.parametrize("copy", sorted(_COPIES))
@pytest.mark.parametrize("kind", ["C", "F", "transposed", "stepped", "reversed"])
@pytest.mark.parametrize("in_dim", [0, 1, 2])
def test_writes_through_ravel_and_reshape_alias_as_in_the_loop(write, copy, kind, in_dim):
    """Class I: per example, ravel/reshape return a view exactly when NumPy's would."""
    x = layout(np.arange(3 * 2 * 4.0).reshape(3, 2, 4), in_dim, kind)
    assert_like_loop(_copy_then(_COPIES[copy], _WRITES[write]), [x], in_dim)


@pytest.mark.parametrize("dtype", [np.int32, np.float64, np.complex128])
@pytest.mark.parametrize("kw", [dict(prepend=0.5), dict(append=0.5), dict(prepend=0.5, append=[1, 2, 3]), dict()])
def test_diff_of_order_zero_returns_the_input(dtype, kw):
    """Class C: NumPy returns ``a`` for n=0 before it looks at prepend/append."""
    x = np.arange(4 * 2 * 3).reshape(4, 2, 3).astype(dtype)
    assert_like_loop(lambda v: np.diff(v, n=0, **kw), [x])
    assert_like_loop(lambda v: np.diff(v, n=-1, **kw), [x])


ZERO_D = [
    ("cumulative_sum", lambda v: np.cumulative_sum(v)),
    ("cumulative_prod", lambda v: np.cumulative_prod(v, axis=0)),
    ("cumulative_sum-1", lambda v: np.cumulative_sum(v, axis=-1, include_initial=True)),
    ("cumulative_sum1", lambda v: np.cumulative_sum(v, axis=1)),
    ("add.reduce", lambda v: np.add.reduce(v)),
    ("maximum.reduce-1", lambda v: np.maximum.reduce(v, axis=-1, keepdims=True)),
    ("multiply.reduce()", lambda v: np.multiply.reduce(v, axis=())),
    ("add.reduce1", lambda v: np.add.reduce(v, axis=1)),
    ("add.reduce(0,)", lambda v: np.add.reduce(v, axis=(0,))),
    ("add.accumulate", lambda v: np.add.accumulate(v)),
    ("sum-1", lambda v: np.sum(v, axis=-1)),
    ("sum0", lambda v: v.sum(axis=0)),
    ("max0", lambda v: np.max(v, axis=0)),
    ("any-1", lambda v: np.any(v, axis=-1)),
    ("argmax0", lambda v: np.argmax(v, axis=0)),
    ("cumsum0", lambda v: np.cumsum(v, axis=0)),
    ("mean0", lambda v: np.mean(v, axis=0)),
    ("std-1", lambda v: np.std(v, axis=-1)),
    ("nansum0", lambda v: np.nansum(v, axis=0)),
    ("count_nonzero0", lambda v: np.count_nonzero(v, axis=0)),
    ("sum1", lambda v: np.sum(v, axis=1)),
    ("sum(0,)", lambda v: np.sum(v, axis=(0,))),
]


@pytest.mark.parametrize("name, f", ZERO_D, ids=[n for n, _ in ZERO_D])
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.complex128, np.int64, np.bool_])
def test_reductions_and_scans_of_0d_examples(name, f, dtype):
    """Classes D and E: a 0-d example takes NumPy's legacy axis 0 or -1, or its error."""
    x = random_array(np.random.default_rng(1), (5,), dtype)
    assert_like_loop(f, [x])


@pytest.mark.parametrize("mask", [[[True, False, True]], [[[True]]], [True, False], [True], True], ids=str)
@pytest.mark.parametrize("batched", [False, True])
@pytest.mark.parametrize("func", [np.sum, np.mean, np.max, np.add.reduce, np.all])
def test_where_mask_broadcasts_to_the_example_only(mask, batched, func):
    """Class F: the mask broadcasts to each example's shape, never onto the batch axis."""
    x = np.arange(2 * 3.0).reshape(2, 3) + 1
    m = np.array(mask)
    kw = dict(initial=0) if func is np.max else {}
    if batched:
        m = np.stack([m, m])
        assert_like_loop(lambda v, w: func(v, where=w, **kw), [x, m], (0, 0))
    else:
        assert_like_loop(lambda v: func(v, where=m, **kw), [x])


@pytest.mark.parametrize("dtype", [np.bool_, np.int8, np.int64, np.uint16, np.float32, np.float64, np.complex64])
@pytest.mark.parametrize("exponent", [2, -1, 0.5, 2.0, 3, 1, 0])
def test_power_operator_takes_numpys_fast_paths(dtype, exponent):
    """Class J: ndarray ** 2 is np.square (bool ** 2 is int8), ** -1 and ** 0.5 of
    inexact arrays are np.reciprocal and np.sqrt, as NumPy's operator does."""
    x = random_array(np.random.default_rng(2), (3, 4), dtype)

    def f(v):
        with np.errstate(all="ignore"):
            return v**exponent

    def g(v):
        with np.errstate(all="ignore"):
            y = v.copy()
            y **= exponent
            return y

    assert_like_loop(f, [x])
    assert_like_loop(g, [x])


@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.uint8, np.complex128, np.float32, None])
@pytest.mark.parametrize("example", [(4,), (2, 4), (1,)], ids=str)
@pytest.mark.parametrize("in_dim", [0, -1])
def test_view_with_a_dtype_matches_the_loop(dtype, example, in_dim):
    """Class M: x.view(dtype) per example, and writes through it reach x."""
    x = np.moveaxis(np.arange(3 * int(np.prod(example)), dtype=np.float64).reshape((3,) + example), 0, in_dim)

    def f(v):
        y = v.copy()
        w = y.view(dtype) if dtype is not None else y.view()
        w[...] = 0 if w.dtype.kind != "u" else 1
        return y, w.copy()

    try:
        want = loop(f, [x], (in_dim,), (0, 0))
    except (ValueError, TypeError) as e:
        with pytest.raises(type(e)):
            vmaprt.vmap(f, in_dims=in_dim)(x)
        return
    assert_matches(vmaprt.vmap(f, in_dims=in_dim)(x), want)


@pytest.mark.parametrize("index", [[], (), np.array([], dtype=np.intp), [0, 0]], ids=repr)
def test_take_and_index_with_an_empty_list(index):
    """Class N: an empty list indexes as intp, as NumPy reads it."""
    x = np.arange(4 * 3.0).reshape(4, 3)
    assert_like_loop(lambda v: np.take(v, index, axis=0), [x])
    assert_like_loop(lambda v: v[list(index) if isinstance(index, (list, tuple)) else index], [x])


# Found by the program-family fuzzer (tests/test_fuzz.py), beyond issue 15's list --------------
@pytest.mark.parametrize("index", [[0, 0], [], 0, [-1]], ids=repr)
@pytest.mark.parametrize("axis", [0, -1, 1])
def test_take_from_a_0d_example_with_numpys_legacy_axis(index, axis):
    assert_like_loop(lambda v: np.take(v.sum(), index, axis=axis), [np.arange(6.0).reshape(3, 2)])


@pytest.mark.parametrize(
    "f",
    [lambda a, b: np.dot(a, b), lambda a, b: np.inner(a, b), lambda a, b: np.tensordot(a, b, axes=([1], [0])),
     lambda a, b: a @ b],
    ids=["dot", "inner", "tensordot", "matmul"],
)
@pytest.mark.parametrize("shapes", [((2, 3), (1, 3)), ((2, 1), (3, 4)), ((2, 1, 3), (2, 1, 3)), ((2, 3), (3, 2))], ids=str)
@pytest.mark.parametrize("batched", [(0, 0), (0, None), (None, 0)])
def test_products_refuse_a_contracted_axis_of_length_one(f, shapes, batched):
    """einsum broadcasts a length-1 contracted axis; np.dot and friends raise."""
    a = np.ones((3,) + shapes[0] if batched[0] is not None else shapes[0])
    b = np.ones((3,) + shapes[1] if batched[1] is not None else shapes[1])
    assert_like_loop(f, [a, b], batched)


def test_matmul_of_0d_examples_is_numpys_error():
    assert_like_loop(lambda a, b: np.matmul(a, b), [np.ones(3), np.ones(3)], (0, 0))
    assert_like_loop(lambda a, b: a @ b, [np.ones(3), np.ones(3)], (0, 0))  # scalars: TypeError
    assert_like_loop(lambda a, b: np.matmul(a.sum(), b), [np.ones((3, 2)), np.ones((3, 2))], (0, 0))


@pytest.mark.parametrize("target", [(4,), (1, 4), (3, 4)], ids=str)
@pytest.mark.parametrize("other", [(1, 4), (4,), (2, 1, 4), (1,)], ids=str)
def test_ufunc_out_must_take_the_broadcast_shape(target, other):
    """out= is not a setitem target: leading 1s of the result are not dropped."""
    def f(v, w):
        y = np.zeros_like(v, shape=target)
        np.add(y, w, out=y)
        y += w
        return y

    assert_like_loop(f, [np.ones((3,) + target), np.ones((3,) + other)], (0, 0))


def test_nested_copies_and_ravels_alias_as_in_the_loop():
    x = np.arange(2 * 3 * 2 * 4.0).reshape(2, 3, 2, 4)
    for order in "CFK":
        def f(v, order=order):
            y = v.copy(order="F")
            np.ravel(y, order=order)[0] = -1
            z = np.copy(v, order=order)
            z.reshape(-1)[1] = -2
            return y + z

        want = np.stack([np.stack([f(x[i, j]) for j in range(3)]) for i in range(2)])
        assert_matches(vmaprt.vmap(vmaprt.vmap(f))(x), want)


# Note [non-finite complex products] (issue 15, class P) ----------------------------------------
@pytest.mark.parametrize(
    "name, f",
    [("matmul", lambda x, y: x @ y), ("dot", np.dot), ("einsum", lambda x, y: np.einsum("ij,jk->ik", x, y)),
     ("tensordot", lambda x, y: np.tensordot(x, y, 1)), ("inner", lambda x, y: np.inner(x, y.T)),
     ("vdot", lambda x, y: np.vdot(x[0], y[:, 0])), ("matvec", lambda x, y: x @ y[:, 0])],
    ids=lambda v: v if isinstance(v, str) else "",
)
@pytest.mark.parametrize("shape", [(1, 2, 1), (2, 2, 2), (3, 4, 2), (4, 3, 4)], ids=str)
@pytest.mark.parametrize("dims", [(0, 0), (0, None), (None, 0)])
def test_complex_products_with_infinities_match_the_loop(name, f, shape, dims):
    rng = np.random.default_rng(3)
    n, k, m = shape
    a = rng.standard_normal((3, n, k)) + 1j * rng.standard_normal((3, n, k))
    b = rng.standard_normal((3, k, m)) + 1j * rng.standard_normal((3, k, m))
    a[:, 0, 0] = -np.inf + 0j
    b[1, -1, 0] = np.inf + 0j
    args = [a if dims[0] is not None else a[0], b if dims[1] is not None else b[1]]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        got = vmaprt.vmap(f, in_dims=dims)(*args)
        want = np.stack([f(*[x if d is None else x[i] for x, d in zip(args, dims)]) for i in range(3)])
    for part in (np.real, np.imag):  # the same inf and nan, in the same places
        g, w = part(got), part(want)
        np.testing.assert_array_equal(np.isnan(g), np.isnan(w))
        np.testing.assert_array_equal(np.where(np.isnan(g), 0, np.isinf(g) * np.sign(g)), np.where(np.isnan(w), 0, np.isinf(w) * np.sign(w)))
    finite = np.isfinite(want)
    np.testing.assert_allclose(got[finite], want[finite], rtol=1e-10, atol=1e-12)
