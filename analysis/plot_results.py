#!/usr/bin/env python3
"""Draw the figures of one or more cimcarlo result files as PNGs.

    python3 analysis/plot_results.py runs/out/quickstart.h5 [more.h5 ...] [--out DIR]

For each file FILE.h5 it writes, next to it (or into DIR), every figure that applies:
  FILE-distribution.png  accuracy distribution per policy (violins), at each time point
  FILE-time.png          accuracy over time with 5-95 % and 25-75 % quantile bands (> 1 time)
  FILE-cost.png          mean accuracy vs mean programming pulses per policy, Pareto front
                         marked (> 1 policy)
  FILE-yield.png         yield vs accuracy threshold with 95 % Wilson bands, last time point
  FILE-tail.png          scaled-sigma sampling: P(accuracy < threshold) against the scale s,
                         with Wilson bars, the fit log P = a + b log s + c / s^2, its
                         extrapolation to s = 1 with the bootstrap 95 % CI, and plain
                         Monte-Carlo at s = 1 (studies with a tail)
Reads the files with h5py only. Prints the paths it wrote.
"""
import argparse
import os
import sys

import h5py
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

Z95 = 1.959963984540054


def load(path):
    with h5py.File(path, "r", swmr=True) as f:
        policies = [p.decode() if isinstance(p, bytes) else str(p) for p in f["policy"][...]]
        result = {
            "accuracy": f["accuracy"][...].astype(float),
            "policies": policies,
            "times": f["time"][...],
            "cycles": f["write_cycles"][...],
            "threshold": float(f.attrs.get("accuracy_threshold", 0.8)),
            "test_images": int(f.attrs["test_images"]),
            "status": f.attrs.get("status", "unknown"),
        }
        done = np.isfinite(result["accuracy"]).all(axis=(1, 2))
        if "tail" in f:
            done &= f["instance"][...] < int(f["tail"].attrs["plain_chips"])
            if "failures" in f["tail"]:
                result["tail"] = {name: f["tail"][name][...] for name in
                                  ["scales", "chips", "failures", "alpha", "beta", "gamma",
                                   "p_fail", "p_fail_low", "p_fail_high"]}
    result["accuracy"] = result["accuracy"][done]
    result["cycles"] = result["cycles"][done]
    return result


def format_time(seconds):
    for size, unit in [(86400 * 365, "y"), (86400, "d"), (3600, "h"), (60, "min"), (1, "s")]:
        if seconds >= size:
            value = seconds / size
            return f"{value:g} {unit}"
    return f"{seconds:g} s"


def wilson(successes, trials):
    p = successes / trials
    denominator = 1 + Z95 ** 2 / trials
    centre = (p + Z95 ** 2 / (2 * trials)) / denominator
    half = Z95 * np.sqrt(p * (1 - p) / trials + Z95 ** 2 / (4 * trials ** 2)) / denominator
    return np.clip(centre - half, 0, 1), np.clip(centre + half, 0, 1)


def plot_distribution(data, title):
    accuracy, policies, times = data["accuracy"], data["policies"], data["times"]
    columns = len(times)
    figure, axes = plt.subplots(1, columns, figsize=(max(5, 1.1 * len(policies)) * columns, 4.2), squeeze=False)
    for t, axis in enumerate(axes[0]):
        values = [100 * accuracy[:, p, t] for p in range(len(policies))]
        parts = axis.violinplot(values, showmedians=True, showextrema=True)
        for body in parts["bodies"]:
            body.set_alpha(0.6)
        axis.set_xticks(range(1, len(policies) + 1), policies, rotation=45, ha="right")
        axis.set_ylabel("top-1 accuracy (%)")
        axis.set_title(f"t = {format_time(times[t])}")
        axis.axhline(100 * data["threshold"], color="grey", linestyle=":", linewidth=1)
        axis.grid(axis="y", alpha=0.3)
    figure.suptitle(f"{title}: accuracy over {accuracy.shape[0]} chips")
    figure.tight_layout()
    return figure


def plot_time(data, title):
    accuracy, policies, times = data["accuracy"], data["policies"], data["times"]
    figure, axis = plt.subplots(figsize=(6.5, 4.2))
    x = np.maximum(times, 1e-3)
    for p, name in enumerate(policies):
        values = 100 * accuracy[:, p, :]
        line, = axis.plot(x, values.mean(axis=0), marker="o", label=name)
        q05, q25, q75, q95 = np.quantile(values, [0.05, 0.25, 0.75, 0.95], axis=0)
        axis.fill_between(x, q05, q95, color=line.get_color(), alpha=0.15)
        axis.fill_between(x, q25, q75, color=line.get_color(), alpha=0.25)
    axis.set_xscale("log")
    axis.set_xticks(x, [format_time(t) for t in times])
    axis.set_xlabel("time after programming")
    axis.set_ylabel("top-1 accuracy (%)")
    axis.set_title(f"{title}: mean, 25-75 % and 5-95 % bands")
    axis.grid(alpha=0.3)
    axis.legend(fontsize="small")
    figure.tight_layout()
    return figure


def pareto_front(costs, accuracies):
    order = np.argsort(costs)
    front, best = [], -np.inf
    for index in order:
        if accuracies[index] > best:
            front.append(index)
            best = accuracies[index]
    return front


def plot_cost(data, title):
    accuracy, policies = data["accuracy"], data["policies"]
    last = len(data["times"]) - 1
    costs = data["cycles"].mean(axis=0)
    means = 100 * accuracy[:, :, last].mean(axis=0)
    halves = 100 * Z95 * accuracy[:, :, last].std(axis=0, ddof=1) / np.sqrt(max(accuracy.shape[0], 1))
    families = {}
    for p, name in enumerate(policies):
        families.setdefault(name.split("@")[0], []).append(p)
    figure, axis = plt.subplots(figsize=(6.5, 4.4))
    for family, members in families.items():
        members = sorted(members, key=lambda p: costs[p])
        axis.errorbar(costs[members], means[members], yerr=halves[members], marker="o", capsize=3, label=family)
    front = pareto_front(costs, means)
    axis.plot(costs[front], means[front], color="black", linestyle="--", linewidth=1, label="Pareto front")
    axis.set_xscale("log")
    axis.set_xlabel("programming pulses per chip (mean)")
    axis.set_ylabel("mean top-1 accuracy (%), 95 % CI")
    axis.set_title(f"{title}: accuracy vs programming cost, t = {format_time(data['times'][last])}")
    axis.grid(alpha=0.3)
    axis.legend(fontsize="small")
    figure.tight_layout()
    return figure


def plot_yield(data, title):
    accuracy, policies = data["accuracy"], data["policies"]
    last = len(data["times"]) - 1
    values = accuracy[:, :, last]
    low = max(0.0, np.nanmin(values) - 0.02)
    high = min(1.0, np.nanmax(values) + 0.01)
    thresholds = np.linspace(low, high, 200)
    trials = values.shape[0]
    figure, axis = plt.subplots(figsize=(6.5, 4.2))
    # Yield compares correct-image counts, as cimcarlo does: a float32 accuracy exactly on a
    # threshold would otherwise fall just below it.
    images = data["test_images"]
    correct = np.rint(values * images)
    required = np.ceil(np.round(thresholds * images, 9))
    for p, name in enumerate(policies):
        successes = (correct[:, p][None, :] >= required[:, None]).sum(axis=1)
        yields = successes / trials
        lower, upper = wilson(successes, trials)
        line, = axis.plot(100 * thresholds, yields, label=name)
        axis.fill_between(100 * thresholds, lower, upper, color=line.get_color(), alpha=0.2)
    axis.axvline(100 * data["threshold"], color="grey", linestyle=":", linewidth=1)
    axis.set_xlabel("accuracy threshold (%)")
    axis.set_ylabel("yield P(accuracy ≥ threshold)")
    axis.set_title(f"{title}: yield, 95 % Wilson band, t = {format_time(data['times'][last])}")
    axis.grid(alpha=0.3)
    axis.legend(fontsize="small")
    figure.tight_layout()
    return figure


def plot_tail(data, title):
    tail = data["tail"]
    figure, axis = plt.subplots(figsize=(7, 4.5))
    scales = tail["scales"]
    curve = np.linspace(1, scales.max() * 1.05, 200)
    threshold = 100 * data["threshold"]
    for p, policy in enumerate(data["policies"]):
        for t, time in enumerate(data["times"]):
            label = f"{policy} @ {format_time(time)}"
            failures, chips = tail["failures"][p, t], tail["chips"]
            share = failures / chips
            low, high = wilson(failures, chips)
            line = axis.errorbar(scales, share, yerr=[share - low, high - share], fmt="o", capsize=3, label=label)
            color = line[0].get_color()
            alpha, beta, gamma = tail["alpha"][p, t], tail["beta"][p, t], tail["gamma"][p, t]
            if np.isfinite(alpha):
                axis.plot(curve, np.exp(alpha + beta * np.log(curve) + gamma / curve ** 2), color=color, lw=1)
                estimate = tail["p_fail"][p, t]
                axis.errorbar([1], [estimate], yerr=[[estimate - tail["p_fail_low"][p, t]],
                                                     [tail["p_fail_high"][p, t] - estimate]],
                              fmt="s", color=color, capsize=4, mfc="white")
            plain = data["accuracy"][:, p, t]
            if len(plain):
                plain_failures = int((np.rint(plain * data["test_images"]) <
                                      np.ceil(np.round(data["threshold"] * data["test_images"], 9))).sum())
                plain_low, plain_high = wilson(plain_failures, len(plain))
                if plain_failures:
                    axis.plot([1, 1], [plain_low, plain_high], color=color, lw=4, alpha=0.35)
                else:  # none failed: the upper bound only
                    axis.plot([1], [plain_high], marker="v", color=color, alpha=0.5, ms=9)
    axis.set_yscale("log")
    axis.set_xlabel("scale s of every random deviation")
    axis.set_ylabel(f"P(accuracy < {threshold:g} %)")
    axis.set_title(f"{title}: scaled-sigma sampling (squares: extrapolation to s = 1, 95 % CI; "
                   f"bars or ▼ at 1: plain Monte-Carlo)", fontsize="small")
    axis.grid(alpha=0.3, which="both")
    axis.legend(fontsize="small")
    figure.tight_layout()
    return figure


def render(path, out_dir=None):
    data = load(path)
    if data["accuracy"].shape[0] == 0:
        raise SystemExit(f"{path}: no completed instances to plot")
    stem = os.path.splitext(os.path.basename(path))[0]
    directory = out_dir or os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    figures = [("distribution", plot_distribution)]
    if len(data["times"]) > 1:
        figures.append(("time", plot_time))
    if len(data["policies"]) > 1:
        figures.append(("cost", plot_cost))
    figures.append(("yield", plot_yield))
    if "tail" in data:
        figures.append(("tail", plot_tail))
    written = []
    for name, draw in figures:
        figure = draw(data, stem)
        target = os.path.join(directory, f"{stem}-{name}.png")
        figure.savefig(target, dpi=110)
        plt.close(figure)
        written.append(target)
    return written


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("files", nargs="+", help="result files (HDF5)")
    parser.add_argument("--out", help="directory for the PNGs (default: next to each file)")
    arguments = parser.parse_args(argv)
    for path in arguments.files:
        for written in render(path, arguments.out):
            print(written)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
