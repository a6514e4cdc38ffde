"""Reductions and scans over per-example axes: the batch axis goes first, ``axis`` shifts past it."""

import numpy as np

from ._helpers import defreducer

for _f in [
    np.sum, np.mean, np.prod, np.min, np.max, np.amin, np.amax, np.any, np.all,
    np.std, np.var, np.median, np.nansum, np.nanmean, np.nanprod, np.nanmin,
    np.nanmax, np.nanstd, np.nanvar, np.nanmedian, np.ptp, np.count_nonzero,
]:  # fmt: skip
    defreducer(_f)

for _f in [np.argmin, np.argmax, np.nanargmin, np.nanargmax, np.cumsum, np.cumprod,
           np.nancumsum, np.nancumprod]:  # fmt: skip
    defreducer(_f, flat_when_none=True)
