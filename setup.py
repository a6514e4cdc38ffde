"""Build of the compiled kernels, vmaprt._core (metadata lives in pyproject.toml).

VMAPRT_DEBUG_BUILD=1 compiles with bounds, wraparound and None checks on, for
running the kernel tests against out-of-range memory access.
"""

import os
import sys

import numpy as np
from Cython.Build import cythonize
from setuptools import Extension, setup

DEBUG = os.environ.get("VMAPRT_DEBUG_BUILD", "") not in ("", "0")

directives = {
    "language_level": 3,
    "boundscheck": DEBUG,
    "wraparound": DEBUG,
    "initializedcheck": DEBUG,
    "nonecheck": DEBUG,
    "cdivision": not DEBUG,
}

if sys.platform == "win32":
    openmp = ["/openmp"], []
elif sys.platform == "darwin":
    openmp = ["-Xpreprocessor", "-fopenmp"], ["-lomp"]
else:
    openmp = ["-fopenmp"], ["-fopenmp"]

extensions = [
    Extension(
        "vmaprt._core",
        ["src/vmaprt/_core.pyx"],
        include_dirs=[np.get_include()],
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_2_0_API_VERSION"), ("VMAPRT_DEBUG", int(DEBUG))],
        extra_compile_args=[*openmp[0], "-O3"] + (["-O0", "-g"] if DEBUG else []),
        extra_link_args=openmp[1],
    )
]

setup(ext_modules=cythonize(extensions, compiler_directives=directives))
