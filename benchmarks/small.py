"""Small batches of per-example functions made of many small operations.

``python -m benchmarks.small`` times, side by side in one process, the kind of
per-example code a scientist writes (time steps, fixed-count iterations,
recurrences, a small network, pairwise physics, small linear algebra) at
B = 16, 64, 1024 and 16384, as:

- ``vmaprt``: ``vmaprt.vmap(f)``;
- ``loop``: the Python loop ``np.stack([f(x[i]) for i in range(B)])`` (left out
  at B = 16384, where it takes seconds a call and grows linearly with B);
- ``numpy``: the same ``f`` called on the whole batch.  Every function here is
  written with ``...`` and negative axes, so it is its own hand-vectorized
  NumPy version;
- ``torch.vmap`` (``torch.func.vmap``, eager, CPU) and ``jax.jit(jax.vmap)``
  (compiled once before timing), when those import.

Each function is written once against an array module ``xp`` (NumPy, torch
or jax.numpy), so every column runs the same operations.  A second table gives
per-call and per-operation costs: an identity vmap, ``vmap(np.dot)`` on
[8, 4], and chains of 64 elementwise operations, reductions, basic indexes and
products with an unbatched matrix on [16, 8], whose per-operation cost is the
chain's time over 64 (the call's own cost taken away).

Timing follows ``benchmarks/run.py``: each column is checked against the
``numpy`` column first, then samples of every column are interleaved, and the
medians are reported as ratios, since the machine is shared and noisy.

Usage::

    python -m benchmarks.small                 # the whole family, a few minutes
    python -m benchmarks.small --quick         # B = 16 and 64 only, short samples
    python -m benchmarks.small --json out.json
"""

import argparse
import json
import statistics
import sys
import time
import warnings
from dataclasses import dataclass
from typing import Callable

import numpy as np

import vmaprt
from benchmarks.columns import available, geomean
from benchmarks.run import calibrate, interleaved, machine_info

BATCHES = (16, 64, 1024, 16384)
QUICK_BATCHES = (16, 64)
LOOP_MAX = 1024  # the loop is left out above this batch size
RTOL, ATOL = 1e-9, 1e-12


# The per-example functions, written once against an array module ------------------------------
def pendulum_rk4(xp, s):
    """40 RK4 steps of a damped pendulum; s = [angle, velocity]."""
    def deriv(s):
        return xp.stack([s[..., 1], -xp.sin(s[..., 0]) - 0.1 * s[..., 1]], -1)

    dt = 0.05
    for _ in range(40):
        k1 = deriv(s)
        k2 = deriv(s + 0.5 * dt * k1)
        k3 = deriv(s + 0.5 * dt * k2)
        k4 = deriv(s + dt * k3)
        s = s + dt / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
    return s


def newton_cbrt(xp, a):
    """12 Newton steps towards the cube root of each of 4 numbers."""
    y = 1.0 + 0.0 * a
    for _ in range(12):
        y = y - (y * y * y - a) / (3.0 * y * y)
    return y


def ema(xp, x):
    """An exponential moving average over a sequence of 32."""
    m = x[..., 0]
    for t in range(1, 32):
        m = 0.9 * m + 0.1 * x[..., t]
    return m


def mlp(xp, x, w1, b1, w2, b2):
    """An 8-16-4 network with tanh, weights shared by the batch."""
    h = xp.tanh(x @ w1 + b1)
    return h @ w2 + b2


def lennard_jones(xp, p):
    """The Lennard-Jones energy of 8 particles in 3-D."""
    d = p[..., :, None, :] - p[..., None, :, :]
    off = 1.0 - xp.eye(8, dtype=xp.float64)
    r2 = (d * d).sum(-1) + (1.0 - off)
    inv6 = 1.0 / (r2 * r2 * r2)
    return (2.0 * (inv6 * inv6 - inv6) * off).sum(-1).sum(-1)


def logistic(xp, x):
    """60 steps of the logistic map at r = 3.7, for 4 starting points."""
    for _ in range(60):
        x = 3.7 * x * (1.0 - x)
    return x


def solve4(xp, a, b):
    """Solve a 4x4 system and return the squared residual and the solution's norm."""
    x = xp.linalg.solve(a, b[..., None])[..., 0]
    r = (a @ x[..., None])[..., 0] - b
    return xp.stack([(r * r).sum(-1), (x * x).sum(-1)], -1)


@dataclass(frozen=True)
class Case:
    """One per-example function: its inputs for a batch of B, and which are mapped."""

    name: str
    func: Callable  # func(xp, *args), for one example or (written with ...) for the batch
    inputs: Callable  # inputs(rng, B) -> tuple of np.ndarray, mapped ones batch-first
    in_dims: tuple


def _mlp_inputs(rng, b):
    return (rng.standard_normal((b, 8)), rng.standard_normal((8, 16)) / 3, rng.standard_normal(16),
            rng.standard_normal((16, 4)) / 4, rng.standard_normal(4))


def _solve_inputs(rng, b):
    a = rng.standard_normal((b, 4, 4)) + 4 * np.eye(4)
    return a, rng.standard_normal((b, 4))


CASES = [
    Case("RK4 pendulum, 40 steps", pendulum_rk4, lambda r, b: (r.uniform(-1, 1, (b, 2)),), (0,)),
    Case("Newton cube root, 12 steps", newton_cbrt, lambda r, b: (r.uniform(1, 8, (b, 4)),), (0,)),
    Case("EMA over 32 steps", ema, lambda r, b: (r.standard_normal((b, 32)),), (0,)),
    Case("MLP 8-16-4", mlp, _mlp_inputs, (0, None, None, None, None)),
    Case("Lennard-Jones, 8 particles", lennard_jones,
         lambda r, b: (r.uniform(0, 3, (b, 8, 3)),), (0,)),
    Case("logistic map, 60 steps", logistic, lambda r, b: (r.uniform(0.1, 0.9, (b, 4)),), (0,)),
    Case("4x4 solve and residual", solve4, _solve_inputs, (0, 0)),
]


# Columns -------------------------------------------------------------------------------------
def _per_example(case, xp):
    return lambda *args: case.func(xp, *args)


def columns_for(case, args, b, modules):
    """``{column: zero-argument callable}`` for one case and batch; each returns an ndarray."""
    f = _per_example(case, np)
    batched = vmaprt.vmap(f, in_dims=case.in_dims)
    cols = {"vmaprt": lambda: batched(*args), "numpy": lambda: f(*args)}
    if b <= LOOP_MAX:
        mapped = [d is not None for d in case.in_dims]

        def loop():
            return np.stack([f(*[a[i] if m else a for a, m in zip(args, mapped)]) for i in range(b)])

        cols["loop"] = loop
    torch = modules.get("torch")
    if torch is not None:
        targs = [torch.from_numpy(np.ascontiguousarray(a)) for a in args]
        tf = torch.func.vmap(_per_example(case, torch), in_dims=case.in_dims)
        cols["torch.vmap"] = lambda: tf(*targs).numpy()
    jax = modules.get("jax")
    if jax is not None:
        jargs = [jax.numpy.asarray(a) for a in args]
        jf = jax.jit(jax.vmap(_per_example(case, jax.numpy), in_axes=case.in_dims))
        jf(*jargs).block_until_ready()  # compile before timing
        cols["jax.jit(vmap)"] = lambda: np.asarray(jf(*jargs).block_until_ready())
    return cols


def count_ops(case, args):
    """How many NumPy calls one call of the case makes under vmap (dispatches through rules)."""
    from vmaprt import _batched

    seen = [0]
    original = _batched.BatchedArray.__array_ufunc__, _batched.BatchedArray.__array_function__

    def ufunc(self, *a, **k):
        seen[0] += 1
        return original[0](self, *a, **k)

    def function(self, *a, **k):
        seen[0] += 1
        return original[1](self, *a, **k)

    getitem = _batched.BatchedArray.__getitem__

    def item(self, key):
        seen[0] += 1
        return getitem(self, key)

    _batched.BatchedArray.__array_ufunc__, _batched.BatchedArray.__array_function__ = ufunc, function
    _batched.BatchedArray.__getitem__ = item
    try:
        vmaprt.vmap(_per_example(case, np), in_dims=case.in_dims)(*args)
    finally:
        _batched.BatchedArray.__array_ufunc__, _batched.BatchedArray.__array_function__ = original
        _batched.BatchedArray.__getitem__ = getitem
    return seen[0]


def _check(cols):
    reference = np.asarray(cols["numpy"]())
    bad = {}
    for name, fn in cols.items():
        out = np.asarray(fn())
        if out.shape != reference.shape or not np.allclose(out, reference, rtol=RTOL, atol=ATOL):
            bad[name] = f"shape {out.shape} vs {reference.shape}" if out.shape != reference.shape else (
                f"max abs error {np.max(np.abs(out - reference)):.3g}")
    return bad


def _time(cols, target, repeats, settle):
    numbers = {k: calibrate(fn, target) for k, fn in cols.items()}
    samples = interleaved(cols, numbers, repeats, settle)
    return {k: statistics.median(v) for k, v in samples.items()}


# Per-call and per-operation costs -------------------------------------------------------------
CHAIN = 64  # operations in each chain


# Per-example functions of a [8] (and W [8, 8]) whose bodies are CHAIN operations of one
# kind; they use only operators and methods, so they run unchanged on every xp.
def _elementwise_chain(xp, a, w):
    for _ in range(CHAIN // 2):
        a = a * 0.9 + 0.1
    return a


def _reduction_chain(xp, a, w):
    s = a.sum(-1)
    for _ in range(CHAIN - 1):
        s = s + a.sum(-1)
    return s


def _index_chain(xp, a, w):
    s = a[..., 0]
    for i in range(CHAIN - 1):
        s = a[..., i % 8]
    return s


def _product_chain(xp, a, w):
    for _ in range(CHAIN):
        a = a @ w
    return a


def _identity(xp, a, w):
    return a


# label -> (function, operations in one call of it)
CHAINS = {
    "elementwise (a * 0.9 + 0.1)": (_elementwise_chain, 2 * (CHAIN // 2)),
    "reduction (a.sum(-1))": (_reduction_chain, 2 * CHAIN - 1),
    "basic index (a[..., i])": (_index_chain, CHAIN),
    "matmul, W unbatched (a @ W)": (_product_chain, CHAIN),
    "identity (the call alone)": (_identity, 0),
}


def overheads(modules, target, repeats, settle):
    """Rows of per-call and per-operation seconds for each column, on [16, 8]."""
    rng = np.random.default_rng(1)
    a, w = rng.standard_normal((16, 8)), rng.standard_normal((8, 8)) / 3
    rows = []
    times = {}
    for label, (func, ops) in CHAINS.items():
        cols = columns_for(Case(label, func, None, (0, None)), (a, w), 16, modules)
        cols.pop("loop", None)
        times[label] = (_time(cols, target, repeats, settle), ops)
    call = times.pop("identity (the call alone)")[0]
    rows.append({"what": "per call: identity vmap on [16, 8]", "seconds": call})
    for label, (t, ops) in times.items():
        rows.append({"what": f"per op: {label}", "seconds": {k: max(t[k] - call.get(k, 0.0), 0.0) / ops for k in t}})
    x, y = rng.standard_normal((2, 8, 4))
    vdot = vmaprt.vmap(np.dot)
    dot = {"vmaprt": lambda: vdot(x, y), "numpy": lambda: np.vecdot(x, y)}
    torch = modules.get("torch")
    if torch is not None:
        tx, ty = torch.from_numpy(x), torch.from_numpy(y)
        tdot = torch.func.vmap(torch.dot)
        dot["torch.vmap"] = lambda: tdot(tx, ty).numpy()
    jax = modules.get("jax")
    if jax is not None:
        jx, jy = jax.numpy.asarray(x), jax.numpy.asarray(y)
        jdot = jax.jit(jax.vmap(jax.numpy.dot))
        jdot(jx, jy).block_until_ready()
        dot["jax.jit(vmap)"] = lambda: np.asarray(jdot(jx, jy).block_until_ready())
    rows.append({"what": "per call: vmap(np.dot) on [8, 4]", "seconds": _time(dot, target, repeats, settle)})
    return rows


# Output --------------------------------------------------------------------------------------
RATIOS = [("vmaprt/numpy", "vmaprt", "numpy"), ("loop/vmaprt", "loop", "vmaprt"),
          ("vmaprt/torch", "vmaprt", "torch.vmap"), ("vmaprt/jax.jit", "vmaprt", "jax.jit(vmap)")]


def _ratio(t, num, den):
    return t[num] / t[den] if num in t and den in t and t[den] > 0 else None


def _fmt(r):
    return "-" if r is None else (f"{r:.2f}" if r < 100 else f"{r:.0f}")


def _us(seconds):
    return "-" if seconds is None else f"{seconds * 1e6:.2f}"


def print_family(rows, batches):
    for b in batches:
        at = [r for r in rows if r["batch"] == b]
        print(f"\nB = {b}: ratios of median times (vmaprt/x < 1 and loop/vmaprt > 1: vmaprt is faster)")
        print(f"  {'workload':<28} {'ops':>4} " + " ".join(f"{name:>14}" for name, _, _ in RATIOS))
        for r in at:
            print(f"  {r['name']:<28} {r['ops']:>4} "
                  + " ".join(f"{_fmt(_ratio(r['seconds'], n, d)):>14}" for _, n, d in RATIOS))
        g = [geomean([_ratio(r["seconds"], n, d) for r in at]) for _, n, d in RATIOS]
        print(f"  {'geometric mean':<28} {'':>4} " + " ".join(f"{_fmt(v):>14}" for v in g))


def print_overheads(rows, columns):
    print("\nPer call and per operation, on [16, 8] (µs; per op: the chain's time over its operations,"
          " less the call's)")
    print(f"  {'':<44}" + "".join(f"{c:>14}" for c in columns))
    for r in rows:
        print(f"  {r['what']:<44}" + "".join(f"{_us(r['seconds'].get(c)):>14}" for c in columns))


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m benchmarks.small", description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="B = 16 and 64 only, short samples")
    p.add_argument("--filter", action="append", metavar="SUBSTRING", help="only these workloads")
    p.add_argument("--repeats", type=int, metavar="N", help="samples per column (default 7; 3 with --quick)")
    p.add_argument("--json", metavar="PATH", help="write the results to PATH")
    p.add_argument("--no-torch", action="store_true")
    p.add_argument("--no-jax", action="store_true")
    opts = p.parse_args(argv)
    repeats = opts.repeats or (3 if opts.quick else 7)
    target, settle = (0.005, 0.0) if opts.quick else (0.025, 0.05)
    batches = QUICK_BATCHES if opts.quick else BATCHES
    modules = {m: None if skip else available(m) for m, skip in (("torch", opts.no_torch), ("jax", opts.no_jax))}
    cases = [c for c in CASES if not opts.filter or any(f.lower() in c.name.lower() for f in opts.filter)]
    columns = ["vmaprt", "numpy", "loop"] + [c for c, m in (("torch.vmap", "torch"), ("jax.jit(vmap)", "jax"))
                                              if modules[m] is not None]
    print(f"small-batch family: {len(cases)} workloads at B = {', '.join(map(str, batches))}; columns "
          f"{', '.join(columns)}", flush=True)
    start = time.perf_counter()
    rows, status = [], 0
    for b in batches:
        for case in cases:
            args = case.inputs(np.random.default_rng(0), b)
            with warnings.catch_warnings():
                warnings.simplefilter("error", vmaprt.PerformanceWarning)  # a fallback is a failure here
                cols = columns_for(case, args, b, modules)
                bad = _check(cols)
                ops = count_ops(case, args)
            for name, problem in bad.items():
                print(f"  ERROR {case.name} B={b} {name}: {problem}", file=sys.stderr)
                status = 1
                cols.pop(name)
            t0 = time.perf_counter()
            seconds = _time(cols, target, repeats, settle)
            rows.append({"name": case.name, "batch": b, "ops": ops, "seconds": seconds})
            print(f"  B={b:<6} {case.name:<28} vmaprt/numpy {_fmt(_ratio(seconds, 'vmaprt', 'numpy')):>6}"
                  f"  ({time.perf_counter() - t0:.1f} s)", flush=True)
    over = overheads(modules, target, repeats, settle)
    print_family(rows, batches)
    print_overheads(over, [c for c in columns if c != "loop"])
    info = machine_info(modules)
    info["seconds"] = round(time.perf_counter() - start, 1)
    print(f"\nnumpy {np.__version__}"
          + (f", torch {info['torch']}" if "torch" in info else "") + (f", jax {info['jax']}" if "jax" in info else "")
          + f", {info['cores_available']} cores, vmaprt threads {info['vmaprt_threads']}, total {info['seconds']:.0f} s")
    if opts.json:
        with open(opts.json, "w") as fh:
            json.dump({"machine": info, "family": rows, "overheads": over}, fh, indent=1)
    return status


if __name__ == "__main__":
    sys.exit(main())
