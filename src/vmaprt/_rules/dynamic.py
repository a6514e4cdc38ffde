"""Functions whose result's shape depends on the values: refused under vmap.

Each example would get a result of its own length, which cannot be stacked
into one batch.  The message points at fixed-shape formulations.
"""

import numpy as np

from .._registry import refuse

_WHY = (
    "the shape of its result depends on the values, so it would differ between "
    "examples and cannot be stacked into a batch. Use a fixed-shape formulation "
    "instead (np.where(cond, x, y), a mask with where= in a reduction, or sorting), "
    "or vmaprt.per_example(fn) if every example's result has the same shape"
)

for _f in [
    np.nonzero, np.argwhere, np.flatnonzero, np.extract, np.unique, np.unique_all,
    np.unique_counts, np.unique_inverse, np.unique_values, np.trim_zeros,
    np.setdiff1d, np.intersect1d, np.union1d, np.setxor1d,
]:  # fmt: skip
    refuse(_f, _WHY)
