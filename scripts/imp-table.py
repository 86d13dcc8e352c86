#!/usr/bin/env python3
"""Mean over seeds of density, early-stop iteration and test accuracy at early stop, per reinit rule and round.

Usage: scripts/imp-table.py OUT_DIR...   (each an `lth train --out` folder)
Rows of reinit-random control branches are grouped as 'control reinit-random' by their parent round.
"""
import csv, sys
from collections import defaultdict

groups = defaultdict(list)  # (rule, round) -> rows
for folder in sys.argv[1:]:
    with open(f"{folder}/rounds.csv", newline="") as f:
        for row in csv.DictReader(f):
            if row["branch.kind"]:
                key = (f"control {row['branch.kind']}", int(row["branch.parent_round"]))
            else:
                key = (f"reinit {row['reinit']}", int(row["round"]))
            groups[key].append(row)

rules = sorted({rule for rule, _ in groups})
rounds = sorted({r for _, r in groups})
mean = lambda xs: sum(xs) / len(xs)
header = ["round", "density"] + [f"{rule}: ES iter / test acc @ES (n)" for rule in rules]
print("| " + " | ".join(header) + " |")
print("|" + "---|" * len(header))
for r in rounds:
    density = next(float(rows[0]["density"]) for (rule, rr), rows in groups.items() if rr == r)
    cells = [str(r), f"{density * 100:.2f}%"]
    for rule in rules:
        rows = groups.get((rule, r))
        if not rows:
            cells.append("–")
            continue
        es = mean([float(x["early_stop_iteration"]) for x in rows])
        acc = mean([float(x["test_acc_at_es"]) for x in rows])
        cells.append(f"{es:.0f} / {acc * 100:.2f}% ({len(rows)})")
    print("| " + " | ".join(cells) + " |")
