#!/usr/bin/env python3
"""Prints a markdown table of `symflow eval --json` files: one row per file, in argument order."""
import json
import sys

print("| model | variant | LSD (dB) | LAC | Chamfer | param MSE |")
print("|---|---|---|---|---|---|")
for path in sys.argv[1:]:
    with open(path) as f:
        r = json.load(f)
    cells = [f"{r[m]:.3f} +- {r[m + '_ci']:.3f}" for m in ("lsd", "lac", "chamfer", "param_mse" if "param_mse" in r else "mse")]
    print(f"| {r.get('kind', r['model'])} | {r['variant']} | " + " | ".join(cells) + " |")
