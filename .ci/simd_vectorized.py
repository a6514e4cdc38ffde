"""Check that gcc vectorizes every SIMD math loop of src/vmaprt/_simd.h in its AVX2 build.

A loop the compiler cannot vectorize still gives the right values, one element
at a time, so only the speed shows it: sin and cos once ran at 6 ns an element
instead of 2 because a branch kept gcc from vectorizing them.  This compiles
one AVX2 loop per operation with gcc's vectorizer report and fails on any loop
it did not vectorize.
"""

import pathlib
import re
import subprocess
import sys
import tempfile

HEADER = pathlib.Path(__file__).resolve().parent.parent / "src" / "vmaprt" / "_simd.h"
CORES = {"exp": "vmaprt_exp_core(x[i])", "tanh": "vmaprt_tanh_core(x[i])", "log": "vmaprt_log_core(x[i])",
         "sin": "vmaprt_sincos_core(x[i], 0)", "cos": "vmaprt_sincos_core(x[i], 1)"}

lines = ["typedef long Py_ssize_t;", f'#include "{HEADER}"']
for name, core in CORES.items():
    lines.append(f'__attribute__((target("avx2,fma"))) void loop_{name}(const double* x, double* out, long m) '
                 f"{{ for (long i = 0; i < m; i++) out[i] = {core}; }}")
with tempfile.TemporaryDirectory() as tmp:
    source = pathlib.Path(tmp) / "loops.c"
    source.write_text("\n".join(lines) + "\n")
    report = subprocess.run(["gcc", "-O3", "-c", str(source), "-o", str(pathlib.Path(tmp) / "loops.o"),
                             "-fopt-info-vec-all"], capture_output=True, text=True)
if report.returncode != 0:
    sys.exit(f"compiling the SIMD loops failed:\n{report.stderr}")
failed = []
for i, name in enumerate(CORES, start=3):  # loop_<name> is on line i of loops.c
    notes = re.findall(rf"loops\.c:{i}:\d+: (optimized: loop vectorized|missed: not vectorized[^\n]*)", report.stderr)
    if not any(n.startswith("optimized") for n in notes):
        failed.append(f"{name}: {notes or 'no vectorizer report'}")
if failed:
    sys.exit("gcc did not vectorize these SIMD loops of _simd.h:\n  " + "\n  ".join(failed))
print(f"gcc vectorizes the AVX2 loops of {', '.join(CORES)}")
