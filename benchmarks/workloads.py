"""The workloads of the benchmark suite, as data.

A :class:`Workload` is one row of the table: a function written for one
example, a builder of its inputs, the ``in_dims``/``out_dims`` it is mapped
with, the hand-vectorized NumPy expressions it is measured against, and the
torch and JAX per-example equivalents (built lazily, so that neither library
has to be installed).  The runner (``benchmarks/run.py``) derives every column
from these fields: ``vmaprt.vmap(func, in_dims, out_dims)``, the Python loop,
``np.vectorize`` with a signature, ``torch.vmap`` and ``jax.vmap``.

Adding a workload means adding one entry to ``WORKLOADS``.
"""

import importlib.util
from dataclasses import dataclass, field, replace
from typing import Callable

import numpy as np
import scipy.special

__all__ = ["Workload", "WORKLOADS", "normal"]


@dataclass(frozen=True)
class Workload:
    """One benchmark row.

    Attributes
    ----------
    name : str
        What is computed, short; with ``shape`` it names the row (``--filter``
        matches either).
    func : callable
        The per-example NumPy function, as a vmaprt user writes it.
    inputs : callable
        ``inputs(rng, quick) -> tuple of np.ndarray``: the arguments, at the
        default sizes or, with ``quick``, small ones.
    numpy : dict of str to callable
        Hand-vectorized NumPy for the whole batch, ``label -> fn(*args)``.  The
        first entry is the reference that every column is checked against;
        the fastest in each run is the baseline that ratios are taken to.
    in_dims, out_dims : int, None or tuple
        As for ``vmap``; the same for every level when ``levels > 1``.
    levels : int
        How deep the vmap is nested: 2 is ``vmap(vmap(func))``.
    torch, jax : callable, optional
        ``torch(torch_module) -> per-example function`` and likewise for JAX
        (given the ``jax`` module); None leaves the column empty.
    """

    name: str
    func: Callable
    inputs: Callable
    numpy: dict
    in_dims: object = 0
    out_dims: object = 0
    levels: int = 1
    torch: Callable = None
    jax: Callable = None
    shape: str = field(default="", compare=False)

    @property
    def label(self):
        return f"{self.name} {self.shape}".strip()


def normal(full, quick, view=None):
    """An ``inputs`` builder: standard normal arrays of shapes ``full`` (or ``quick``).

    ``view`` maps the tuple of fresh C-contiguous arrays to the arguments, e.g.
    to pass a transposed view.
    """

    def build(rng, is_quick=False):
        arrays = tuple(rng.standard_normal(s) for s in (quick if is_quick else full))
        return view(*arrays) if view is not None else arrays

    return build


def _shape(shape):
    return "[" + ", ".join(map(str, shape)) + "]"


# Per-example functions --------------------------------------------------------------
def relu_linear(x, w):  # [k], [k, m] -> [m]
    return np.maximum(x @ w, 0.0)


def wave(x):  # any shape, elementwise
    return np.sin(x) * np.exp(-(x**2)) + 0.5 * x


def softmax(r):  # [n] -> [n]
    e = np.exp(r - r.max())
    return e / e.sum()


def scipy_softmax(r):  # [n] -> [n], through the batch-aware SciPy wrapper
    from vmaprt import scipy as vsp

    return vsp.softmax(r)


def standardize_dot(x, w):  # [k], [k] -> []
    return ((x - x.mean()) / x.std()) @ w


def tanh_linear(m, w):  # [n, k], [k, m] -> [n, m]
    return np.tanh(m @ w)


# Hand-vectorized NumPy ------------------------------------------------------------------
def relu_linear_inplace(x, w):
    out = x @ w
    return np.maximum(out, 0.0, out=out)


def wave_inplace(x):
    t = np.square(x)
    np.negative(t, out=t)
    np.exp(t, out=t)
    t *= np.sin(x)
    t += 0.5 * x
    return t


def softmax_rows(x):
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def softmax_rows_inplace(x):
    e = x - x.max(axis=1, keepdims=True)
    np.exp(e, out=e)
    e /= e.sum(axis=1, keepdims=True)
    return e


def standardize_dot_rows(x, w):
    return ((x - x.mean(axis=1, keepdims=True)) / x.std(axis=1, keepdims=True)) @ w


def standardize_dot_algebra(x, w):
    # (x - mu) / sd @ w == (x @ w - mu * sum(w)) / sd: one GEMV and no [B, k] temporaries
    mu = x.mean(axis=1)
    return (x @ w - mu * w.sum()) / x.std(axis=1)


def tanh_linear_batched(m, w):  # m [n, B, k] -> [n, B, m]: matmul broadcasts over n
    return np.tanh(m @ w)


def tanh_linear_gemm(m, w):  # one GEMM over the C-contiguous [n * B, k] rows
    out = (m.reshape(-1, m.shape[-1]) @ w).reshape(m.shape[:-1] + w.shape[-1:])
    return np.tanh(out, out=out)


# torch (t is the torch module) and JAX (j is the jax module) equivalents -----------------
def _t_dot(t):
    return t.dot


def _j_dot(j):
    return j.numpy.dot


def _t_wave(t):
    return lambda x: t.sin(x) * t.exp(-(x**2)) + 0.5 * x


def _j_wave(j):
    jnp = j.numpy
    return lambda x: jnp.sin(x) * jnp.exp(-(x**2)) + 0.5 * x


def _t_standardize_dot(t):
    return lambda x, w: ((x - x.mean()) / x.std(correction=0)) @ w


def _j_standardize_dot(j):
    return lambda x, w: ((x - x.mean()) / x.std()) @ w


_SOFTMAX = Workload(
    "row softmax", softmax, normal([(2_000, 1_000)], [(100, 1_000)]),
    {"exp(x - max) / sum": softmax_rows, "in place": softmax_rows_inplace,
     "scipy.special.softmax": lambda x: scipy.special.softmax(x, axis=1)},
    torch=lambda t: (lambda r: t.softmax(r, dim=-1)),
    jax=lambda j: j.nn.softmax,
    shape=_shape((2_000, 1_000)),
)

WORKLOADS = [
    Workload(
        "dot", np.dot, normal([(100_000, 8)] * 2, [(1_000, 8)] * 2),
        {"einsum('ij,ij->i')": lambda x, y: np.einsum("ij,ij->i", x, y),
         "np.vecdot(x, y)": np.vecdot,
         "(x * y).sum(1)": lambda x, y: (x * y).sum(axis=1)},
        torch=_t_dot, jax=_j_dot, shape=_shape((100_000, 8)),
    ),
    Workload(
        "dot", np.dot, normal([(1_000, 1_000)] * 2, [(100, 100)] * 2),
        {"einsum('ij,ij->i')": lambda x, y: np.einsum("ij,ij->i", x, y),
         "np.vecdot(x, y)": np.vecdot},
        torch=_t_dot, jax=_j_dot, shape=_shape((1_000, 1_000)),
    ),
    Workload(
        "dot, in_dims=(1, None)", np.dot, normal([(8, 100_000), (8,)], [(8, 1_000), (8,)]),
        {"y @ x": lambda x, y: y @ x,
         "einsum('kb,k->b')": lambda x, y: np.einsum("kb,k->b", x, y)},
        in_dims=(1, None), torch=_t_dot, jax=_j_dot, shape=_shape((8, 100_000)),
    ),
    Workload(
        "matmul", np.matmul, normal([(100_000, 3, 3)] * 2, [(1_000, 3, 3)] * 2),
        {"a @ b": np.matmul,
         "einsum('bij,bjk->bik')": lambda a, b: np.einsum("bij,bjk->bik", a, b)},
        torch=lambda t: t.matmul, jax=lambda j: j.numpy.matmul, shape=_shape((100_000, 3, 3)),
    ),
    Workload(
        "matmul", np.matmul, normal([(200, 64, 64)] * 2, [(20, 16, 16)] * 2),
        {"a @ b": np.matmul},
        torch=lambda t: t.matmul, jax=lambda j: j.numpy.matmul, shape=_shape((200, 64, 64)),
    ),
    Workload(
        "relu(x @ W), W unbatched", relu_linear, normal([(10_000, 64), (64, 64)], [(500, 64), (64, 64)]),
        {"np.maximum(x @ W, 0)": relu_linear, "x @ W, maximum(out=)": relu_linear_inplace},
        in_dims=(0, None),
        torch=lambda t: (lambda x, w: t.relu(x @ w)),
        jax=lambda j: (lambda x, w: j.nn.relu(x @ w)),
        shape=_shape((10_000, 64)),
    ),
    Workload(
        "sin(x)*exp(-x**2)+0.5*x", wave, normal([(2_000, 1_000)], [(100, 1_000)]),
        {"same expression": wave, "ufuncs with out=": wave_inplace},
        torch=_t_wave, jax=_j_wave, shape=_shape((2_000, 1_000)),
    ),
    Workload(
        "same chain, in_dims=1 on x.T", wave,
        normal([(2_000, 1_000)], [(100, 1_000)], view=lambda x: (x.T,)),
        {"same expression, .T": lambda x: wave(x).T, "ufuncs with out=, .T": lambda x: wave_inplace(x).T},
        in_dims=1, torch=_t_wave, jax=_j_wave, shape=_shape((1_000, 2_000)),
    ),
    Workload(
        "row sum", np.sum, normal([(2_000, 1_000)], [(100, 1_000)]),
        {"x.sum(1)": lambda x: x.sum(axis=1), "x @ ones": lambda x: x @ np.ones(x.shape[1])},
        torch=lambda t: t.sum, jax=lambda j: j.numpy.sum, shape=_shape((2_000, 1_000)),
    ),
    Workload(
        "row mean", np.mean, normal([(2_000, 1_000)], [(100, 1_000)]),
        {"x.mean(1)": lambda x: x.mean(axis=1),
         "x @ full(1/n)": lambda x: x @ np.full(x.shape[1], 1.0 / x.shape[1])},
        torch=lambda t: t.mean, jax=lambda j: j.numpy.mean, shape=_shape((2_000, 1_000)),
    ),
    Workload(
        "row max", np.max, normal([(2_000, 1_000)], [(100, 1_000)]),
        {"x.max(1)": lambda x: x.max(axis=1)},
        torch=lambda t: t.amax, jax=lambda j: j.numpy.max, shape=_shape((2_000, 1_000)),
    ),
    _SOFTMAX,
    # the same rows, written with vmaprt's batch-aware SciPy (when it has one)
    *([replace(_SOFTMAX, name="row softmax, vmaprt.scipy", func=scipy_softmax)]
      if importlib.util.find_spec("vmaprt.scipy") else []),
    Workload(
        "vmap(vmap(dot))", np.dot, normal([(100, 100, 16)] * 2, [(10, 10, 16)] * 2),
        {"einsum('ijk,ijk->ij')": lambda x, y: np.einsum("ijk,ijk->ij", x, y),
         "np.vecdot(x, y)": np.vecdot},
        levels=2, torch=_t_dot, jax=_j_dot, shape=_shape((100, 100, 16)),
    ),
    Workload(
        "standardize then dot", standardize_dot, normal([(10_000, 64), (64,)], [(500, 64), (64,)]),
        {"same on rows": standardize_dot_rows, "x @ w, then scale": standardize_dot_algebra},
        in_dims=(0, None), torch=_t_standardize_dot, jax=_j_standardize_dot,
        shape=_shape((10_000, 64)),
    ),
    Workload(
        "tanh(m @ W), in/out_dims=1", tanh_linear,
        normal([(64, 256, 64), (64, 64)], [(16, 32, 16), (16, 16)]),
        {"np.tanh(m @ W)": tanh_linear_batched, "one GEMM, tanh(out=)": tanh_linear_gemm},
        in_dims=(1, None), out_dims=1,
        torch=lambda t: (lambda m, w: t.tanh(m @ w)),
        jax=lambda j: (lambda m, w: j.numpy.tanh(m @ w)),
        shape=_shape((64, 256, 64)),
    ),
    Workload(
        "tiny dot (per-call overhead)", np.dot, normal([(8, 4)] * 2, [(8, 4)] * 2),
        {"np.vecdot(x, y)": np.vecdot,
         "einsum('ij,ij->i')": lambda x, y: np.einsum("ij,ij->i", x, y),
         "(x * y).sum(1)": lambda x, y: (x * y).sum(axis=1)},
        torch=_t_dot, jax=_j_dot, shape=_shape((8, 4)),
    ),
]
