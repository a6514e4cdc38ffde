"""The vmaprt benchmark suite: ``python -m benchmarks`` or ``python benchmarks/run.py``.

Times, side by side in one run, ``vmaprt.vmap`` against the Python loop, the
best hand-vectorized NumPy expression, ``np.vectorize`` (with a signature), and
``torch.vmap`` (eager, CPU), ``jax.vmap`` and ``jax.jit(jax.vmap)`` when those
import.  The workloads are data, in ``benchmarks/workloads.py``.

Method (docs/performance.rst says more):

1. Every column's result is checked against the workload's NumPy reference
   (``np.allclose``) before anything is timed.  A wrong or failing column is
   reported in the table and makes the run exit with status 1.
2. Each column is calibrated to run ``number`` calls per sample, so that a
   sample takes at least ``--target`` seconds (25 ms; 5 ms with ``--quick``).
3. Samples are interleaved: each of ``--repeats`` rounds takes one sample of
   every column, in an order rotated from round to round, so that noise on
   this shared machine hits every column alike, and each sample starts
   after a pause (``--settle``) that lets the thread pools of the column
   before it park.  The time of a column is the median of its samples.
4. Ratios are to the baseline "numpy": the fastest of the workload's
   hand-vectorized expressions in this run.  The geometric mean of each
   column's ratios sums the table up.

Usage::

    python -m benchmarks                       # the full suite, a few minutes
    python -m benchmarks --quick               # small sizes: proves it runs
    python -m benchmarks --filter softmax --repeats 9
    python -m benchmarks --json out.json --plot out.png
    python -m benchmarks --compare a.json b.json   # spread of ratios across runs
"""

import argparse
import datetime
import json
import math
import os
import platform
import statistics
import sys
import time
import timeit
import warnings
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the `benchmarks` package importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

import vmaprt  # noqa: E402
from benchmarks.columns import COLUMNS, OPTIONAL, available, build, geomean, numpy_candidates  # noqa: E402
from benchmarks.workloads import WORKLOADS  # noqa: E402

RTOL, ATOL = 1e-6, 1e-9
_DESCRIPTION = ("The vmaprt benchmark suite: vmaprt.vmap side by side with the Python loop, the best "
                "hand-vectorized NumPy, np.vectorize, torch.vmap and jax.vmap (when installed), as "
                "ratios to the NumPy.")


# Timing -------------------------------------------------------------------------------------
def calibrate(fn, target):
    """How many calls of ``fn`` make one sample of at least ``target`` seconds (>= 1)."""
    timer, number = timeit.Timer(fn), 1
    while True:
        elapsed = timer.timeit(number)
        if elapsed >= target / 5 or number >= 10**7:
            return max(1, math.ceil(number * target / max(elapsed, 1e-9)))
        number *= 10


def interleaved(fns, numbers, repeats, settle=0.0):
    """``{name: [seconds per call, one per round]}``; each round samples every fn once,
    starting one further along the list each round, after a pause of ``settle`` seconds.

    Note [settling between samples]
        After a BLAS call, OpenBLAS's worker threads spin for about 0.1 s
        before they sleep.  On a 2-core machine that halves the speed of
        whatever runs next: ``x.sum(axis=1)`` took 3.3 ms right after
        ``x @ ones`` and 1.7 ms 0.2 s later.  Without the pause, the column
        sampled after a BLAS column is charged for it (vmaprt's row sum
        measured 2x NumPy's for that reason alone).  The pause lets every
        library's threads park, so each sample sees only its own column's
        threads, as a program that calls it repeatedly does.
    """
    names = list(fns)
    timers = {k: timeit.Timer(fns[k]) for k in names}
    samples = {k: [] for k in names}
    for r in range(repeats):
        for k in names[r % len(names):] + names[: r % len(names)]:
            if settle:
                time.sleep(settle)
            samples[k].append(timers[k].timeit(numbers[k]) / numbers[k])
    return samples


def cpu_clock():
    """``(wall, busy, own)`` seconds: wall time, CPU time the whole machine spent busy
    (from /proc/stat; None elsewhere) and CPU time of this process, all threads."""
    own = os.times()
    try:
        with open("/proc/stat") as fh:
            ticks = [int(v) for v in fh.readline().split()[1:9]]
        busy = (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")  # minus idle, iowait
    except (OSError, ValueError):
        busy = None
    return time.perf_counter(), busy, own.user + own.system


def others_load(start, end):
    """How many cores other processes kept busy between two :func:`cpu_clock` readings."""
    if start[1] is None or end[1] is None or end[0] <= start[0]:
        return None
    return max(0.0, ((end[1] - start[1]) - (end[2] - start[2])) / (end[0] - start[0]))


# One workload ---------------------------------------------------------------------------------
def _check(out, reference):
    out = np.asarray(out)
    if out.shape != reference.shape:
        return f"shape {out.shape}, expected {reference.shape}"
    if not np.allclose(out, reference, rtol=RTOL, atol=ATOL):
        err = np.max(np.abs(out - reference))
        return f"differs from the NumPy reference (max abs error {err:.3g})"
    return None


def run_workload(w, columns, modules, quick, target, repeats, settle=0.0):
    """Check, then time, every column on one workload: the dict of one JSON row."""
    args = w.inputs(np.random.default_rng(0), quick)
    ref_label, ref_fn = next(iter(w.numpy.items()))
    reference = np.asarray(ref_fn(*args))
    row = {"workload": w.label, "name": w.name, "shapes": [list(a.shape) for a in args],
           "in_dims": w.in_dims, "out_dims": w.out_dims, "levels": w.levels,
           "reference": ref_label, "columns": {}, "errors": {}, "fallbacks": []}

    fns = {}
    for label, fn in numpy_candidates(w, args).items():
        fns["numpy: " + label] = fn
    for col in columns:
        if col == "numpy":
            continue
        try:
            fn, note = build(col, w, args, reference, modules)
        except Exception as e:  # e.g. a torch op without a batching rule
            row["errors"][col] = f"{type(e).__name__}: {e}"
            continue
        if fn is not None:
            fns[col] = fn
            row["columns"][col] = {"note": note}

    checked = {}
    for key, fn in fns.items():
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", vmaprt.PerformanceWarning)
            try:
                problem = _check(fn(), reference)
            except Exception as e:
                problem = f"{type(e).__name__}: {e}"
        if key == "vmaprt":
            row["fallbacks"] = sorted({str(c.message) for c in caught
                                       if issubclass(c.category, vmaprt.PerformanceWarning)})
        if problem:
            row["errors"][key] = problem
            row["columns"].pop(key, None)
        else:
            checked[key] = fn

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", vmaprt.PerformanceWarning)  # recorded above, once
        clock = cpu_clock()
        numbers = {k: calibrate(fn, target) for k, fn in checked.items()}
        samples = interleaved(checked, numbers, repeats, settle)

    row["others_load"] = others_load(clock, cpu_clock())
    medians = {k: statistics.median(v) for k, v in samples.items()}
    candidates = {k.removeprefix("numpy: "): medians[k] for k in medians if k.startswith("numpy: ")}
    if not candidates:
        row["errors"]["numpy"] = "no NumPy expression passed its check"
        return row
    best = min(candidates, key=candidates.get)
    row["numpy_best"] = best
    row["numpy_candidates"] = candidates
    row["columns"]["numpy"] = {"note": best}
    for k in medians:
        col = "numpy" if k == "numpy: " + best else k
        if col not in row["columns"]:
            continue
        s = samples[k]
        row["columns"][col].update({
            "seconds": medians[k], "ratio": medians[k] / candidates[best],
            "best_ratio": min(s) / min(samples["numpy: " + best]),  # fastest sample to fastest
            "number": numbers[k], "samples": s,
            "spread": max(s) / min(s),  # within this run: slowest over fastest sample
        })
    return row


# Output ----------------------------------------------------------------------------------------
def fmt_time(seconds):
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds / 1e-9:.3g} ns"


def fmt_ratio(r):
    return f"{r:.2f}" if r < 100 else f"{r:.0f}"


def _cell(row, col, kind):
    c = row["columns"].get(col)
    if c is not None and "seconds" in c:
        return fmt_time(c["seconds"]) if kind == "time" else fmt_ratio(c["ratio"])
    if col in row["errors"]:
        return "ERROR"
    return "-"


def table(rows, columns, geomeans):
    """The two tables, median times and ratios to NumPy, as text."""
    width = max([len(r["workload"]) for r in rows] + [len("geometric mean")])
    shape_w = max(len(_shape(r)) for r in rows)
    lines = []
    for kind, title in (("time", "Median time per call"),
                        ("ratio", "Ratio to the best hand-vectorized NumPy (lower is faster)")):
        cols = columns if kind == "time" else [c for c in columns if c != "numpy"]
        head = f"{'workload':<{width}}  {'input':<{shape_w}}" + "".join(f"{c:>15}" for c in cols)
        if kind == "ratio":
            head += f"{'others':>8}  best NumPy expression"
        lines += [title, head, "-" * len(head)]
        for r in rows:
            line = f"{r['name']:<{width}}  {_shape(r):<{shape_w}}"
            line += "".join(f"{_cell(r, c, kind):>15}" for c in cols)
            if kind == "ratio":
                load = r.get("others_load")
                line += (f"{load:>8.1f}" if load is not None else f"{'-':>8}") + "  " + r.get("numpy_best", "-")
            lines.append(line)
        if kind == "ratio":
            lines.append("-" * len(head))
            lines.append(f"{'geometric mean':<{width}}  {'':<{shape_w}}" + "".join(
                f"{fmt_ratio(geomeans[c]) if geomeans.get(c) else '-':>15}" for c in cols))
        lines.append("")
    lines.append("others: cores that other processes kept busy while the row ran (of "
                 f"{len(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') else os.cpu_count()})")
    return "\n".join(lines)


def _shape(row):
    return "[" + ", ".join(map(str, row["shapes"][0])) + "]"


def _load_note(row):
    load = row.get("others_load")
    return f", other processes busy on {load:.1f} cores" if load is not None else ""


def machine_info(modules):
    """Versions, cores and thread settings of this run, for the JSON."""
    info = {
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "python": platform.python_version(), "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "cores_available": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "numpy": np.__version__, "vmaprt": vmaprt.__version__, "vmaprt_file": vmaprt.__file__,
        "vmaprt_threads": vmaprt.get_num_threads(),
        "OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY"),
        "GOMP_SPINCOUNT": os.environ.get("GOMP_SPINCOUNT"),
        "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS"),
        "loadavg": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
    }
    try:
        with open("/proc/cpuinfo") as fh:
            info["cpu"] = next((line.split(":", 1)[1].strip() for line in fh if line.startswith("model name")), None)
    except OSError:
        info["cpu"] = platform.processor() or None
    try:  # informational only: nothing here limits any thread pool
        from threadpoolctl import threadpool_info
        info["threadpools"] = [{k: p.get(k) for k in ("internal_api", "num_threads", "version")}
                               for p in threadpool_info()]
    except Exception:
        info["threadpools"] = None
    if modules.get("torch") is not None:
        info["torch"] = modules["torch"].__version__
        info["torch_threads"] = modules["torch"].get_num_threads()
    if modules.get("jax") is not None:
        info["jax"] = modules["jax"].__version__
        info["jax_x64"] = True
    return info


def plot(rows, columns, geomeans, path, title):
    """Horizontal bars of each column's ratio to NumPy per workload, log scale, a line at 1.

    Written as SVG or PNG by the extension of ``path``.

    Note [a plot for the docs column]
        docs/performance.rst shows the plot at the width of its content
        column, 896 px in a 1280 px window, so the figure is 9 inches wide
        (864 CSS px for an SVG, drawn at 1.04x: its 8-9 pt labels read as
        11-12 px).  The
        workloads go down the y axis with their names written out, and each
        gets one thin bar per column, so the height grows with the rows and
        columns instead of the labels crowding along the x axis.  Bars start
        at 1, NumPy's time, so a faster column's bar points left and a
        slower one's right; the x axis is labelled at the top as well.  An SVG is
        written with a fixed hash salt and no date, so the same numbers give
        the same file.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    cols = [c for c in columns if c != "numpy"]
    bar = 0.065  # inches per bar
    group = bar * len(cols) + 0.13  # inches per workload
    height = group * len(rows) + 1.5  # title, legend and the two x axes
    colors = plt.get_cmap("tab10").colors
    with plt.rc_context({"svg.hashsalt": "vmaprt-benchmarks", "font.size": 8}):
        fig, ax = plt.subplots(figsize=(9.0, height), layout="constrained")
        step = bar / group  # one bar, in units of a workload
        for j, col in enumerate(cols):
            ys, xs = [], []
            for i, r in enumerate(rows):
                c = r["columns"].get(col)
                if c is not None and "ratio" in c:
                    ys.append(i + (j - (len(cols) - 1) / 2) * step)
                    xs.append(c["ratio"])
            g = geomeans.get(col)
            label = f"{col} (geomean {fmt_ratio(g)})" if g else col
            ax.barh(ys, [x - 1.0 for x in xs], height=step * 0.9, left=1.0, label=label,
                    color=colors[j % len(colors)], zorder=2)
            if j == 0:  # the first column is vmaprt's: write its ratios at the bars' ends
                for y, x in zip(ys, xs):
                    ax.annotate(fmt_ratio(x), (x, y), xytext=(2 if x >= 1 else -2, 0),
                                textcoords="offset points", ha="left" if x >= 1 else "right",
                                va="center", fontsize=6.5, color=colors[0])
        ax.axvline(1.0, color="black", linewidth=1, zorder=3)
        ax.set_xscale("log")
        ax.xaxis.set_major_locator(LogLocator(base=10))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_xlabel("time / best hand-vectorized NumPy (log scale; left of the line at 1 is faster)")
        ax.set_yticks(range(len(rows)))
        ax.set_yticklabels([f"{r['name']} {_shape(r)}" for r in rows])
        ax.set_ylim(len(rows) - 0.5, -0.5)  # the first workload at the top
        ax.tick_params(axis="y", length=0)
        ax.tick_params(axis="x", which="both", top=True, labeltop=True)
        ax.grid(axis="x", which="major", alpha=0.3, zorder=0)
        fig.legend(loc="outside upper center", ncols=3, frameon=False, title=title,
                   title_fontproperties={"size": 9})
        metadata = {"Date": None} if str(path).lower().endswith(".svg") else None
        fig.savefig(path, dpi=150, metadata=metadata)
        plt.close(fig)


def compare(paths):
    """Print, per workload, vmaprt/numpy in each of several JSON runs and its spread."""
    runs = [json.loads(Path(p).read_text()) for p in paths]
    names = [r["workload"] for r in runs[0]["rows"]]
    cols = [c for c in COLUMNS if c != "numpy" and any(
        c in row["columns"] for run in runs for row in run["rows"])]
    print(f"ratio to NumPy across {len(runs)} runs: min - max (max/min)")
    width = max(len(n) for n in names)
    print(f"{'workload':<{width}}" + "".join(f"{c:>24}" for c in cols))
    for name in names:
        line = f"{name:<{width}}"
        for col in cols:
            vals = [row["columns"][col]["ratio"] for run in runs for row in run["rows"]
                    if row["workload"] == name and "ratio" in row["columns"].get(col, {})]
            cell = f"{fmt_ratio(min(vals))} - {fmt_ratio(max(vals))} ({max(vals) / min(vals):.2f})" if vals else "-"
            line += f"{cell:>24}"
        print(line)
    line = f"{'geometric mean':<{width}}"
    for col in cols:
        vals = [run["geomean"][col] for run in runs if run["geomean"].get(col)]
        cell = f"{fmt_ratio(min(vals))} - {fmt_ratio(max(vals))}" if vals else "-"
        line += f"{cell:>24}"
    print(line)


# Command line ----------------------------------------------------------------------------------
def parse_args(argv):
    p = argparse.ArgumentParser(prog="python -m benchmarks", description=_DESCRIPTION,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true",
                   help="small sizes and short samples, only to prove the suite runs")
    p.add_argument("--filter", action="append", metavar="SUBSTRING",
                   help="run the workloads whose name contains SUBSTRING (case-insensitive; repeatable)")
    p.add_argument("--repeats", type=int, metavar="N",
                   help="samples per column, interleaved (default 7; 3 with --quick)")
    p.add_argument("--target", type=float, metavar="SECONDS",
                   help="minimum time of one sample (default 0.025; 0.005 with --quick)")
    p.add_argument("--settle", type=float, metavar="SECONDS",
                   help="pause before each sample, for other thread pools to park "
                        "(default 0.15; 0.01 with --quick)")
    p.add_argument("--json", metavar="PATH", help="write the results and machine info to PATH")
    p.add_argument("--plot", metavar="PATH",
                   help="draw the ratios to NumPy into PATH, as SVG if it ends in .svg, else as "
                        "PNG (or the format its extension names)")
    p.add_argument("--no-torch", action="store_true", help="leave the torch.vmap column out")
    p.add_argument("--no-jax", action="store_true", help="leave the jax columns out")
    p.add_argument("--compare", nargs="+", metavar="JSON",
                   help="do not run: print the spread of ratios across earlier --json runs")
    opts = p.parse_args(argv)
    if opts.repeats is not None and opts.repeats < 1:
        p.error("--repeats must be at least 1")
    return opts


def main(argv=None):
    """Run the suite; returns the exit status (1 if a column was wrong or failed)."""
    opts = parse_args(argv)
    if opts.compare:
        compare(opts.compare)
        return 0
    repeats = opts.repeats or (3 if opts.quick else 7)
    target = opts.target or (0.005 if opts.quick else 0.025)
    settle = opts.settle if opts.settle is not None else (0.01 if opts.quick else 0.15)
    workloads = WORKLOADS
    if opts.filter:
        keys = [f.lower() for f in opts.filter]
        workloads = [w for w in WORKLOADS if any(k in w.label.lower() for k in keys)]
        if not workloads:
            print(f"no workload matches {opts.filter}; the workloads are:\n  "
                  + "\n  ".join(w.label for w in WORKLOADS), file=sys.stderr)
            return 2

    start = time.perf_counter()
    modules = {}
    for mod, skip in (("torch", opts.no_torch), ("jax", opts.no_jax)):
        modules[mod] = None if skip else available(mod)
    columns = [c for c in COLUMNS if c not in OPTIONAL or modules[OPTIONAL[c]] is not None]
    info = machine_info(modules)
    info.update(repeats=repeats, target=target, settle=settle, quick=opts.quick)
    missing = [m for m in ("torch", "jax") if modules[m] is None]
    print(f"vmaprt benchmarks{' (--quick)' if opts.quick else ''}: {len(workloads)} workloads, "
          f"{repeats} interleaved samples of >= {target * 1e3:g} ms per column, "
          f"{settle * 1e3:g} ms apart"
          + (f"; without {' and '.join(missing)}" if missing else ""), flush=True)

    rows = []
    for w in workloads:
        t0 = time.perf_counter()
        rows.append(run_workload(w, columns, modules, opts.quick, target, repeats, settle))
        r = rows[-1]["columns"].get("vmaprt", {})
        print(f"  {w.name + ' ' + _shape(rows[-1]):<45} vmaprt/numpy {fmt_ratio(r['ratio']) if 'ratio' in r else 'n/a':>6}"
              f"   ({time.perf_counter() - t0:.1f} s{_load_note(rows[-1])})", flush=True)

    geomeans = {c: geomean([r["columns"].get(c, {}).get("ratio") for r in rows]) for c in columns}
    best_geomeans = {c: geomean([r["columns"].get(c, {}).get("best_ratio") for r in rows]) for c in columns}
    loads = [r["others_load"] for r in rows if r.get("others_load") is not None]
    info["others_load_mean"] = sum(loads) / len(loads) if loads else None
    info["loadavg_end"] = list(os.getloadavg()) if hasattr(os, "getloadavg") else None
    info["seconds"] = round(time.perf_counter() - start, 1)

    print()
    print(table(rows, columns, geomeans))
    g = geomeans.get("vmaprt")
    gb = best_geomeans.get("vmaprt")
    print(f"geometric mean of vmaprt/numpy over {len(rows)} workload{'s' * (len(rows) != 1)}: {g:.3f} "
          f"(of medians; {gb:.3f} of fastest samples)" if g else "geometric mean of vmaprt/numpy: n/a")
    extras = [f"torch {info['torch']} ({info['torch_threads']} threads)" if "torch" in info else None,
              f"jax {info['jax']} (x64)" if "jax" in info else None]
    print(f"numpy {np.__version__}, " + "".join(f"{e}, " for e in extras if e)
          + f"{info['cores_available']} cores, vmaprt threads {info['vmaprt_threads']}, "
          f"OMP_WAIT_POLICY={info['OMP_WAIT_POLICY']}, GOMP_SPINCOUNT={info['GOMP_SPINCOUNT']}, "
          + (f"other processes busy on {info['others_load_mean']:.1f} cores on average, "
             if info["others_load_mean"] is not None else "")
          + f"total {info['seconds']:.0f} s")
    status = 0
    for r in rows:
        for col, problem in r["errors"].items():
            print(f"ERROR {r['workload']} / {col}: {problem}")
            status = 1
        for msg in r["fallbacks"]:
            print(f"note: {r['workload']}: vmaprt fell back to a per-example loop: {msg}")

    if opts.json:
        Path(opts.json).parent.mkdir(parents=True, exist_ok=True)
        with open(opts.json, "w") as fh:
            json.dump({"meta": info, "columns": columns, "geomean": geomeans,
                       "geomean_fastest": best_geomeans, "rows": rows}, fh, indent=1)
        print(f"wrote {opts.json}")
    if opts.plot:
        Path(opts.plot).parent.mkdir(parents=True, exist_ok=True)
        title = (f"vmaprt benchmarks, {info['date'][:10]}, {info['cores_available']} cores"
                 + (f": geomean vmaprt/numpy {g:.2f}" if g else ""))
        plot(rows, columns, geomeans, opts.plot, title)
        print(f"wrote {opts.plot}")
    return status


if __name__ == "__main__":
    sys.exit(main())
