"""Train several settings one after another and score each after every epoch: the runs behind the
preset table in docs/training.md.

    .venv/bin/python benchmarks/sweep_training.py --budget 220 \
        "preset=default" \
        "g_hidden=512 d_hidden=512 learning_rate=4e-3 epochs=18" \
        "g_hidden=512 d_hidden=512 learning_rate=4e-3 epochs=18 r1_gamma=0"

Each argument is one run: space-separated ``name=value`` overrides of a preset (``preset=NAME``
picks it, "default" otherwise; lists without spaces, like ``g_hidden=[256,512]``). After every
epoch the evaluator scores 10,000 samples from fixed latent vectors (not counted in the training
time); a run stops after its epochs or once its training time passes ``--budget`` seconds.
The functions come from the reference solutions unless --functions names a folder of completed
exercise notebooks. Give the machine to one sweep at a time: the budget is wall time.
"""
import argparse
import ast

import numpy as np

from grader.evaluate import load_evaluator
from grader.exercises import load_functions, reference_folder
from grader.quiet import quiet
from grader.tf1 import tf  # noqa: F401  (sets up the TF1 API)
from grader.train import latent, make_params, train_gan


def parse_run(text):
    """'preset=classic epochs=5 g_hidden=[256,512]' -> ('classic', {'epochs': 5, 'g_hidden': [256, 512]})."""
    overrides = {}
    for item in text.split():
        name, _, value = item.partition("=")
        try:
            overrides[name] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            overrides[name] = value
    return overrides.pop("preset", "default"), overrides


def sweep_one(fns, evaluator, text, budget):
    preset, overrides = parse_run(text)
    params = make_params(preset, **overrides)
    z = latent(np.random.RandomState(12345), 10_000, params["z_size"])
    trace = []

    def score(epoch, draw, seconds):
        s = evaluator.scores(draw(z))
        trace.append((epoch, seconds, s))
        print(f"  epoch {epoch:3d}  {seconds:6.1f} s  FD {s['frechet_distance']:7.2f}  "
              f"confident {s['confident_fraction']:.3f}  rarest digit {s['digit_shares'].min():.3f}", flush=True)
        return seconds >= budget

    print(f"run: {text}", flush=True)
    train_gan(fns, params, None, progress=False, on_epoch_end=score, write_outputs=False)
    return trace


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="+", help="one run each: 'name=value ...' overrides")
    parser.add_argument("--budget", type=float, default=220, help="training seconds per run (default 220)")
    parser.add_argument("--functions", default=str(reference_folder()), help="folder of the five exercise notebooks")
    args = parser.parse_args()
    fns = load_functions(args.functions)
    with quiet():
        evaluator = load_evaluator(progress=False)
    rows = [(text, sweep_one(fns, evaluator, text, args.budget)) for text in args.runs]
    print("\n| run | epochs | train s | FD | confident | rarest digit | best FD (epoch) |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for text, trace in rows:
        epoch, seconds, s = trace[-1]
        best = min(trace, key=lambda row: row[2]["frechet_distance"])
        print(f"| {text} | {epoch} | {seconds:.0f} | {s['frechet_distance']:.1f} | {s['confident_fraction']:.1%} | "
              f"{s['digit_shares'].min():.1%} | {best[2]['frechet_distance']:.1f} ({best[0]}) |")


if __name__ == "__main__":
    main()
