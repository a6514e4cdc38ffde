"""A program fuzzer: random chains of NumPy operations under vmap, against the loop.

Hypothesis builds a program of 2-6 steps from the operations below, random
per-example shapes for one or two inputs (some unbatched), random in_dims,
out_dims and physical layouts (C, F, transposed, stepped, reversed,
zero-stride, size 0 and 1), and runs it under vmap, nested vmap and
chunk_size.  Every run must equal the per-example loop, and no operation in
the table may fall back to the loop.  A failure shrinks to a small program,
printed by hypothesis.  ``pytest --fuzz-long`` runs thousands of programs.

A second generator, of program families (below), is seeded rather than
shrunk: several inputs of mixed dtypes and in_dims, 0-d examples, writes into
local copies, keyword arguments and programs that raise, against the loop over
the views ``x[i]``.
"""

import operator
import os
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


# Program families (issue 15) ----------------------------------------------------------------
# A second generator, seeded rather than shrunk: programs of 1-3 inputs of mixed dtypes
# (complex, int and bool included), per-example shapes with 0-d examples, mixed in_dims
# and layouts, whose steps write into local copies (setitem with every key form, masks,
# views, put_along_axis, out=, in-place operators), take keyword arguments (min=, max=,
# where=, prepend=, out=) and may raise for some examples.  The oracle is the loop over
# the views x[i]: its values, dtype and shape, or its error.  ``pytest --fuzz-long`` (or
# VMAPRT_FUZZ_LONG=1) runs 6000 programs; the default run a few hundred.
FAMILY_SHAPES = [(), (1,), (3,), (4,), (2, 3), (3, 4), (1, 4), (4, 1), (2, 1, 3)]
FAMILY_DTYPES = [np.float64, np.float64, np.float32, np.complex128, np.int64, np.bool_]
VALUE_SHAPES = [(), (1,), (4,), (3,), (4, 1), (1, 4), (2, 4), (3, 1), (1, 1, 4), (2,)]
KEYS = [Ellipsis, slice(None), slice(1, None), slice(None, None, -1), 0, -1, [0, 2], (Ellipsis, 0),
        (slice(None), 0), (0, slice(1, None)), None, [[0], [1]]]  # fmt: skip


REFUSALS = []  # programs that vmap refuses with a clear error where the loop gives a value


class _Step:
    """One step: ``fn(*operands) -> value`` and how it reads."""

    def __init__(self, text, fn, args):
        self.text, self.fn, self.args = text, fn, args


def _const(rng, shape, dtype):
    from conftest import random_array

    return random_array(rng, shape, dtype)


def _family_ops(rng, values):
    """Candidate steps over the per-example ``values`` (example 0 of each), as
    ``(text, fn, operand indices)``; a step may raise, for some examples or all."""
    i = int(rng.integers(len(values)))
    j = int(rng.integers(len(values)))
    a = values[i]
    dt = rng.choice([np.float64, np.float32, np.complex128, np.int64, np.bool_])
    c = _const(rng, VALUE_SHAPES[rng.integers(len(VALUE_SHAPES))], rng.choice(FAMILY_DTYPES))
    key = KEYS[rng.integers(len(KEYS))]
    number = [2.5, -1, 0, 1 + 0.5j, np.inf, np.nan, 300, True][rng.integers(8)]
    mask = _const(rng, np.shape(a)[rng.integers(np.ndim(a) + 1):] if np.ndim(a) else (), np.bool_)

    def write(fn):
        def step(x, *rest):
            y = x.copy()
            fn(y, *rest)
            return y

        return step

    ops = [
        (f"sin(v{i})", lambda x: np.sin(x), [i]),
        (f"abs(v{i})", np.abs, [i]),
        (f"-v{i}", lambda x: -x, [i]),
        (f"v{i} ** 2", lambda x: x**2, [i]),
        (f"v{i} * v{j}", lambda x, y: x * y, [i, j]),
        (f"v{i} + v{j}", lambda x, y: x + y, [i, j]),
        (f"v{i} - c{np.shape(c)}", lambda x: x - c, [i]),
        (f"maximum(v{i}, v{j})", np.maximum, [i, j]),
        (f"where(v{i} > v{j}, v{i}, v{j})", lambda x, y: np.where(np.real(x) > np.real(y), x, y), [i, j]),
        (f"v{i} @ v{j}", lambda x, y: x @ y, [i, j]),
        (f"dot(v{i}, v{j})", np.dot, [i, j]),
        (f"concat(v{i}, v{j})", lambda x, y: np.concatenate([x, y], axis=-1), [i, j]),
        (f"v{i}.astype({np.dtype(dt).name})", lambda x: x.astype(dt), [i]),
        (f"v{i}.T", lambda x: x.T, [i]),
        (f"ravel(v{i}, 'K')", lambda x: np.ravel(x, order="K"), [i]),
        (f"v{i}.reshape(-1)", lambda x: x.reshape(-1), [i]),
        (f"v{i}.sum(axis=-1)", lambda x: x.sum(axis=-1), [i]),
        (f"sum(v{i})", np.sum, [i]),
        (f"mean(v{i}, axis=0)", lambda x: np.mean(x, axis=0), [i]),
        (f"max(v{i}, axis=0)", lambda x: np.max(x, axis=0), [i]),
        (f"cumsum(v{i}, axis=-1)", lambda x: np.cumsum(x, axis=-1), [i]),
        (f"add.reduce(v{i})", lambda x: np.add.reduce(x), [i]),
        (f"cumulative_sum(v{i})", lambda x: np.cumulative_sum(x), [i]),
        (f"sum(v{i}, where=mask{np.shape(mask)})", lambda x: np.sum(x, where=mask), [i]),
        (f"clip(v{i}, min=c{np.shape(c)})", lambda x: np.clip(x, min=np.real(c)), [i]),
        (f"clip(v{i}, max=v{j})", lambda x, y: np.clip(x, max=y), [i, j]),
        (f"clip(v{i}, -0.5, c{np.shape(c)})", lambda x: np.clip(x, -0.5, np.real(c)), [i]),
        (f"diff(v{i}, prepend=0.5)", lambda x: np.diff(x, prepend=0.5), [i]),
        (f"diff(v{i}, n=0, append=c)", lambda x: np.diff(x, n=0, append=c), [i]),
        (f"diff(v{i}, prepend=v{j})", lambda x, y: np.diff(x, prepend=y), [i, j]),
        (f"take(v{i}, [], axis=0)", lambda x: np.take(x, [], axis=0), [i]),
        (f"v{i}[{key!r}]", lambda x: x[key], [i]),
        # (+ 0 first: the sign of a zero from a product is NumPy's choice of BLAS or not,
        # which the loop itself makes differently for different lengths; .copy(), in C
        # order: the memory order of one example of other functions' results, say a
        # concatenation of F-ordered examples, is not NumPy's in general)
        (f"(v{i} + 0).copy().view(int64)", lambda x: (x + 0).copy().view(np.int64) if (x + 0).dtype.itemsize in (8, 16) else x, [i]),
        (f"y = v{i}.copy(); y[{key!r}] = c{np.shape(c)}", write(lambda y: operator.setitem(y, key, c)), [i]),
        (f"y = v{i}.copy(); y[{key!r}] = v{j}", write(lambda y, w: operator.setitem(y, key, w)), [i, j]),
        (f"y = v{i}.copy(); y[{key!r}] = {number!r}", write(lambda y: operator.setitem(y, key, number)), [i]),
        (f"y = v{i}.copy(); y[y > 0] = {number!r}", write(lambda y: operator.setitem(y, np.real(y) > 0, number)), [i]),
        (f"y = v{i}.copy(); y[v{j} > 0] = 0", write(lambda y, w: operator.setitem(y, np.real(w) > 0, 0)), [i, j]),
        (f"y = v{i}.copy(); y.ravel()[...] = 0", write(lambda y: operator.setitem(y.ravel(), Ellipsis, 0)), [i]),
        (f"y = v{i}.copy(order='F'); y.ravel('K')[0] = 7", lambda x: _ravel_k_write(x), [i]),
        (f"y = v{i}.copy(); y.reshape(-1)[0] = -1", write(lambda y: operator.setitem(y.reshape(-1), 0, -1)), [i]),
        (f"y = v{i}.copy(); w = y[0]; w += 100", write(_rebind_first), [i]),
        (f"y = v{i}.copy(); y[..., 0] += 1", write(lambda y: operator.setitem(y, (Ellipsis, 0), y[..., 0] + 1)), [i]),
        (f"y = v{i}.copy(); y += v{j}", write(_iadd), [i, j]),
        (f"y = v{i}.copy(); negative(y, out=y)", write(lambda y: np.negative(y, out=y)), [i]),
        (f"y = v{i}.copy(); add(y, v{j}, out=y)", write(lambda y, w: np.add(y, w, out=y)), [i, j]),
        (f"y = v{i}.copy(); put_along_axis(y, argsort(y), v{j}, -1)",
         write(lambda y, w: np.put_along_axis(y, np.argsort(np.real(y), axis=-1), w, -1)), [i, j]),
        (f"y = v{i}.copy(); put_along_axis(y, argsort(y), c{np.shape(c)}, -1)",
         write(lambda y: np.put_along_axis(y, np.argsort(np.real(y), axis=-1), c, -1)), [i]),
        (f"v{i}[int(3*|v{j}|) % 5]", lambda x, y: x[(np.abs(y) * 3).astype(np.int64) % 5], [i, j]),
        (f"y = v{i}.copy(); y[int(3*|v{j}|) % 4] = v{j}",
         write(lambda y, w: operator.setitem(y, (np.abs(w) * 3).astype(np.int64) % 4, w)), [i, j]),
        (f"y = v{i}.copy(); y[..., int(2*|v{j}|) % 3] = {number!r}",
         write(lambda y, w: operator.setitem(y, (Ellipsis, (np.abs(w) * 2).astype(np.int64) % 3), number)), [i, j]),
        (f"y = v{i}.copy(); add(y, v{j}, out=y, where=v{j} > 0)",
         write(lambda y, w: np.add(y, w, out=y, where=np.real(w) > 0)), [i, j]),
        (f"y = v{i}.copy(); add.at(y, [0, 0], v{j})", write(lambda y, w: np.add.at(y, [0, 0], w)), [i, j]),
        (f"y = v{i}.copy(); y.fill({number!r})", write(lambda y: y.fill(number)), [i]),
        (f"y = v{i}.copy(); copyto(y, v{j}, where=mask)", write(lambda y, w: np.copyto(y, w, where=mask)), [i, j]),
    ]
    return ops


def _iadd(y, w):
    y += w


def _rebind_first(y):
    w = y[0]
    w += 100


def _ravel_k_write(x):
    y = x.copy(order="F")
    np.ravel(y, order="K")[0] = 7
    return y


def _family_program(seed):
    """``(steps, args, in_dims, size, chunk, nested)`` for program number ``seed``."""
    rng = np.random.default_rng(seed)
    size = int(rng.choice([0, 1, 2, 3, 5]))
    n = int(rng.integers(1, 4))
    args, in_dims, examples = [], [], []
    for k in range(n):
        shape = FAMILY_SHAPES[rng.integers(len(FAMILY_SHAPES))]
        dtype = FAMILY_DTYPES[rng.integers(len(FAMILY_DTYPES))]
        mapped = k == 0 or rng.random() < 0.6
        if mapped:
            d = int(rng.integers(len(shape) + 1))
            x = layout(_const(rng, (size,) + shape, dtype), d, str(rng.choice(LAYOUTS[:-1])))
            args.append(x)
            in_dims.append(d if rng.random() < 0.7 else d - len(shape) - 1)
        else:
            args.append(_const(rng, shape, dtype))
            in_dims.append(None)
        examples.append(_const(rng, shape, dtype))  # a stand-in example to choose steps with
    values = list(examples)
    steps = []
    for _ in range(int(rng.integers(1, 5))):
        for _attempt in range(12):
            ops = _family_ops(rng, values)
            text, fn, idx = ops[rng.integers(len(ops))]
            try:
                with np.errstate(all="ignore"), warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    out = fn(*(values[m] for m in idx))
            except Exception:
                if rng.random() < 0.15:  # keep a few programs that raise
                    steps.append(_Step(text, fn, idx))
                    return steps, args, tuple(in_dims), size, _chunk(rng, size), rng.random() < 0.1
                continue
            if np.size(out) > 256 or np.ndim(out) > 4:
                continue
            values.append(out)
            steps.append(_Step(text, fn, idx))
            break
    return steps, args, tuple(in_dims), size, _chunk(rng, size), rng.random() < 0.1


def _chunk(rng, size):
    return int(rng.integers(1, 3)) if size > 1 and rng.random() < 0.2 else None


def _family_runner(steps, n_inputs):
    def f(*inputs):
        values = list(inputs)
        for s in steps:
            values.append(s.fn(*(values[m] for m in s.args)))
        return values[-1]

    return f


def _views(args, in_dims, i):
    return [a if d is None else a[(slice(None),) * (d % np.ndim(a)) + (i,)] for a, d in zip(args, in_dims)]


def _family_loop(f, args, in_dims):
    n = next(np.shape(a)[d] for a, d in zip(args, in_dims) if d is not None)
    return np.stack([np.asarray(f(*_views(args, in_dims, i))) for i in range(n)])


def _errors_of_examples(f, args, in_dims):
    """The builtin classes of the errors that the examples raise, one by one."""
    n = next(np.shape(a)[d] for a, d in zip(args, in_dims) if d is not None)
    bases = set()
    for i in range(n):
        try:
            f(*_views(args, in_dims, i))
        except Exception as e:
            bases.add(next(c for c in type(e).__mro__ if c.__module__ == "builtins"))
    return tuple(bases)


def _perturbed(args, rng):
    """The inputs with every float element moved by a few units in the last place."""
    out = []
    for a in args:
        if np.asarray(a).dtype.kind in "fc":
            eps = np.finfo(np.asarray(a).dtype).eps
            a = (a * (1 + 4 * eps * rng.standard_normal(np.shape(a)))).astype(np.asarray(a).dtype)
        out.append(a)
    return out


def _close(got, want, f, args, in_dims):
    """Values equal to the loop's within the dtype's tolerance, or within how far the
    loop itself moves when the inputs move by a few ulps (an ill-conditioned result)."""
    from conftest import tol

    t = tol(got.dtype)
    err = np.abs(got.astype(complex) - want.astype(complex))
    allowed = t["atol"] + t["rtol"] * np.abs(want)
    nan = (np.isnan(got) & np.isnan(want)) if got.dtype.kind in "fc" else False
    bad = ~((err <= allowed) | nan | (got == want))  # (exact for ints and bools)
    if not bad.any():
        return True
    rng = np.random.default_rng(0)
    spread = np.zeros(want.shape)
    for _ in range(3):
        try:
            with np.errstate(all="ignore"), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                other = _family_loop(f, _perturbed(args, rng), in_dims)
        except Exception:
            return False
        d = np.abs(other.astype(complex) - want.astype(complex))  # (ints: a float's bits or a near tie)
        spread = np.maximum(spread, np.where(np.isnan(d), np.inf, d))
    return bool(np.all(~bad | (err <= 4 * spread)))


def _family_check(seed):
    """None when program ``seed`` behaves as the loop under vmap, else what differs."""
    steps, args, in_dims, size, chunk, nested = _family_program(seed)
    f = _family_runner(steps, len(args))
    text = "; ".join(s.text for s in steps)
    where = f"program {seed}: {text} | in_dims={in_dims} shapes={[np.shape(a) for a in args]} " \
            f"dtypes={[np.asarray(a).dtype.name for a in args]} chunk={chunk}"
    vf = vmaprt.vmap(f, in_dims=in_dims, chunk_size=chunk)
    if nested and size:
        outer = [a if d is None else np.stack([a, a[::-1] if np.ndim(a) else a]) for a, d in zip(args, in_dims)]
        odims = tuple(None if d is None else 0 for d in in_dims)
        vf = vmaprt.vmap(vf, in_dims=odims)
        f = lambda *xs, inner=f, dims=in_dims: _family_loop(inner, xs, dims)  # noqa: E731
        args, in_dims = outer, odims
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if size == 0:
            try:
                got = vf(*args)
            except RuntimeError as e:  # a per-example fallback cannot run on no example
                return None if str(e).startswith("vmap") else f"{where}: {e!r}"
            except Exception:
                return None  # (the loop has no example that could say otherwise)
            return None if got.shape[0] == 0 else f"{where}: B=0 gave shape {got.shape}"
        try:
            want = _family_loop(f, args, in_dims)
        except Exception as e:
            bases = _errors_of_examples(f, args, in_dims)
            try:
                got = vf(*args)
            except bases:  # (the error of one of the examples that raise)
                return None
            except RuntimeError as g:
                return None if str(g).startswith("vmap") else f"{where}: loop {e!r}, vmap {g!r}"
            except Exception as g:
                return f"{where}: loop raised {e!r}, vmap raised {g!r}"
            return f"{where}: loop raised {e!r}, vmap returned {got.dtype}{got.shape}"
        try:
            got = vf(*args)
        except RuntimeError as g:
            if str(g).startswith("vmap"):  # a documented refusal, which says why and the way out
                REFUSALS.append(f"{where}: {str(g)[:120]}")
                return None
            return f"{where}: vmap raised {g!r}"
        except Exception as g:
            cause = g.__cause__ or g.__context__
            if isinstance(cause, RuntimeError) and str(cause).startswith("vmap"):  # NumPy rewrapped a refusal
                REFUSALS.append(f"{where}: {str(cause)[:120]}")
                return None
            return f"{where}: vmap raised {g!r} where the loop gives {want.dtype}{want.shape}"
        if type(got) is not np.ndarray or got.shape != want.shape or got.dtype != want.dtype:
            return f"{where}: vmap {getattr(got, 'dtype', type(got))}{np.shape(got)}, loop {want.dtype}{want.shape}"
        if not _close(got, want, f, args, in_dims):
            return f"{where}: values differ\n{got}\n{want}"
    return None


def test_fuzz_program_families_match_the_loop(fuzz_long):
    count = 6000 if fuzz_long or os.environ.get("VMAPRT_FUZZ_LONG") else 300
    mismatches = [m for m in map(_family_check, range(count)) if m is not None]
    assert not mismatches, f"{len(mismatches)} of {count} programs differ from the loop:\n" + "\n".join(mismatches[:20])
