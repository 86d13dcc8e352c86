#!/usr/bin/env python3
"""Issue-16 tables from a results folder: test accuracy at early stop and supermask accuracies per mask criterion
(and per branch kind: reinit-random, prune-random, oneshot) at the rounds nearest the given densities.

Usage: scripts/criteria-table.py DIR [DIR ...] [--densities 0.51,0.21,0.07]
Mean over seeds; n = rows averaged. Standard library only (csv), so it runs anywhere Python 3 does.
"""
import csv
import math
import sys
from collections import defaultdict


def main(argv):
    targets = [0.51, 0.21, 0.07]
    folders = []
    args = iter(argv)
    for a in args:
        if a == "--densities":
            targets = [float(x) for x in next(args).split(",")]
        else:
            folders.append(a)
    if not folders:
        print(__doc__, file=sys.stderr)
        return 2
    rows = []
    for folder in folders:
        with open(f"{folder}/rounds.csv", newline="") as f:
            rows += list(csv.DictReader(f))
    groups = defaultdict(list)  # (arm, density rounded) -> rows
    for r in rows:
        kind = r.get("branch.kind") or ""
        schedule = r.get("prune.schedule") or "iterative"
        if kind == "" and schedule == "oneshot":
            continue  # the one-shot trial's own dense round 0 (its densities are the branches)
        arm = r.get("prune.criterion") or "large_final"
        if kind:
            arm = f"{arm} · {kind}"
        groups[(arm, round(float(r["density"]), 4))].append(r)

    def mean(values):
        values = [float(v) for v in values if v not in ("", None) and not math.isnan(float(v))]
        return (sum(values) / len(values), len(values)) if values else (float("nan"), 0)

    arms = sorted({a for a, _ in groups})
    print("| arm | " + " | ".join(f"~{t:.0%}: test acc @ES / supermask θ₀ / supermask ±σ (n)" for t in targets) + " |")
    print("|---|" + "---|" * len(targets))
    for arm in arms:
        densities = sorted({d for a, d in groups if a == arm})
        cells = []
        for t in targets:
            near = [d for d in densities if abs(math.log(d / t)) < math.log(1.3)]
            if not near:
                cells.append("–")
                continue
            d = min(near, key=lambda d: abs(math.log(d / t)))
            g = groups[(arm, d)]
            acc, n = mean(r["test_acc_at_es"] for r in g)
            sm, _ = mean(r.get("supermask_test_acc", "") for r in g)
            sc, _ = mean(r.get("supermask_signed_constant_test_acc", "") for r in g)
            cells.append(f"{d:.2%}: {acc:.2%} / {sm:.1%} / {sc:.1%} ({n})")
        print(f"| {arm} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
