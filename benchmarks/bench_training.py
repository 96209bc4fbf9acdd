"""Benchmark the course's training loop and presets, side by side in one run on this machine.

(a) Training steps per second: the course's loop (one session.run per step doing both updates)
    against the classic tutorial loop (one session.run per network, fed with feed_dict), on the
    same graph without the preset's extras, for the architectures of the "classic" and "default"
    presets. Two more columns: the course's loop with TensorFlow running one op at a time
    (inter_op_parallelism_threads=1) instead of two, and with the preset's extras (weight
    averaging, R1 penalty), to show what each costs. Every session has threads of its own, so
    one's settings cannot leak into another's. The loops alternate in short bursts, so a change
    in machine load hits all alike; medians are reported.
(b) Time to quality: the "default" and "classic" presets train while, after every epoch, the
    evaluator scores 10,000 samples (not counted in the time); the table gives the training
    seconds until each threshold is first crossed.

    .venv/bin/python benchmarks/bench_training.py                 # both parts (about 10 minutes on 2 cores)
    .venv/bin/python benchmarks/bench_training.py --speed-only    # part (a) only (about a minute)

The functions come from the reference solutions (solutions/gan) unless --functions names a
folder of completed exercise notebooks.
"""
import argparse
import os
import statistics
import time

import numpy as np

from grader.evaluate import GOALS, load_evaluator
from grader.exercises import load_functions, reference_folder
from grader.quiet import quiet
from grader.tf1 import tf  # the TF1 API
from grader.train import build_gan, latent, make_params, session_config, train_gan, training_images


def course_steps(session, gan, images, rng, params, steps):
    """The course's loop: both updates, losses and D means from one session.run per step."""
    fetches = gan["train_ops"] + gan["metrics"]
    bs = params["batch_size"]
    shuffled = images[rng.permutation(len(images))]
    for i in range(steps):
        j = i % (len(images) // bs)
        session.run(fetches, {
            gan["input_real"]: shuffled[j * bs : (j + 1) * bs],
            gan["input_z"]: latent(rng, bs, params["z_size"]),
            gan["learning_rate"]: params["learning_rate"],
        })


def classic_steps(session, gan, images, rng, params, steps):
    """The classic tutorial loop: one session.run for D, then one for G (which recomputes G(z) and D(G(z)))."""
    bs = params["batch_size"]
    shuffled = images[rng.permutation(len(images))]
    for i in range(steps):
        j = i % (len(images) // bs)
        batch_z = rng.uniform(-1, 1, size=(bs, params["z_size"]))
        session.run(gan["d_train_opt"], feed_dict={
            gan["input_real"]: shuffled[j * bs : (j + 1) * bs], gan["input_z"]: batch_z,
            gan["learning_rate"]: params["learning_rate"],
        })
        session.run(gan["g_train_opt"],
                    feed_dict={gan["input_z"]: batch_z, gan["learning_rate"]: params["learning_rate"]})


def measure_speed(fns, images, preset, steps, repeats):
    """Median steps/s on the preset's architecture: the classic and the course's loop on the same plain
    graph (no weight averaging, no gradient penalty), the course's loop running one op at a time, and
    the course's loop with the preset's extras."""
    params = make_params(preset)
    plain = dict(params, ema_decay=0.0, r1_gamma=0.0)
    graphs = {"classic": plain, "course": plain, "course, one op at a time": plain, "course + extras": params}
    rates = {loop: [] for loop in graphs}
    sessions = {}
    with quiet():
        for loop, graph_params in graphs.items():
            gan = build_gan(fns, graph_params)
            config = session_config()  # threads of its own, so each session keeps its settings
            if loop == "course, one op at a time":
                config.inter_op_parallelism_threads = 1
            session = tf.Session(graph=gan["graph"], config=config)
            session.run(gan["init"])
            sessions[loop] = (session, gan)
    run = {loop: classic_steps if loop == "classic" else course_steps for loop in graphs}
    rng = np.random.RandomState(0)
    for loop, (session, gan) in sessions.items():  # warm-up
        run[loop](session, gan, images, rng, params, 20)
    for _ in range(repeats):
        for loop, (session, gan) in sessions.items():
            started = time.perf_counter()
            run[loop](session, gan, images, rng, params, steps)
            rates[loop].append(steps / (time.perf_counter() - started))
    for session, _ in sessions.values():
        session.close()
    return {loop: statistics.median(values) for loop, values in rates.items()}, params


def time_to_quality(fns, evaluator, preset, max_seconds=None, epochs=None):
    """Per-epoch scores of a training run: list of (train seconds, epoch, scores)."""
    params = make_params(preset, epochs=epochs)
    z = latent(np.random.RandomState(12345), 10_000, params["z_size"])
    trace = []

    def score(epoch, draw, train_seconds):
        trace.append((train_seconds, epoch, evaluator.scores(draw(z))))
        s = trace[-1][2]
        print(f"  {preset:8s} epoch {epoch:3d}  {train_seconds:6.1f} s  FD {s['frechet_distance']:7.2f}  "
              f"confident {s['confident_fraction']:.3f}  rarest digit {s['digit_shares'].min():.3f}", flush=True)
        return max_seconds is not None and train_seconds >= max_seconds

    started = time.perf_counter()
    train_gan(fns, params, None, progress=False, on_epoch_end=score, write_outputs=False)
    return trace, params, time.perf_counter() - started


def first_crossing(trace, passed):
    for seconds, epoch, scores in trace:
        if passed(scores):
            return f"{seconds:.0f} s (epoch {epoch})"
    return f"not within {trace[-1][0]:.0f} s ({trace[-1][1]} epochs)"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--functions", default=str(reference_folder()), help="folder of the five exercise notebooks")
    parser.add_argument("--steps", type=int, default=300, help="steps per timing burst (part a)")
    parser.add_argument("--repeats", type=int, default=5, help="timing bursts per loop (part a)")
    parser.add_argument("--speed-only", action="store_true", help="skip part (b)")
    parser.add_argument("--classic-seconds", type=float, default=None,
                        help="training budget of the classic preset in part (b) (default: the default preset's time)")
    args = parser.parse_args()

    print(f"machine: {os.cpu_count()} CPU cores; load average before start: {os.getloadavg()[0]:.2f}")
    fns = load_functions(args.functions)
    images = training_images(make_params("default"))

    print("\n(a) training steps per second, same graph, course loop vs classic loop")
    rows = []
    for preset in ("classic", "default"):
        rates, params = measure_speed(fns, images, preset, args.steps, args.repeats)
        arch = f"G {params['g_hidden']} / D {params['d_hidden']}, batch {params['batch_size']}"
        extras = [name for name, on in (("weight averaging", params["ema_decay"]), ("R1 penalty", params["r1_gamma"]))
                  if on]
        rows.append((preset, arch, rates, " + ".join(extras) or "none"))
    print("| architecture (preset) | classic loop, steps/s | course loop, steps/s | speed-up | "
          "course loop, one op at a time, steps/s | course loop with the preset's extras, steps/s (extras) |")
    print("| --- | --- | --- | --- | --- | --- |")
    for preset, arch, rates, extras in rows:
        print(f"| {arch} ({preset}) | {rates['classic']:.0f} | {rates['course']:.0f} | "
              f"{rates['course'] / rates['classic']:.2f}x | {rates['course, one op at a time']:.0f} | "
              f"{rates['course + extras']:.0f} ({extras}) |")
    if args.speed_only:
        return

    print("\n(b) time to quality (training seconds; scoring after each epoch not counted)")
    with quiet():
        evaluator = load_evaluator(progress=False)
    real = evaluator.real_scores(10_000)
    fd_goal = GOALS["frechet_multiple"] * real["frechet_distance"]
    thresholds = [
        (f"all 10 digits >= {GOALS['min_digit_share']:.0%} of samples",
         lambda s: s["digit_shares"].min() >= GOALS["min_digit_share"]),
        ("confident (p >= 0.9) >= 50%", lambda s: s["confident_fraction"] >= 0.5),
        ("confident (p >= 0.9) >= 75%", lambda s: s["confident_fraction"] >= 0.75),
        (f"confident (p >= 0.9) >= {GOALS['confident_fraction']:.0%}",
         lambda s: s["confident_fraction"] >= GOALS["confident_fraction"]),
        ("Frechet distance <= 100", lambda s: s["frechet_distance"] <= 100),
        ("Frechet distance <= 50", lambda s: s["frechet_distance"] <= 50),
        (f"Frechet distance <= {fd_goal:.1f} ({GOALS['frechet_multiple']:g} x real)",
         lambda s: s["frechet_distance"] <= fd_goal),
    ]
    default_trace, default_params, default_wall = time_to_quality(fns, evaluator, "default")
    budget = args.classic_seconds or default_trace[-1][0]
    classic_trace, _, _ = time_to_quality(fns, evaluator, "classic", max_seconds=budget, epochs=10_000)
    print(f"\nreal MNIST (10,000 held-out training images): FD {real['frechet_distance']:.2f}, "
          f"confident {real['confident_fraction']:.1%}, rarest digit {real['digit_shares'].min():.1%}")
    print("| threshold | default preset | classic preset |")
    print("| --- | --- | --- |")
    for name, passed in thresholds:
        print(f"| {name} | {first_crossing(default_trace, passed)} | {first_crossing(classic_trace, passed)} |")
    for preset, trace in (("default", default_trace), ("classic", classic_trace)):
        seconds, epoch, s = trace[-1]
        print(f"| final, {preset} ({epoch} epochs, {seconds:.0f} s) | FD {s['frechet_distance']:.1f}, confident "
              f"{s['confident_fraction']:.1%}, rarest digit {s['digit_shares'].min():.1%}, "
              f"score {s['classifier_score']:.2f} | |")
    print(f"\nload average after the run: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
