#!/usr/bin/env python3
"""Markdown tables of `symflow eval --json` files, one table per (k, variant).

    python3 scripts/kosc_results_table.py runs/*.eval.json [--missing]

Rows in a fixed model order (random first, then the regression baselines, then the flows);
the "run" column is the file's name without .eval.json, so each row points at the run whose
command docs/results.md gives. With --missing, models without a file are listed as
"not measured" rows, so a table shows its gaps instead of hiding them.
"""
import json
import os
import sys

ORDER = ["random", "ffn-mse", "ffn-sort", "ffn-chamfer", "cnf-mlp", "cnf-equivariant", "cnf-param2tok"]


def model_name(r):
    return r.get("kind", r.get("model"))


def main(argv):
    missing = "--missing" in argv
    paths = [a for a in argv if a != "--missing"]
    groups = {}
    for path in paths:
        with open(path) as f:
            r = json.load(f)
        run = os.path.basename(path)
        run = run[: -len(".eval.json")] if run.endswith(".eval.json") else run
        groups.setdefault((int(r["k"]), r["variant"]), {})[model_name(r)] = (run, r)
    for (k, variant) in sorted(groups, key=lambda g: (g[0], g[1] != "symmetric")):
        rows = groups[(k, variant)]
        print(f"k = {k}, {variant}:\n")
        print("| model | LSD (dB) | LAC | Chamfer | param MSE | run |")
        print("|---|---|---|---|---|---|")
        names = [m for m in ORDER if m in rows or missing] + sorted(m for m in rows if m not in ORDER)
        for m in names:
            if m not in rows:
                print(f"| {m} | not measured | | | | |")
                continue
            run, r = rows[m]
            mse = "param_mse" if "param_mse" in r else "mse"
            cells = [f"{r[x]:.3f} +- {r[x + '_ci']:.3f}" for x in ("lsd", "lac", "chamfer", mse)]
            print(f"| {m} | " + " | ".join(cells) + f" | {run} |")
        print()


if __name__ == "__main__":
    main(sys.argv[1:])
