"""The columns of the table: each builds, from a workload and its inputs, one
zero-argument callable that runs the whole batch and returns a NumPy array.

Every builder does its setup (wrapping with vmap, converting inputs to
tensors, compiling with ``jax.jit``) outside the callable, so the timing sees
only the batched call.  torch and JAX are imported only when their column is
asked for; :func:`available` says which of them import.
"""

import importlib
import math

import numpy as np

import vmaprt

__all__ = ["COLUMNS", "OPTIONAL", "available", "build", "numpy_candidates", "geomean"]

# Table order.  "numpy" is the baseline: the fastest of a workload's hand-vectorized expressions.
COLUMNS = ["vmaprt", "numpy", "loop", "np.vectorize", "torch.vmap", "jax.vmap", "jax.jit(vmap)"]
OPTIONAL = {"torch.vmap": "torch", "jax.vmap": "jax", "jax.jit(vmap)": "jax"}


def available(module):
    """The module if it imports (jax with 64-bit floats on, to compute what NumPy does), else None."""
    try:
        mod = importlib.import_module(module)
    except Exception:  # ImportError, or a broken install that fails on import
        return None
    if module == "jax":
        mod.config.update("jax_enable_x64", True)
    return mod


def _dims(dims, nargs):
    return dims if isinstance(dims, tuple) else (dims,) * nargs


def _nest(vmap, func, w, nargs, **names):
    """``vmap(vmap(...(func)))``, ``w.levels`` deep, with the workload's dims at every level."""
    in_name, out_name = names.get("in_name", "in_dims"), names.get("out_name", "out_dims")
    for _ in range(w.levels):
        func = vmap(func, **{in_name: _dims(w.in_dims, nargs), out_name: w.out_dims})
    return func


def _loop1(func, in_dims, out_dim):
    """``np.stack([func(x[i], W) for i in range(n)], axis=out_dim)`` for any in_dims."""

    def looped(*args):
        picks = [None if d is None else (slice(None),) * d for d in in_dims]
        n = next(a.shape[d] for a, d in zip(args, in_dims) if d is not None)
        outs = [func(*[a if p is None else a[p + (i,)] for a, p in zip(args, picks)]) for i in range(n)]
        return np.stack(outs, axis=out_dim)

    return looped


def _vectorized(func, args, w, reference):
    """``np.vectorize(func, signature=...)``: the batch axes go first, the signature names
    every per-example axis; unbatched arguments broadcast as core dimensions."""
    in_dims = _dims(w.in_dims, len(args))
    moved, cores = [], []
    for k, (a, d) in enumerate(zip(args, in_dims)):
        if d is not None:  # level l's batch axis sits at l + d once the outer ones are in front
            for level in range(w.levels):
                a = np.moveaxis(a, level + d, level)
        core = a.ndim - (w.levels if d is not None else 0)
        moved.append(a)
        cores.append("(" + ",".join(f"a{k}_{j}" for j in range(core)) + ")")
    out_core = reference.ndim - w.levels
    signature = ",".join(cores) + "->(" + ",".join(f"o{j}" for j in range(out_core)) + ")"
    vec = np.vectorize(func, signature=signature)

    def call():
        out = vec(*moved)
        for level in reversed(range(w.levels)):  # innermost level's out_dim first
            out = np.moveaxis(out, level, level + w.out_dims)
        return out

    return call, signature


def build(column, w, args, reference, modules):
    """The callable of ``column`` for workload ``w`` on ``args``, or None if the column
    does not apply (its library is missing, or the workload has no equivalent in it).

    Returns ``(call, note)``; ``note`` says what exactly runs, for the JSON.
    """
    nargs = len(args)
    if column == "vmaprt":
        f = _nest(vmaprt.vmap, w.func, w, nargs)
        return (lambda: f(*args)), "vmaprt.vmap"
    if column == "loop":
        f = w.func
        for _ in range(w.levels):
            f = _loop1(f, _dims(w.in_dims, nargs), w.out_dims)
        return (lambda: f(*args)), "np.stack([f(x[i]) for i in range(n)])"
    if column == "np.vectorize":
        call, signature = _vectorized(w.func, args, w, reference)
        return call, f"np.vectorize(f, signature={signature!r})"
    if column == "torch.vmap":
        torch = modules.get("torch")
        if torch is None or w.torch is None:
            return None, None
        f = _nest(torch.vmap, w.torch(torch), w, nargs)
        targs = [torch.from_numpy(a) if a.strides and min(a.strides) >= 0 else torch.tensor(a) for a in args]
        return (lambda: f(*targs).numpy()), f"torch.vmap, {torch.get_num_threads()} threads"
    if column in ("jax.vmap", "jax.jit(vmap)"):
        jax = modules.get("jax")
        if jax is None or w.jax is None:
            return None, None
        f = _nest(jax.vmap, w.jax(jax), w, nargs, in_name="in_axes", out_name="out_axes")
        if column == "jax.jit(vmap)":
            f = jax.jit(f)
        jargs = [jax.device_put(a) for a in args]
        return (lambda: np.asarray(f(*jargs).block_until_ready())), column
    raise ValueError(f"unknown column {column!r}")


def numpy_candidates(w, args):
    """The hand-vectorized expressions: ``{label: callable}``."""
    return {label: (lambda fn=fn: fn(*args)) for label, fn in w.numpy.items()}


def geomean(values):
    values = [v for v in values if v is not None and v > 0 and math.isfinite(v)]
    return math.exp(sum(map(math.log, values)) / len(values)) if values else None
