"""What the trusted checker's path costs, and whether it says the same: the catalogues of
references, correct alternatives and mistakes (tests/mistakes.py, tests/alternatives.py), run
in-process as in a notebook and through a builder in a zygote plus the checker's stand-ins.

    .venv/bin/python benchmarks/bench_checker.py [--notebooks 02 07]

For each notebook it prints the seconds of both paths, their ratio, and how many cases give a
different verdict or message (expected: none). The zygote runs without bubblewrap here: the
sandbox's cost is the autograde benchmark's (benchmarks/bench_autograde.py).
"""
import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from alternatives import ALTERNATIVES  # noqa: E402
from grader.grading.isolation import sandbox  # noqa: E402
from mistakes import MISTAKES  # noqa: E402
from notebook_tools import answer_notebooks, failed_tests, reference_source, trusted_failed_tests  # noqa: E402
from test_mistakes import apply_edits  # noqa: E402


def cases_of(prefix):
    notebooks = answer_notebooks()
    chosen = [f for f in notebooks if notebooks[f].startswith(prefix)]
    cases = [(f"reference {f}", f, reference_source(f)) for f in chosen]
    cases += [(f"alternative: {n}", f, s) for n, (f, s) in ALTERNATIVES.items() if f in chosen]
    cases += [(n, f, apply_edits(reference_source(f), e)) for n, f, e, _ in MISTAKES if f in chosen]
    return cases


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--notebooks", nargs="*", default=["01", "02", "03", "04", "05", "07", "08"])
    args = parser.parse_args()
    box = sandbox.StudentSandbox(tempfile.mkdtemp(prefix="bench-checker-") + "/sandbox", None, contained=False)
    box.start()
    print(f"{'notebook':10}{'cases':>7}{'in-process s':>14}{'trusted s':>11}{'ratio':>7}{'differ':>8}")
    try:
        for prefix in args.notebooks:
            cases = cases_of(prefix)
            here = there = 0.0
            differ = []
            for name, function, source in cases:
                started = time.monotonic()
                expected = failed_tests(function, source)
                here += time.monotonic() - started
                started = time.monotonic()
                found = trusted_failed_tests(function, source, box.socket_path, box.workdir)
                there += time.monotonic() - started
                if found != expected:
                    differ.append(name)
            print(f"{prefix:10}{len(cases):>7}{here:>14.1f}{there:>11.1f}{there / here:>7.2f}{len(differ):>8}",
                  flush=True)
            for name in differ:
                print(f"    differs: {name}")
    finally:
        box.close()


if __name__ == "__main__":
    main()
