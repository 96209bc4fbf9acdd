"""Run every scenario of the ring lab (notebook 07) and print the table docs/training.md quotes.

    .venv/bin/python benchmarks/ring_lab_scenarios.py               # all scenarios, seed 0
    .venv/bin/python benchmarks/ring_lab_scenarios.py --seeds 0 1 2 healthy collapse

The functions are the reference solutions (solutions/gan) and the step function is the reference
answer of notebook 07 (Algorithm 1 of Goodfellow et al. 2014), read from its cell, as in
tests/test_ring_lab.py.
Seconds are each whole run (graph, training, snapshots) on this machine; plotting is not included.
"""
import argparse
import contextlib
import io
import os
import platform
import time

from grader import plots, ring_lab
from grader.exercises import reference_folder, solution_cell_source
from grader.quiet import quiet
from grader.train import exercise_functions

THEORY_NOTEBOOK = "07_theory_and_failure_modes.ipynb"


def reference_training_step():
    """Notebook 07's reference training_step, executed from its cell in solutions/."""
    namespace = {}
    exec(solution_cell_source(reference_folder() / THEORY_NOTEBOOK, "training_step"), namespace)
    return namespace["training_step"]


def machine():
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as handle:
            model = next(line.split(":", 1)[1].strip() for line in handle if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"{model}, {os.cpu_count()} cores"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("scenarios", nargs="*", default=list(ring_lab.SCENARIOS), help="names from SCENARIOS")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    arguments = parser.parse_args()
    with quiet(), contextlib.redirect_stdout(io.StringIO()):
        fns = exercise_functions(True, None)
    print(f"machine: {machine()}")
    print("| scenario | steps | k | modes covered | high-quality share | seconds | seed |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    training_step = reference_training_step()
    started, results = time.perf_counter(), []
    for name in arguments.scenarios:
        for seed in arguments.seeds:
            result = ring_lab.run(fns, training_step, name, seed=seed)
            results.append(result)
            config = result.config
            print(f"| {name} | {config['steps']:,} | {config['k']} | {result.modes_covered}/{ring_lab.N_MODES} | "
                  f"{result.high_quality_share:.0%} | {result.seconds:.1f} | {seed} |", flush=True)
    runs_seconds = time.perf_counter() - started
    tick = time.perf_counter()
    plots.ring_runs(results).savefig(io.BytesIO(), format="png", dpi=100)
    print(f"all runs: {runs_seconds:.0f} s; their figure (plots.ring_runs, drawn as PNG): "
          f"{time.perf_counter() - tick:.1f} s")


if __name__ == "__main__":
    main()
