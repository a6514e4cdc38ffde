"""vmaprt: ``vmap`` for NumPy on the CPU.

Write a function for one example with ordinary NumPy; ``vmaprt.vmap(f)`` runs
it over a whole batch, through batch rules and compiled strided kernels.

>>> import numpy as np, vmaprt
>>> vmaprt.vmap(np.dot)(np.ones((3, 4)), np.ones((3, 4)))   # [3, 4], [3, 4] -> [3]
array([4., 4., 4.])
"""

from . import _core  # the compiled kernels: importing vmaprt fails loudly without them
from . import _rules  # noqa: F401  (registers every batch rule)
from . import tree
from ._api import vmap
from ._batched import BatchedArray, per_example
from ._core import get_num_threads, set_num_threads
from ._registry import PerformanceWarning, has_batch_rule, register_batch_rule

__version__ = "0.1.0"

__all__ = [
    "vmap",
    "BatchedArray",
    "PerformanceWarning",
    "register_batch_rule",
    "has_batch_rule",
    "per_example",
    "set_num_threads",
    "get_num_threads",
    "tree",
]
