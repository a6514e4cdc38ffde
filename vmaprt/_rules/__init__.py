"""Batch rules, one module per family.  Importing this package registers them all."""

from . import creation, elementwise, indexing, linalg, reductions, shape  # noqa: F401
