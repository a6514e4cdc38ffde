"""Draw docs/_static/benchmarks.svg from the ratio table in docs/performance.rst.

Run from the repository root: ``python docs/plot_benchmarks.py``.

The run behind the Results section left no JSON in the repository, so this
reads its numbers back from the ratio table that the page prints (ratios to
two decimals, which a log-scale bar cannot show more finely anyway), with the
date and core count the page gives, and hands them to the suite's own
``benchmarks.run.plot``, as ``python -m benchmarks --plot`` would.  A new run
can draw its plot directly: ``python -m benchmarks --json run.json --plot
docs/_static/benchmarks.svg``; then update the table and text to match.
"""

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.columns import COLUMNS  # noqa: E402
from benchmarks.run import plot  # noqa: E402

PAGE = ROOT / "docs" / "performance.rst"
OUT = ROOT / "docs" / "_static" / "benchmarks.svg"


def read_table(text):
    """``(rows, columns, geomeans, date, cores)`` from the page's ratio table."""
    date = re.search(r"Measured on (\d{4}-\d\d-\d\d)", text).group(1)
    cores = int(re.search(r"^ +numpy [^\n]*?(\d+) cores,", text, re.M).group(1))
    table = text.split("Ratio to the best hand-vectorized NumPy (lower is faster)\n", 1)[1]
    table = table.split("\n\n", 1)[0]
    columns = [c for c in COLUMNS if c != "numpy"]  # the table's order (see performance.rst)
    rows, geomeans = [], {}
    for line in table.splitlines():
        m = re.match(r" +(.+?) +((?:\d+(?:\.\d+)? +){%d}\d+(?:\.\d+)?)$" % (len(columns) - 1), line)
        if not m:
            continue
        label, values = m.group(1), [float(v) for v in m.group(2).split()]
        if label == "geometric mean":
            geomeans = dict(zip(columns, values))
            continue
        name, shape = re.fullmatch(r"(.+) \[([\d, ]+)\]", label).groups()
        rows.append({"name": name, "shapes": [[int(n) for n in shape.split(",")]],
                     "columns": {c: {"ratio": v} for c, v in zip(columns, values)}})
    return rows, ["numpy"] + columns, geomeans, date, cores


def main():
    rows, columns, geomeans, date, cores = read_table(PAGE.read_text(encoding="utf-8"))
    assert len(rows) == 17 and geomeans, (len(rows), geomeans)
    title = f"vmaprt benchmarks, {date}, {cores} cores: geomean vmaprt/numpy {geomeans['vmaprt']:.2f}"
    plot(rows, columns, geomeans, OUT, title)
    print(f"wrote {OUT} ({len(rows)} workloads, columns {', '.join(columns[1:])})")


if __name__ == "__main__":
    main()
