"""A program fuzzer: random chains of NumPy operations under vmap, against the loop.

Hypothesis builds a program of 2-6 steps from the operations below, random
per-example shapes for one or two inputs (some unbatched), random in_dims,
out_dims and physical layouts (C, F, transposed, stepped, reversed,
zero-stride, size 0 and 1), and runs it under vmap, nested vmap and
chunk_size.  Every run must equal the per-example loop, and no operation in
the table may fall back to the loop.  A failure shrinks to a small program,
printed by hypothesis.  ``pytest --fuzz-long`` runs thousands of programs.
"""

import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

import vmaprt

from conftest import LAYOUTS, assert_matches, layout, loop


def _axis_ok(x):
    return np.ndim(x) >= 1


# name, arity, function, precondition on the per-example operands
OPS = [
    ("sin", 1, np.sin, None),
    ("tanh", 1, np.tanh, None),
    ("exp", 1, lambda x: np.exp(np.clip(x, -5, 5)), None),
    ("abs", 1, np.abs, None),
    ("neg", 1, lambda x: -x, None),
    ("square", 1, lambda x: x * x, None),
    ("sqrt|x|", 1, lambda x: np.sqrt(np.abs(x)), None),
    ("scale", 1, lambda x: 0.5 * x + 1.0, None),
    ("T", 1, lambda x: x.T, None),
    ("flip", 1, np.flip, None),
    ("rev0", 1, lambda x: x[::-1], _axis_ok),
    ("slice", 1, lambda x: x[..., 1:], _axis_ok),
    ("sum-1", 1, lambda x: x.sum(axis=-1), _axis_ok),
    ("sum", 1, np.sum, None),
    ("mean0", 1, lambda x: x.mean(axis=0), _axis_ok),
    ("max-1", 1, lambda x: x.max(axis=-1), lambda x: np.ndim(x) >= 1 and np.shape(x)[-1] > 0),
    ("std-1", 1, lambda x: x.std(axis=-1), _axis_ok),
    ("var", 1, np.var, None),
    ("cumsum-1", 1, lambda x: np.cumsum(x, axis=-1), _axis_ok),
    ("ravel", 1, np.ravel, None),
    ("expand0", 1, lambda x: np.expand_dims(x, 0), None),
    ("swap", 1, lambda x: np.swapaxes(x, 0, -1), _axis_ok),
    ("argmax", 1, lambda x: np.argmax(x, axis=-1).astype(float), lambda x: np.ndim(x) >= 1 and np.shape(x)[-1] > 0),
    ("where>0", 1, lambda x: np.where(x > 0, x, 0.0), None),
    ("clip", 1, lambda x: np.clip(x, -1, 1), None),
    ("softmax", 1, lambda x: np.exp(x - x.max(axis=-1, keepdims=True)) / np.exp(x - x.max(axis=-1, keepdims=True)).sum(axis=-1, keepdims=True),
     lambda x: np.ndim(x) >= 1 and np.shape(x)[-1] > 0),
    ("add", 2, np.add, lambda a, b: _broadcastable(a, b)),
    ("mul", 2, np.multiply, lambda a, b: _broadcastable(a, b)),
    ("sub", 2, lambda a, b: a - b, lambda a, b: _broadcastable(a, b)),
    ("maximum", 2, np.maximum, lambda a, b: _broadcastable(a, b)),
    ("where", 2, lambda a, b: np.where(a > b, a, b), lambda a, b: _broadcastable(a, b)),
    ("matmul", 2, np.matmul, lambda a, b: np.ndim(a) >= 1 and np.ndim(b) >= 1 and np.shape(a)[-1] == np.shape(b)[-2 if np.ndim(b) >= 2 else -1] and _stack_ok(a, b)),
    ("dot", 2, np.dot, lambda a, b: np.ndim(a) >= 1 and np.ndim(b) >= 1 and np.shape(a)[-1] == np.shape(b)[-2 if np.ndim(b) >= 2 else -1]),
    ("outer", 2, np.outer, None),
    ("concat", 2, lambda a, b: np.concatenate([a, b], axis=-1), lambda a, b: np.ndim(a) == np.ndim(b) >= 1 and np.shape(a)[:-1] == np.shape(b)[:-1]),
    ("stack", 2, lambda a, b: np.stack([a, b]), lambda a, b: np.shape(a) == np.shape(b)),
    ("einsum", 2, lambda a, b: np.einsum("...i,...i->...", a, b), lambda a, b: np.ndim(a) >= 1 and np.ndim(b) >= 1 and np.shape(a)[-1] == np.shape(b)[-1] and _broadcastable(a[..., 0], b[..., 0])),
]


def _broadcastable(a, b):
    try:
        np.broadcast_shapes(np.shape(a), np.shape(b))
        return True
    except ValueError:
        return False


def _stack_ok(a, b):
    try:
        np.broadcast_shapes(np.shape(a)[:-2], np.shape(b)[:-2])
        return True
    except ValueError:
        return False


def _size_ok(x):
    return np.size(x) <= 4096 and np.ndim(x) <= 5


@st.composite
def programs(draw):
    """``(steps, shapes)``: steps are (op index, operand indices) over a value list
    that starts with the inputs; shapes are the inputs' per-example shapes."""
    n_inputs = draw(st.integers(1, 2))
    shapes = [tuple(draw(st.lists(st.integers(0, 4), min_size=0, max_size=3))) for _ in range(n_inputs)]
    values = [np.ones(s) * 0.5 for s in shapes]  # stand-ins that carry the shapes
    steps = []
    for _ in range(draw(st.integers(2, 6))):
        for _attempt in range(20):
            k = draw(st.integers(0, len(OPS) - 1))
            name, arity, fn, ok = OPS[k]
            idx = [draw(st.integers(0, len(values) - 1)) for _ in range(arity)]
            args = [values[i] for i in idx]
            with np.errstate(all="ignore"), warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                try:
                    if ok is not None and not ok(*args):
                        continue
                    out = fn(*args)
                except (ValueError, IndexError):
                    continue
            if not _size_ok(out):
                continue
            values.append(np.asarray(out, dtype=float))
            steps.append((k, idx))
            break
    if not steps:
        steps.append((0, [0]))
    return steps, shapes


def _runner(steps):
    def f(*inputs):
        values = list(inputs)
        for k, idx in steps:
            values.append(OPS[k][2](*(values[i] for i in idx)))
        return values[-1]

    return f


def _describe(steps, n_inputs):
    names = [f"x{i}" for i in range(n_inputs)]
    lines = []
    for k, idx in steps:
        names.append(f"v{len(names)}")
        lines.append(f"{names[-1]} = {OPS[k][0]}({', '.join(names[i] for i in idx)})")
    return "; ".join(lines)


@st.composite
def cases(draw):
    steps, shapes = draw(programs())
    size = draw(st.sampled_from([0, 1, 2, 3, 5]))
    dtype = draw(st.sampled_from([np.float64, np.float64, np.float32]))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    args, in_dims = [], []
    mapped = [draw(st.booleans()) for _ in shapes]
    mapped[draw(st.integers(0, len(shapes) - 1))] = True
    for shape, m in zip(shapes, mapped):
        if m:
            d = draw(st.integers(0, len(shape)))
            x = rng.standard_normal((size,) + shape).astype(dtype)
            args.append(layout(x, d, draw(st.sampled_from(LAYOUTS))))
            in_dims.append(d)
        else:
            args.append(rng.standard_normal(shape).astype(dtype))
            in_dims.append(None)
    return steps, args, tuple(in_dims), size, draw(st.integers(-1, 0)), draw(st.sampled_from([None, 1, 2]))


def _tolerance_dtype(args, want):
    """float32 for a float result of a program with a single-precision input: its
    intermediates round at float32 (a float32 mean may differ from NumPy's in the
    last bit) even where a float64 operand promotes the result; None otherwise
    (the result's own dtype decides)."""
    single = any(np.asarray(a).dtype in (np.float32, np.complex64) for a in args)
    return np.float32 if single and np.asarray(want).dtype.kind in "fc" else None


def _check(steps, args, in_dims, size, out_dim, chunk):
    f = _runner(steps)
    note(_describe(steps, len(args)))
    note(f"in_dims={in_dims} shapes={[a.shape for a in args]} strides={[a.strides for a in args]} "
         f"out_dims={out_dim} chunk_size={chunk}")
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # NumPy's empty-slice notes, in the oracle too
        warnings.simplefilter("error", vmaprt.PerformanceWarning)
        got = vmaprt.vmap(f, in_dims=in_dims, out_dims=out_dim, chunk_size=chunk)(*args)
        if size == 0:  # the shape and dtype of a batch of two, with 0 along the batch axis
            two = [a if d is None else np.zeros(a.shape[:d] + (2,) + a.shape[d + 1 :], a.dtype)
                   for a, d in zip(args, in_dims)]
            full = vmaprt.vmap(f, in_dims=in_dims, out_dims=out_dim)(*two)
            axis = out_dim % full.ndim
            assert got.shape == full.shape[:axis] + (0,) + full.shape[axis + 1 :]
            assert got.dtype == full.dtype
            return
        want = loop(f, args, in_dims, out_dim)
    assert_matches(got, want, _tolerance_dtype(args, want))


def _check_nested(steps, args, in_dims, size):
    """The same program with a second batch axis of 2 in front, as vmap(vmap(f))."""
    if size == 0:
        return
    f = _runner(steps)
    outer = [a if d is None else np.stack([a, -1.5 * a]) for a, d in zip(args, in_dims)]
    outer_dims = tuple(None if d is None else 0 for d in in_dims)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # NumPy's empty-slice notes, in the oracle too
        warnings.simplefilter("error", vmaprt.PerformanceWarning)
        got = vmaprt.vmap(vmaprt.vmap(f, in_dims=in_dims), in_dims=outer_dims)(*outer)
        want = loop(lambda *xs: loop(f, xs, in_dims), outer, outer_dims)
    assert_matches(got, want, _tolerance_dtype(args, want))


def _settings(request_long):
    return settings(
        max_examples=2500 if request_long else 250,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
    )


def test_fuzz_programs_match_the_loop(fuzz_long):
    @_settings(fuzz_long)
    @given(case=cases())
    def run(case):
        steps, args, in_dims, size, out_dim, chunk = case
        _check(steps, args, in_dims, size, out_dim, chunk)
        _check_nested(steps, args, in_dims, size)

    run()
