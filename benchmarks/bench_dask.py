"""vmap over Dask arrays: out of core on a capped cluster, speed-up, overhead per block.

Three parts, each printed as a small table:

1. Out of core (issue 7): a batch of ``--n`` x 16 float64 (10^7 x 16 = 1.28 GB
   by default), generated lazily in the workers by ``dask.array.random``, runs
   through ``vmaprt.vmap(model)`` on a 2-worker ``LocalCluster`` whose workers
   are capped at ``--memory-limit`` (400 MB) each.  Prints the wall time (graph
   built and computed, the 80 MB result gathered), the peak RSS of each worker
   and of this process, and checks the first block against the in-memory call.
2. Speed-up on a batch of ``--compare-n`` x 16 that is in memory already: the
   in-memory call, the Dask threaded scheduler on ``da.from_array`` of it, and
   a 2-worker LocalCluster (no memory cap) on the same values persisted in the
   workers.  Times count the compute and gathering the result, not making the
   input.  All three results are checked to be identical.
3. Overhead per block: a batch of ``--tiny-n`` x 16 cut into blocks of
   ``--tiny-block`` examples, so that the work is negligible; (Dask time -
   in-memory time) / number of blocks, for threads and for the cluster, and the
   time to build the graph (the trace of ``f`` on an empty batch included).

Timings are the best of ``--repeat`` runs after a warm-up.

Usage::

    python benchmarks/bench_dask.py                      # the defaults above
    python benchmarks/bench_dask.py --n 2000000 --compare-n 1000000    # quicker
"""

import argparse
import os
import sys
import time

import dask
import dask.array as da
import numpy as np
from distributed import Client, LocalCluster, wait
from threadpoolctl import threadpool_limits

import vmaprt

D, H = 16, 64
_w = np.random.default_rng(0)
W1, B1, W2 = _w.standard_normal((D, H)) / 4, _w.standard_normal(H) / 10, _w.standard_normal(H) / 8


def model(v):                                    # [16] -> []: a small MLP for one example
    return np.tanh(v @ W1 + B1) @ W2


def peak_rss_mb():
    # VmHWM: ru_maxrss would include the parent's resident size at fork()
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) / 1024 for line in f if line.startswith("VmHWM:"))


def best(f, repeat):
    out = f()  # warm-up
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        f()
        times.append(time.perf_counter() - t)
    return min(times), out


def cluster(memory_limit):
    c = LocalCluster(n_workers=2, processes=True, threads_per_worker=1, host="127.0.0.1",
                     dashboard_address=None, memory_limit=memory_limit)
    return c, Client(c, set_as_default=False)


def out_of_core(args):
    n, block = args.n, args.block
    c, client = cluster(args.memory_limit)
    try:
        workers = set(client.scheduler_info()["workers"])
        base = client.run(peak_rss_mb)
        t = time.perf_counter()
        x = da.random.default_rng(0).standard_normal((n, D), chunks=(block, D))
        f = vmaprt.vmap(model, chunk_size=args.chunk_size)
        lazy = f(x)
        built = time.perf_counter() - t
        (out,) = dask.compute(lazy, scheduler=client)
        wall = time.perf_counter() - t
        peaks = client.run(peak_rss_mb)
        first = x[:block].compute(scheduler=client)
        with threadpool_limits(1):               # as the workers run BLAS (Note in docs/scaling.rst)
            ok = np.array_equal(out[:block], f(first))
        restarted = set(client.scheduler_info()["workers"]) != workers
    finally:
        client.close()
        c.close()
    gb = n * D * 8 / 1e9
    print(f"\n1. Out of core: {n:.0e} x {D} float64 = {gb:.2f} GB, generated lazily; 2 workers capped at "
          f"{args.memory_limit / 1e6:.0f} MB each; {-(-n // block)} blocks of {block} examples ({block * D * 8 / 1e6:.0f} MB), "
          f"chunk_size={args.chunk_size}")
    print(f"   wall time        {wall:8.2f} s   (graph built in {built * 1e3:.0f} ms)")
    print(f"   throughput       {gb / wall:8.2f} GB/s of input")
    for i, (addr, mb) in enumerate(sorted(peaks.items())):
        print(f"   worker {i} peak RSS {mb:6.0f} MB   (idle after start: {base[addr]:.0f} MB)")
    print(f"   client peak RSS  {peak_rss_mb():6.0f} MB   (holds the {n * 8 / 1e6:.0f} MB result)")
    print(f"   first block bit-identical to the in-memory call: {ok}; a worker was restarted: {restarted}")
    return ok and not restarted


def speed_up(args):
    n, block, repeat = args.compare_n, args.block, args.repeat
    f = vmaprt.vmap(model, chunk_size=args.chunk_size)
    c, client = cluster("auto")
    try:
        lazy_x = da.random.default_rng(1).standard_normal((n, D), chunks=(block, D))
        xc = client.persist(lazy_x)                  # made in the workers, kept there
        with client.as_current():
            wait(xc)
        x = xc.compute(scheduler=client)             # the same values, in this process
        t_clu, got_clu = best(lambda: dask.compute(f(xc), scheduler=client)[0], repeat)
    finally:
        client.close()
        c.close()
    t_mem, want = best(lambda: f(x), repeat)
    xt = da.from_array(x, chunks=(block, D))
    t_thr, got_thr = best(lambda: f(xt).compute(scheduler="threads"), repeat)
    print(f"\n2. Speed-up: {n:.0e} x {D} float64 ({n * D * 8 / 1e6:.0f} MB) in memory, blocks of {block}, "
          f"chunk_size={args.chunk_size}; {os.cpu_count()} cores, {vmaprt.get_num_threads()} vmaprt thread(s) here")
    print(f"   {'':28s} {'time s':>8s} {'speed-up':>9s}  result vs in-memory")
    for name, t, got in [("in-memory vmap", t_mem, want), ("Dask threaded", t_thr, got_thr),
                         ("LocalCluster, 2 workers", t_clu, got_clu)]:
        print(f"   {name:28s} {t:8.3f} {t_mem / t:9.2f}  {compare(got, want)}")
    return np.allclose(got_thr, want, rtol=1e-12, atol=0) and np.allclose(got_clu, want, rtol=1e-12, atol=0)


def compare(got, want):
    if np.array_equal(got, want):
        return "bit-identical"
    return f"max relative difference {np.max(np.abs(got - want) / np.abs(want).max()):.1e}"


def overhead(args):
    n, block, repeat = args.tiny_n, args.tiny_block, args.repeat
    blocks = -(-n // block)
    x = np.random.default_rng(2).standard_normal((n, D))
    f = vmaprt.vmap(model)
    t_mem, _ = best(lambda: f(x), repeat)
    xt = da.from_array(x, chunks=(block, D))
    t_build, _ = best(lambda: f(xt), repeat)
    t_thr, _ = best(lambda: f(xt).compute(scheduler="threads"), repeat)
    c, client = cluster("auto")
    try:
        xc = client.persist(xt)
        with client.as_current():
            wait(xc)
        t_clu, _ = best(lambda: dask.compute(f(xc), scheduler=client)[0], repeat)
    finally:
        client.close()
        c.close()
    print(f"\n3. Overhead per block: {n} x {D}, {blocks} blocks of {block}; in-memory call {t_mem * 1e3:.2f} ms")
    print(f"   {'':34s} {'total ms':>9s} {'per block us':>13s}")
    print(f"   {'graph build (trace included)':34s} {t_build * 1e3:9.1f} {t_build / blocks * 1e6:13.0f}")
    for name, t in [("Dask threaded, build + compute", t_thr), ("LocalCluster, build + compute", t_clu)]:
        print(f"   {name:34s} {t * 1e3:9.1f} {(t - t_mem) / blocks * 1e6:13.0f}")
    return True


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10**7, help="examples in the out-of-core batch")
    parser.add_argument("--memory-limit", type=float, default=400e6, help="bytes per worker in part 1")
    parser.add_argument("--compare-n", type=int, default=4 * 10**6, help="examples in the speed-up batch")
    parser.add_argument("--block", type=int, default=250_000, help="examples per block in parts 1 and 2")
    parser.add_argument("--chunk-size", type=int, default=25_000,
                        help="vmap's chunk_size in parts 1 and 2: bounds the memory of a block")
    parser.add_argument("--tiny-n", type=int, default=20_000)
    parser.add_argument("--tiny-block", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    print(f"vmaprt {vmaprt.__version__}, dask {dask.__version__}, NumPy {np.__version__}; "
          f"f = tanh(v @ W1[16, 64] + b1) @ w2 per example")
    ok = out_of_core(args)  # first: the client's peak RSS then shows it never held the batch
    ok &= speed_up(args)
    ok &= overhead(args)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
