"""vmaprt: ``vmap`` for NumPy on the CPU.

Write a function for one example with ordinary NumPy; ``vmaprt.vmap(f)`` runs
it over a whole batch, through batch rules and compiled strided kernels.

>>> import numpy as np, vmaprt
>>> vmaprt.vmap(np.dot)(np.ones((3, 4)), np.ones((3, 4)))   # [3, 4], [3, 4] -> [3]
array([4., 4., 4.])
"""

import os as _os

# Note [OpenMP wait policy]
#     By default OpenMP worker threads spin after a parallel loop, waiting for
#     the next one.  On a 2-core machine they then starve NumPy's BLAS threads:
#     a batched dot followed by a matrix product took 9.4 ms instead of 0.5 ms.
#     "passive" makes them sleep instead.  It only applies if this process has
#     not loaded an OpenMP runtime yet, and a value the user set wins.
_os.environ.setdefault("OMP_WAIT_POLICY", "passive")


def _missing_core(error):
    """The ImportError for a missing compiled core, naming its cause and a fix that works."""
    import importlib.metadata
    from pathlib import Path

    here = Path(__file__).resolve().parent
    installed = _found_elsewhere(here)
    if installed is not None:
        cause = (f"the folder {here}, which has no compiled extension, is shadowing the installed "
                 f"vmaprt at {installed}: the current folder or PYTHONPATH puts it first on sys.path. "
                 f"Run from another folder, or unset PYTHONPATH.")
    else:
        try:
            importlib.metadata.distribution("vmaprt")
            cause = ("the installed vmaprt has no working compiled extension. Reinstall it with "
                     "`pip install --force-reinstall --no-deps .` from the repository root.")
        except importlib.metadata.PackageNotFoundError:
            cause = ("vmaprt is not installed in this environment, and this folder has no compiled "
                     "extension. Install it with `pip install .` from the repository root, which "
                     "compiles it, and run from another folder than src/.")
    return ImportError(f"vmaprt: the compiled extension vmaprt._core could not be imported: "
                       f"{cause} (The import error was: {error})")


def _found_elsewhere(here):
    """Where the import system would find vmaprt if the folder ``here`` were not on sys.path."""
    import importlib.machinery
    import sys
    from pathlib import Path

    others = [p for p in sys.path if Path(p or ".").resolve() != here.parent]
    for finder in sys.meta_path:  # an editable install adds a finder of its own
        path = others if finder is importlib.machinery.PathFinder else None
        try:
            spec = finder.find_spec("vmaprt", path)
        except (AttributeError, ImportError, TypeError, ValueError):
            continue
        if spec is not None and spec.origin and Path(spec.origin).resolve().parent != here:
            return Path(spec.origin).resolve().parent
    return None


try:
    from . import _core  # noqa: E402  (the compiled kernels)
except ImportError as _error:  # never fall back to pure Python silently
    raise _missing_core(_error) from _error
from . import _rules  # noqa: E402, F401  (registers every batch rule)
from . import random  # noqa: E402
from . import tree  # noqa: E402
from ._api import vmap  # noqa: E402
from ._batched import BatchedArray, per_example  # noqa: E402
from ._core import get_num_threads, set_cache_limit, set_num_threads  # noqa: E402
from ._registry import PerformanceWarning, has_batch_rule, register_batch_rule  # noqa: E402

__version__ = "0.1.0"


def __getattr__(name):
    # vmaprt.scipy (the batch-aware SciPy wrappers) loads on first use, so that
    # `import vmaprt` does not pay for importing scipy.special.
    if name == "scipy":
        import importlib

        return importlib.import_module(".scipy", __name__)
    raise AttributeError(f"module 'vmaprt' has no attribute {name!r}")


__all__ = [
    "vmap",
    "BatchedArray",
    "PerformanceWarning",
    "register_batch_rule",
    "has_batch_rule",
    "per_example",
    "set_num_threads",
    "get_num_threads",
    "set_cache_limit",
    "tree",
    "random",
    "scipy",
]
