"""What a vmaprt.random draw under vmap costs, side by side with NumPy.

Each row times a 'different' draw of per-example shape ``(width,)`` over a
batch of ``batch`` examples::

    vmaprt.vmap(lambda: rng.<draw>(width), in_dims=(), axis_size=batch, randomness="different")()

against NumPy's ``np.random.default_rng().<draw>((batch, width))`` (PCG64, the
generator NumPy users have), and prints the ratio.  Both are checked to have
the same shape and dtype first.  Timings are the best of ``--repeat`` runs
after a warm-up, which is the most stable number on a shared machine; the
median is printed too.

Usage::

    python benchmarks/bench_random.py                  # B = 10000, width 100
    python benchmarks/bench_random.py --threads 1      # kernels on one thread
    python benchmarks/bench_random.py --check          # exit 1 if a target is missed

Targets (issue 5): standard_normal <= 2x NumPy, random <= 1.5x NumPy.
"""

import argparse
import statistics
import sys
import time

import numpy as np

import vmaprt

TARGETS = {"standard_normal": 2.0, "random": 1.5}


def rows(width):
    """(name, vmaprt draw(rng), numpy draw(np_rng, shape))."""
    loc = np.linspace(-1, 1, width)
    return [
        ("standard_normal", lambda g: g.standard_normal(width), lambda g, s: g.standard_normal(s)),
        ("random", lambda g: g.random(width), lambda g, s: g.random(s)),
        ("random float32", lambda g: g.random(width, dtype=np.float32), lambda g, s: g.random(s, dtype=np.float32)),
        ("standard_normal float32", lambda g: g.standard_normal(width, dtype=np.float32), lambda g, s: g.standard_normal(s, dtype=np.float32)),
        ("uniform(-1, 1)", lambda g: g.uniform(-1.0, 1.0, width), lambda g, s: g.uniform(-1.0, 1.0, s)),
        ("normal(loc[width], 2)", lambda g: g.normal(loc, 2.0, width), lambda g, s: g.normal(loc, 2.0, s)),
        ("standard_exponential", lambda g: g.standard_exponential(width), lambda g, s: g.standard_exponential(s)),
        ("integers(0, 1000)", lambda g: g.integers(0, 1000, width), lambda g, s: g.integers(0, 1000, s)),
        ("poisson(5)", lambda g: g.poisson(5.0, width), lambda g, s: g.poisson(5.0, s)),
        ("poisson(500)", lambda g: g.poisson(500.0, width), lambda g, s: g.poisson(500.0, s)),
        ("binomial(20, 0.3)", lambda g: g.binomial(20, 0.3, width), lambda g, s: g.binomial(20, 0.3, s)),
        ("binomial(1000, 0.3)", lambda g: g.binomial(1000, 0.3, width), lambda g, s: g.binomial(1000, 0.3, s)),
        ("gamma(2.5)", lambda g: g.gamma(2.5, 1.0, width), lambda g, s: g.gamma(2.5, 1.0, s)),
        ("beta(2, 3)", lambda g: g.beta(2.0, 3.0, width), lambda g, s: g.beta(2.0, 3.0, s)),
        ("choice(1000, width)", lambda g: g.choice(1000, width), lambda g, s: g.choice(1000, s)),
        ("permutation(width)", lambda g: g.permutation(width), lambda g, s: g.permuted(np.broadcast_to(np.arange(width), s), axis=1)),
    ]


def best_and_median(f, repeat):
    f()  # warm-up: first-touch of memory, thread start
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        f()
        times.append(time.perf_counter() - t)
    return min(times), statistics.median(times)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=10_000)
    parser.add_argument("--width", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--threads", type=int, default=None, help="vmaprt kernel threads (default: all cores)")
    parser.add_argument("--chunk-size", type=int, default=1000, help="chunk size of the chunked row")
    parser.add_argument("--check", action="store_true", help="exit 1 if a target ratio is missed")
    args = parser.parse_args(argv)
    if args.threads:
        vmaprt.set_num_threads(args.threads)
    B, W = args.batch, args.width
    rng = vmaprt.random.default_rng(0)
    np_rng = np.random.default_rng(0)
    print(f"vmaprt.random under vmap(randomness='different'), B={B}, per-example shape ({W},), "
          f"{vmaprt.get_num_threads()} kernel thread(s); NumPy {np.__version__} default_rng (PCG64), one thread")
    print(f"{'draw':28s} {'vmaprt ms':>10s} {'numpy ms':>10s} {'ratio':>7s} {'(median)':>9s}  target")
    missed = []
    table = rows(W)
    table.append(("standard_normal chunked", None, lambda g, s: g.standard_normal(s)))
    for name, draw, ref in table:
        if draw is None:
            f = vmaprt.vmap(lambda: rng.standard_normal(W), in_dims=(), axis_size=B, randomness="different", chunk_size=args.chunk_size)
            name = f"{name} ({args.chunk_size})"
        else:
            f = vmaprt.vmap(lambda draw=draw: draw(rng), in_dims=(), axis_size=B, randomness="different")
        ours, theirs = f(), ref(np_rng, (B, W))
        assert ours.shape == theirs.shape and ours.dtype == theirs.dtype, (name, ours.shape, ours.dtype, theirs.dtype)
        t_ours, m_ours = best_and_median(f, args.repeat)
        t_np, m_np = best_and_median(lambda: ref(np_rng, (B, W)), args.repeat)
        ratio, median_ratio = t_ours / t_np, m_ours / m_np
        target = TARGETS.get(name)
        mark = "" if target is None else (f"<= {target:g}  ok" if ratio <= target else f"<= {target:g}  MISSED")
        if target is not None and ratio > target:
            missed.append(name)
        print(f"{name:28s} {t_ours * 1e3:10.2f} {t_np * 1e3:10.2f} {ratio:7.2f} {median_ratio:9.2f}  {mark}")
    if missed:
        print(f"missed targets: {', '.join(missed)}")
    return 1 if (missed and args.check) else 0


if __name__ == "__main__":
    sys.exit(main())
