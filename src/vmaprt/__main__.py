"""``python -m vmaprt``: a short demo, then a benchmark table.

Each row of the table is one workload from ``WORKLOADS``, timed three ways:
``vmaprt.vmap(f)``, the Python loop ``np.stack([f(x[i]) for i in range(n)])``
and the best hand-vectorized NumPy expression for the same job.  Before any
timing, the vmaprt result is checked against the NumPy one.

Usage::

    python -m vmaprt                 # default sizes, a few seconds
    python -m vmaprt --quick         # smaller sizes, about a second
    python -m vmaprt --json out.json # also write the numbers to out.json

The table fits an 80-column terminal.  While it measures, a progress line
goes to standard error when that is a terminal.
"""

import argparse
import itertools
import json
import os
import platform
import statistics
import sys
import time
import timeit
from typing import Callable, NamedTuple

import numpy as np

import vmaprt


class Workload(NamedTuple):
    """One row of the table: a per-example function and its NumPy counterpart."""

    name: str
    computes: str  # what f does for one example, and the NumPy it is timed against (--help)
    func: Callable  # written for one example
    numpy: Callable  # the same job on the whole batch, vectorized by hand
    shapes: tuple  # the shape of each input at the default sizes, batch axis first
    quick_shapes: tuple  # the same with --quick
    in_dims: object = 0


def _relu_linear(x, w):
    return np.maximum(x @ w, 0.0)


def _sum_and_mean(row):
    return np.stack([row.sum(), row.mean()])


def _wave(x):
    return np.sin(x) * np.exp(-x**2) + 0.5 * x


# Each input is drawn from a seeded normal; in_dims=None marks an unbatched one (W).
WORKLOADS = (
    Workload("batched dot", "np.dot(x, y), x and y [8]; numpy: einsum('nd,nd->n')",
             np.dot, lambda x, y: np.einsum("nd,nd->n", x, y),
             ((100_000, 8), (100_000, 8)), ((10_000, 8), (10_000, 8))),
    Workload("tiny batched dot", "np.dot on 8 pairs of [4], per-call cost; numpy: np.vecdot",
             np.dot, np.vecdot,
             ((8, 4), (8, 4)), ((8, 4), (8, 4))),
    Workload("elementwise chain", "sin(x) * exp(-x**2) + 0.5 * x; numpy: the same",
             _wave, _wave,
             ((2_000, 1_000),), ((200, 1_000),)),
    Workload("row sum & mean", "[x.sum(), x.mean()]; numpy: x.sum(1), x.mean(1)",
             _sum_and_mean, lambda x: np.stack([x.sum(axis=1), x.mean(axis=1)], axis=1),
             ((2_000, 1_000),), ((200, 1_000),)),
    Workload("matmul 3x3", "a @ b, a and b [3, 3]; numpy: np.matmul on the stacks",
             np.matmul, np.matmul,
             ((100_000, 3, 3), (100_000, 3, 3)), ((10_000, 3, 3), (10_000, 3, 3))),
    Workload("relu(x @ W)", "max(x @ W, 0), W [64, 64] shared; numpy: the same",
             _relu_linear, _relu_linear,
             ((10_000, 64), (64, 64)), ((1_000, 64), (64, 64)), in_dims=(0, None)),
)

# What each column of the table is, one line each, printed above it.
LEGEND = """\
  vmaprt      vmaprt.vmap(f)(x), with f written for one example
  loop        the Python loop np.stack([f(x[i]) for i in range(n)])
  numpy       the same job vectorized by hand in NumPy (--help says how)
  shape       the first input, batch axis first
  vs numpy    vmaprt time / numpy time: below 1, vmaprt is faster
  vs loop     loop time / vmaprt time: above 1, vmaprt is faster"""

MICRO = "\u00b5"  # the micro sign, where the terminal's encoding has it


def time_call(fn, target, repeat):
    """Seconds per call of ``fn()``: the median of ``repeat`` measurements.

    Each measurement runs ``fn`` often enough to take about ``target``
    seconds.  A call that alone takes longer than ``target`` (the Python loop
    on a big batch) is timed twice, counting the warm-up, and the faster run
    is kept, so that the whole table stays fast.
    """
    timer = timeit.Timer(fn)
    number, elapsed = 1, timer.timeit(1)  # also the warm-up
    if elapsed >= target:
        return min(elapsed, timer.timeit(1))
    while elapsed < target / 10:
        number *= 10
        elapsed = timer.timeit(number)
    number = max(1, round(number * target / elapsed))
    return statistics.median(timer.repeat(repeat=repeat, number=number)) / number


def run_workload(w, quick, target, repeat):
    """Check one workload, then time it: a dict with the numbers of one row."""
    rng = np.random.default_rng(0)
    shapes = w.quick_shapes if quick else w.shapes
    args = [rng.standard_normal(s) for s in shapes]
    in_dims = w.in_dims if isinstance(w.in_dims, tuple) else (w.in_dims,) * len(args)
    batched = vmaprt.vmap(w.func, in_dims=in_dims)

    # One iterable per argument: rows of a mapped input, the whole of an unmapped one.
    columns = [itertools.repeat(a) if d is None else a for a, d in zip(args, in_dims)]

    def loop():  # np.stack([f(x[i], W) for i in range(n)]), written with zip
        return np.stack([w.func(*example) for example in zip(*columns)])

    ours, theirs = batched(*args), w.numpy(*args)
    assert ours.shape == theirs.shape and np.allclose(ours, theirs), f"{w.name}: vmaprt != numpy"
    times = {
        "vmaprt": time_call(lambda: batched(*args), target, repeat),
        "loop": time_call(loop, target, repeat),
        "numpy": time_call(lambda: w.numpy(*args), target, repeat),
    }
    shape = ", ".join(map(str, shapes[0]))
    return {"workload": w.name, "shape": f"[{shape}]", "seconds": times,
            "vmaprt/numpy": times["vmaprt"] / times["numpy"],
            "loop/vmaprt": times["loop"] / times["vmaprt"]}


def _fmt_time(seconds, micro):
    for unit, scale in (("s", 1.0), ("ms", 1e-3), (f"{micro}s", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:6.1f} {unit}"
    return f"{seconds / 1e-9:6.0f} ns"


def _progress(text):
    """Show what is being measured on a terminal's stderr; the next call overwrites it."""
    if sys.stderr.isatty():
        sys.stderr.write(f"\r\033[K{text}")
        sys.stderr.flush()


def demo():
    """Print vmap of a per-example function, checked against the loop."""
    rng = np.random.default_rng(0)
    xs, w = rng.standard_normal((5, 16)), rng.standard_normal((16, 4))

    def f(x, w):  # one example: [16], [16, 4] -> [4]
        return np.tanh(x @ w) / np.sqrt(x @ x)

    out = vmaprt.vmap(f, in_dims=(0, None))(xs, w)
    loop = np.stack([f(x, w) for x in xs])
    print("demo: f(x, w) = np.tanh(x @ w) / np.sqrt(x @ x), for one x of shape [16]")
    print(f"  vmaprt.vmap(f, in_dims=(0, None))(xs, w) with xs [5, 16], w [16, 4] -> {out.shape}")
    print(f"  matches the loop: {np.allclose(out, loop)}")


def _parser():
    """The command line, with a --help that says what each workload computes."""
    width = max(len(w.name) for w in WORKLOADS)
    workloads = "\n".join(f"  {w.name:<{width}}  {w.computes}" for w in WORKLOADS)
    return argparse.ArgumentParser(
        prog="python -m vmaprt",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="A short vmaprt demo, then a table that times each workload three\n"
                    "ways: vmaprt.vmap(f), the Python loop over the batch, and NumPy\n"
                    "vectorized by hand. The columns:\n\n" + LEGEND,
        epilog="The workloads (f for one example; numpy: the hand-vectorized baseline):\n"
               + workloads + "\n\nThe full suite, with torch.vmap and jax.vmap beside it, is\n"
               "python -m benchmarks, from a clone of the repository.",
    )


def main(argv=None):
    """Run the demo and the benchmark table.

    Parameters
    ----------
    argv : list of str, optional
        Command-line arguments; ``sys.argv[1:]`` by default.

    Returns
    -------
    list of dict
        One dict per table row, as written by ``--json``.
    """
    parser = _parser()
    parser.add_argument("--quick", action="store_true", help="smaller sizes, about a second in total")
    parser.add_argument("--json", metavar="PATH", help="also write the numbers to PATH as JSON")
    opts = parser.parse_args(argv)
    if opts.json:  # a path that cannot be written fails now, not after the measurements
        try:
            open(opts.json, "a").close()
        except OSError as e:
            parser.error(f"--json {opts.json}: cannot write there ({e.strerror})")
    target, repeat = (0.01, 3) if opts.quick else (0.05, 3)
    micro = MICRO if _encodes(sys.stdout, MICRO) else "u"

    start = time.perf_counter()
    demo()
    print()
    print("Each job, timed three ways (median time per call):")
    print(LEGEND)
    print()
    header = (f"{'workload':<17} {'shape':<14} {'vmaprt':>9} {'loop':>9} {'numpy':>9} "
              f"{'vs numpy':>8} {'vs loop':>7}")
    print(header)
    print("-" * len(header), flush=True)
    rows = []
    for i, w in enumerate(WORKLOADS, 1):
        _progress(f"measuring {w.name} ({i} of {len(WORKLOADS)}) ...")
        row = run_workload(w, opts.quick, target, repeat)
        _progress("")
        rows.append(row)
        t = row["seconds"]
        print(f"{row['workload']:<17} {row['shape']:<14} {_fmt_time(t['vmaprt'], micro):>9} "
              f"{_fmt_time(t['loop'], micro):>9} {_fmt_time(t['numpy'], micro):>9} "
              f"{row['vmaprt/numpy']:>8.2f} {row['loop/vmaprt']:>7.1f}", flush=True)
    print(f"Calls over {target * 1e3:.0f} ms are timed twice and the faster is kept.")
    print(f"numpy {np.__version__}, {os.cpu_count()} cores, vmaprt threads: "
          f"{vmaprt.get_num_threads()}, total {time.perf_counter() - start:.1f} s")

    if opts.json:
        meta = {"vmaprt": vmaprt.__version__, "numpy": np.__version__,
                "python": platform.python_version(), "cpu_count": os.cpu_count(),
                "threads": vmaprt.get_num_threads(), "quick": opts.quick}
        with open(opts.json, "w") as fh:
            json.dump({"meta": meta, "rows": rows}, fh, indent=2)
    return rows


def _encodes(stream, text):
    """Whether ``stream`` can write ``text`` (an ASCII-only terminal cannot write the micro sign)."""
    try:
        text.encode(stream.encoding or "ascii")
    except (UnicodeEncodeError, LookupError):
        return False
    return True


if __name__ == "__main__":
    try:
        main()
    except BrokenPipeError:  # `python -m vmaprt | head`: the reader left; stop without a traceback
        # Python flushes stdout again at exit, into the closed pipe: point it at devnull first.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(1)
