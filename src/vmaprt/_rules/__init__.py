"""Batch rules, one module per family.  Importing this package registers them all."""

from . import creation, dynamic, elementwise, indexing, products, reductions, shape  # noqa: F401
from . import fft, linalg, metadata, polynomial, sorting, statistics, strings  # noqa: F401
