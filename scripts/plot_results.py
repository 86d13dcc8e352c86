#!/usr/bin/env python3
"""Draw the LTH figures of a results folder from its CSVs alone, as PDF and PNG into DIR/figures/.

    python3 scripts/plot_results.py DIR

DIR holds rounds.csv and curves.csv (from `lth sweep` / `lth train --out`) and, after `lth report DIR`,
similarity.csv and pixels.csv. First run makes .venv-plot/ beside this script (pandas + matplotlib) and
re-executes itself there. Figures: accuracy.*, early_stop.*, curves.*, pixels.*, similarity.*.
Columns: docs/report.md. Short on purpose: copy it and change what you need.
"""
import math
import os
import subprocess
import sys
import textwrap

HERE = os.path.dirname(os.path.abspath(__file__))
VENV = os.path.join(HERE, "..", ".venv-plot")


def ensure_venv():
    try:
        import matplotlib  # noqa: F401
        import pandas  # noqa: F401
        return
    except ImportError:
        pass
    python = os.path.join(VENV, "bin", "python")
    if os.path.abspath(sys.executable) == os.path.abspath(python):
        sys.exit("plot_results.py: pandas/matplotlib missing even in .venv-plot; delete .venv-plot and retry")
    if not os.path.exists(python):
        print("plot_results.py: creating .venv-plot (pandas, matplotlib) ...", file=sys.stderr)
        subprocess.check_call([sys.executable, "-m", "venv", VENV])
        subprocess.check_call([python, "-m", "pip", "install", "--quiet", "pandas", "matplotlib"])
    os.execv(python, [python] + sys.argv)


SEEDS = ["seed", "seeds.init", "seeds.order", "seeds.split", "controls", "controls_seeds"]
HYPER = ["dataset", "model.layers", "model.init", "train.optimizer", "train.lr", "train.momentum", "train.batch",
         "train.iterations", "train.eval_every", "data.validation", "prune.strategy", "prune.rates",
         "prune.rounds", "prune.target_density", "reinit", "synthetic.round_ms"]
TARGETS = [1.0, 0.51, 0.21, 0.07, 0.036, 0.019]


def configurations(rounds):
    """Adds `configuration` (varying hyperparameters, as in report.html) and `mask_round` to rounds.csv."""
    hyper = [c for c in HYPER if c in rounds.columns]
    main = rounds[rounds["branch.kind"].isna()] if "branch.kind" in rounds else rounds
    varying = [c for c in hyper if main[c].astype(str).nunique() > 1]

    def name(row):
        base = ", ".join(f"{c}={row[c]}" for c in varying)
        kind = row.get("branch.kind")
        if isinstance(kind, str) and kind:
            control = "random reinit (control)" if kind == "reinit-random" else f"{kind} (control)"
            return f"{base} · {control}" if base else control
        return base or "winning ticket"

    rounds = rounds.copy()
    rounds["configuration"] = rounds.apply(name, axis=1)
    is_branch = rounds["branch.kind"].notna() if "branch.kind" in rounds else False
    rounds["mask_round"] = rounds["round"]
    if "branch.parent_round" in rounds:
        rounds.loc[is_branch, "mask_round"] = rounds.loc[is_branch, "branch.parent_round"].astype(int)
    return rounds


def density_axis(ax):
    ax.set_xscale("log")
    low, high = sorted(ax.get_xlim())
    ax.set_xticks([t for t in [100, 50, 20, 10, 5, 2, 1, 0.5, 0.2, 0.1] if low <= t <= high])
    ax.set_xlim(high, low)
    ax.get_xaxis().set_major_formatter(lambda value, _: f"{value:g}")
    ax.minorticks_off()
    ax.set_xlabel("percent of weights remaining")


def save(fig, out, stem):
    fig.tight_layout()
    for ext in ("pdf", "png"):
        fig.savefig(os.path.join(out, f"{stem}.{ext}"), dpi=130)
    print(f"wrote {os.path.join(out, stem)}.pdf/.png")


def density_figure(plt, rounds, column, label, scale, out, stem):
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for name, group in rounds.groupby("configuration", sort=False):
        stats = group.groupby("mask_round").agg(d=("density", "mean"), m=(column, "mean"), s=(column, "std"),
                                                n=(column, "count"))
        ax.errorbar(stats.d * 100, stats.m * scale, yerr=stats.s.fillna(0) * scale, marker="o", ms=4, capsize=2,
                    ls="--" if "control" in name else "-", label=f"{name} (n={stats.n.max()})")
    density_axis(ax)
    ax.set_ylabel(label)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    save(fig, out, stem)


def curves_figure(plt, rounds, curves, out):
    names = list(dict.fromkeys(rounds["configuration"]))
    cols = min(3, len(names))
    fig, axes = plt.subplots((len(names) + cols - 1) // cols, cols, figsize=(5 * cols, 3.6 * ((len(names) + cols - 1) // cols)),
                             squeeze=False)
    merged = curves.merge(rounds[["trial_id", "round", "configuration", "mask_round", "density"]], on=["trial_id", "round"])
    for ax, name in zip(axes.flat, names):
        data = merged[merged.configuration == name]
        density = data.groupby("mask_round").density.mean()
        chosen = sorted({(density / t).apply(lambda r: abs(math.log(r))).idxmin() for t in TARGETS})
        for r in chosen:
            mean = data[data.mask_round == r].groupby("iteration").test_acc.mean()
            ax.plot(mean.index, mean * 100, marker="o", ms=2, label=f"{density[r] * 100:.3g}% (round {r})")
        ax.set_title(name, fontsize=9)
        ax.set_xlabel("training iteration")
        ax.set_ylabel("test accuracy (%)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    for ax in list(axes.flat)[len(names):]:
        ax.axis("off")
    save(fig, out, "curves")


def pixels_figure(plt, pixels, out):
    names = list(dict.fromkeys(pixels["configuration"]))[:4]
    rounds = sorted(pixels["round"].unique())
    picks = sorted({min(rounds, key=lambda r: abs(pixels[pixels["round"] == r].density.iloc[0] - t)) for t in [1, .21, .07, .019]})
    fig, axes = plt.subplots(len(names), len(picks), figsize=(2.6 * len(picks), 2.4 * len(names)), squeeze=False)
    for i, name in enumerate(names):
        for j, r in enumerate(picks):
            grid = pixels[(pixels.configuration == name) & (pixels["round"] == r)].pivot(index="row", columns="col", values="kept_out_mean")
            image = axes[i][j].imshow(grid.values, cmap="viridis", vmin=0)
            fig.colorbar(image, ax=axes[i][j], fraction=0.046)
            axes[i][j].set_title(textwrap.fill(name, 34) + f"\nround {r}", fontsize=7)
            axes[i][j].axis("off")
    save(fig, out, "pixels")


def similarity_figure(plt, similarity, out):
    seeds = similarity[(similarity.kind == "seeds") & (similarity.layer == "all")]
    if seeds.empty:
        return
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for name, group in seeds.groupby("configuration_a", sort=False):
        stats = group.groupby("round_a").agg(d=("density_a", "mean"), m=("jaccard_over_chance", "mean"),
                                             s=("jaccard_over_chance", "std"), n=("jaccard_over_chance", "count"))
        ax.errorbar(stats.d * 100, stats.m, yerr=stats.s.fillna(0), marker="o", ms=4, capsize=2,
                    label=f"{name} (n={stats.n.max()} pairs)")
    ax.axhline(1, color="grey", ls=":", label="chance")
    density_axis(ax)
    ax.set_ylabel("Jaccard / Jaccard of independent masks")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    save(fig, out, "similarity")


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    ensure_venv()
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd

    folder = sys.argv[1]
    out = os.path.join(folder, "figures")
    os.makedirs(out, exist_ok=True)
    rounds = configurations(pd.read_csv(os.path.join(folder, "rounds.csv")))
    density_figure(plt, rounds, "test_acc_at_es", "test accuracy at early stop (%)", 100, out, "accuracy")
    density_figure(plt, rounds, "early_stop_iteration", "early-stop iteration", 1, out, "early_stop")
    path = os.path.join(folder, "curves.csv")
    if os.path.exists(path):
        curves_figure(plt, rounds, pd.read_csv(path), out)
    path = os.path.join(folder, "pixels.csv")
    if os.path.exists(path) and os.path.getsize(path) > 200:
        pixels_figure(plt, pd.read_csv(path), out)
    path = os.path.join(folder, "similarity.csv")
    if os.path.exists(path):
        similarity_figure(plt, pd.read_csv(path, dtype={"layer": str}), out)


if __name__ == "__main__":
    main()
