"""Reductions and scans over per-example axes: the batch axis goes first, ``axis`` shifts past it."""

import numpy as np

from ._helpers import defreducer

# These take a where= mask, which may be batched; some have a compiled kernel.
KERNELS = {np.sum: "sum", np.mean: "mean", np.prod: "prod", np.min: "min", np.amin: "min",
           np.max: "max", np.amax: "max", np.var: "var", np.std: "std"}  # fmt: skip
for _f in [
    np.sum, np.mean, np.prod, np.min, np.max, np.amin, np.amax, np.any, np.all,
    np.std, np.var, np.nansum, np.nanmean, np.nanprod, np.nanmin, np.nanmax,
    np.nanstd, np.nanvar,
]:  # fmt: skip
    defreducer(_f, masked=True, kernel=KERNELS.get(_f))

for _f in [np.median, np.nanmedian, np.ptp]:
    defreducer(_f)

defreducer(np.count_nonzero, has_out=False)

for _f in [np.argmin, np.argmax, np.nanargmin, np.nanargmax, np.cumsum, np.cumprod,
           np.nancumsum, np.nancumprod]:  # fmt: skip
    defreducer(_f, flat_when_none=True)
