"""vmaprt's benchmark suite: ``python -m benchmarks --help``.

``workloads.py`` holds the workloads as data, ``columns.py`` builds each
column (vmaprt, NumPy, the loop, np.vectorize, torch, JAX) from them, and
``run.py`` checks, times and reports.  ``test_bench.py`` runs a few workloads
under pytest-benchmark (``pytest benchmarks --benchmark-only``).
"""
