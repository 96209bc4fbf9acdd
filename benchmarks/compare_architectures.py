"""The convolutional pair against the fully connected one at equal wall time: the runs behind the
architecture table in docs/training.md.

    .venv/bin/python benchmarks/compare_architectures.py --budget 300 \
        "preset=default epochs=40" "preset=dcgan epochs=10"

Each argument is one run, written as for benchmarks/sweep_training.py (``preset=NAME`` and
``name=value`` overrides). Every run trains until its epochs are done or its training time passes
``--budget`` seconds; after every epoch the evaluator scores 10,000 samples from fixed latent
vectors (scoring is not counted). The table gives, per run: the last epoch's numbers, the best
confident share reached within 2, 5 and 10 minutes of training, and the training time at which
each threshold was first crossed. For a generator with batch norm and weight averaging it also
scores, at the last epoch, the two other ways of sampling it (see grader.train.add_weight_averaging):
the averaged weights with batch statistics (batches of 1,000) and with the moving averages kept
during training. The functions are the reference solutions (notebook 08 included) unless
--functions names a folder of completed notebooks. Give the machine to one benchmark at a time.
"""
import argparse
import time

import numpy as np
from sweep_training import parse_run

from grader.evaluate import load_evaluator
from grader.exercises import load_conv_functions, load_functions, reference_folder
from grader.quiet import quiet
from grader.tf1 import tf  # noqa: F401  (sets up the TF1 API)
from grader.train import latent, make_params, train_gan

MINUTES = (2, 5, 10)
CONFIDENT = (0.5, 0.75, 0.8, 0.9)
OTHER_SAMPLERS = {"batch statistics": "g_sample_batch_statistics", "training's moving averages":
                  "g_sample_running_statistics"}


def run_one(fns, evaluator, text, budget):
    preset, overrides = parse_run(text)
    params = make_params(preset, **overrides)
    z = latent(np.random.RandomState(12345), 10_000, params["z_size"])
    trace, others = [], {}
    cpu = {"start": time.process_time(), "scoring": 0.0}

    def score(epoch, draw, seconds):
        started = time.process_time()
        training_cpu = started - cpu["start"] - cpu["scoring"]  # all threads; wall time on an idle machine is less
        s = evaluator.scores(draw(z))
        trace.append((epoch, seconds, s))
        print(f"  epoch {epoch:3d}  {seconds:6.1f} s (cpu {training_cpu:6.1f} s)  FD {s['frechet_distance']:7.2f}  "
              f"confident {s['confident_fraction']:.3f}  rarest digit {s['digit_shares'].min():.3f}", flush=True)
        done = seconds >= budget or epoch == params["epochs"]
        if done and params["architecture"] == "dcgan" and params["ema_decay"] > 0:
            for name, output in OTHER_SAMPLERS.items():
                try:
                    others[name] = evaluator.scores(draw(z, output))
                except KeyError:  # no batch norm in this generator
                    continue
                o = others[name]
                print(f"    sampled with {name}: FD {o['frechet_distance']:.2f}  "
                      f"confident {o['confident_fraction']:.3f}  rarest digit {o['digit_shares'].min():.3f}")
        cpu["scoring"] += time.process_time() - started
        return seconds >= budget

    print(f"run: {text}", flush=True)
    train_gan(fns, params, None, progress=False, on_epoch_end=score, write_outputs=False)
    return trace, others


def first_time(trace, test):
    return next((f"{seconds:.0f} s ({epoch})" for epoch, seconds, s in trace if test(s)), "not reached")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="+", help="one run each: 'preset=NAME name=value ...'")
    parser.add_argument("--budget", type=float, default=300, help="training seconds per run (default 300)")
    parser.add_argument("--functions", default=str(reference_folder()),
                        help="folder of the exercise notebooks 01-05 and 08")
    args = parser.parse_args()
    fns = load_functions(args.functions)
    load_conv_functions(args.functions, module=fns)
    with quiet():
        evaluator = load_evaluator(progress=False)
    floor = evaluator.real_scores()["frechet_distance"]
    results = [(text, *run_one(fns, evaluator, text, args.budget)) for text in args.runs]

    print(f"\nreal MNIST: FD {floor:.2f}\n")
    print("| run | epochs | train s | FD | confident | rarest digit | "
          + " | ".join(f"best confident by {m} min" for m in MINUTES) + " |")
    print("| --- " * (6 + len(MINUTES)) + "|")
    for text, trace, _ in results:
        epoch, seconds, s = trace[-1]
        best = [max((row[2]["confident_fraction"] for row in trace if row[1] <= 60 * m), default=None)
                for m in MINUTES]
        print(f"| {text} | {epoch} | {seconds:.0f} | {s['frechet_distance']:.1f} | {s['confident_fraction']:.1%} | "
              f"{s['digit_shares'].min():.1%} | " + " | ".join("-" if b is None else f"{b:.1%}" for b in best) + " |")
    thresholds = [("every digit >= 2%", lambda s: s["digit_shares"].min() >= 0.02)]
    thresholds += [(f"confident >= {c:.0%}", lambda s, c=c: s["confident_fraction"] >= c) for c in CONFIDENT]
    thresholds += [(f"FD <= {m} x real", lambda s, m=m: s["frechet_distance"] <= m * floor) for m in (10, 3)]
    print("\ntraining seconds (epoch) until each threshold is first crossed:\n")
    print("| threshold | " + " | ".join(text for text, _, _ in results) + " |")
    print("| --- " * (1 + len(results)) + "|")
    for name, test in thresholds:
        print(f"| {name} | " + " | ".join(first_time(trace, test) for _, trace, _ in results) + " |")
    for text, _, others in results:
        for name, s in others.items():
            print(f"{text}, last epoch sampled with {name}: FD {s['frechet_distance']:.2f}, "
                  f"confident {s['confident_fraction']:.1%}, rarest digit {s['digit_shares'].min():.1%}")


if __name__ == "__main__":
    main()
