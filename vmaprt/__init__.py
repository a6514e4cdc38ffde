"""vmaprt: ``vmap`` for NumPy on the CPU.

Write a function for one example with ordinary NumPy; ``vmaprt.vmap(f)`` runs
it over a whole batch, through batch rules and compiled strided kernels.

>>> import numpy as np, vmaprt
>>> vmaprt.vmap(np.dot)(np.ones((3, 4)), np.ones((3, 4)))   # [3, 4], [3, 4] -> [3]
array([4., 4., 4.])
"""

import os

# Note [OpenMP wait policy]
#     By default OpenMP worker threads spin after a parallel loop, waiting for
#     the next one.  On a 2-core machine they then starve NumPy's BLAS threads:
#     a batched dot followed by a matrix product took 9.4 ms instead of 0.5 ms.
#     "passive" makes them sleep instead.  It only applies if this process has
#     not loaded an OpenMP runtime yet, and a value the user set wins.
os.environ.setdefault("OMP_WAIT_POLICY", "passive")

try:
    from . import _core  # noqa: E402  (the compiled kernels)
except ImportError as e:  # never fall back to pure Python silently
    raise ImportError(
        f"vmaprt: the compiled extension vmaprt._core could not be imported ({e}). "
        f"vmaprt needs it: install the package with `pip install .` (or a wheel), "
        f"which compiles it; in a source checkout run `python setup.py build_ext "
        f"--inplace`. Importing vmaprt from the source tree without building it "
        f"also gives this error."
    ) from e
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
