"""The mutation score of the last `make mutate`, per module, from mutmut's result files.

A mutant is *killed* when a test failed with it in place (or it ran past its time limit: the
mutation broke the code badly enough to hang it). Survivors are listed with their diffs by
`mutmut show NAME`. Run from the repository root after `make mutate`:

    .venv/bin/python tools/mutation_score.py [--survivors]
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter, defaultdict
from pathlib import Path

MUTANTS = Path("mutants")
KILLED = {1, 3, 36, -24, 24, 152, 255}  # mutmut's exit codes for a failed test run and for a timeout
SURVIVED = {0}
NO_TESTS = {5, 33}


def results() -> dict[str, dict[str, int | None]]:
    """Module name → {mutant name: exit code} from every ``*.py.meta`` file mutmut wrote."""
    out: dict[str, dict] = {}
    for meta in sorted(MUTANTS.rglob("*.py.meta")):
        codes = json.loads(meta.read_text())["exit_code_by_key"]
        module = str(meta.relative_to(MUTANTS)).removesuffix(".meta")
        out[module] = codes
    return out


def main() -> int:
    if not MUTANTS.is_dir():
        print("no mutants/ folder: run `make mutate` first", file=sys.stderr)
        return 2
    rows, total = [], Counter()
    survivors = defaultdict(list)
    for module, codes in results().items():
        c = Counter()
        for name, code in codes.items():
            kind = ("killed" if code in KILLED else "survived" if code in SURVIVED else
                    "no tests" if code in NO_TESTS else "not run" if code is None else "other")
            c[kind] += 1
            if kind in ("survived", "no tests"):
                survivors[module].append(name)
        total.update(c)
        checked = c["killed"] + c["survived"] + c["no tests"]
        rows.append((module, c["killed"], c["survived"], c["no tests"], c["not run"], checked))
    print("| module | killed | survived | no test | score |\n|---|---:|---:|---:|---:|")
    for module, killed, survived, no_tests, not_run, checked in rows:
        score = f"{100 * killed / checked:.1f}%" if checked else "–"
        print(f"| `{module}` | {killed} | {survived} | {no_tests} | "
              f"{score}{' (' + str(not_run) + ' not run)' if not_run else ''} |")
    checked = total["killed"] + total["survived"] + total["no tests"]
    print(f"| **all** | {total['killed']} | {total['survived']} | {total['no tests']} | "
          f"**{100 * total['killed'] / max(checked, 1):.1f}%** |")
    if "--survivors" in sys.argv:
        for module, names in survivors.items():
            for name in names:
                diff = subprocess.run([sys.executable, "-m", "mutmut", "show", name], capture_output=True,
                                      text=True).stdout
                changed = [line for line in diff.splitlines()
                           if line.startswith(("-  ", "+  ")) or line[:2] in ("- ", "+ ")]
                print(f"\n{name}\n" + "\n".join(changed))
    return 0


if __name__ == "__main__":
    sys.exit(main())
