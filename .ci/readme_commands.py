"""Print the README's set-up commands, one a line, as written in README.md.

They are the one-line ``bash`` code blocks of its "Set-up" section; CI runs
them verbatim, so the README is their only copy.
"""

import re
import sys

text = open(sys.argv[1], encoding="utf-8").read()
section = re.search(r"^## Set-up\n(.*?)(?=^## )", text, re.S | re.M)
if section is None:
    sys.exit("README.md has no '## Set-up' section")
commands = re.findall(r"^```bash\n(.*?)\n```$", section.group(1), re.S | re.M)
if len(commands) != 2 or any("\n" in c for c in commands):
    sys.exit(f"README.md's Set-up section should hold two one-line bash blocks, found: {commands!r}")
print("\n".join(commands))
