#!/usr/bin/env python3
"""The equal-steps table of docs/results.md: PyTorch peer (train_same_budget.py --steps N) beside
`symflow train` + `symflow eval --n 1024 --steps 50 --cfg 2` at the same step count.

usage: equal_steps_table.py DIR [TAG]
DIR holds torch_<variant>_<model>_s<N>.json (the peer's --out) and sym_<TAG>_<variant>_<model>_s<N>.json
(symflow eval --json); TAG defaults to "new". Prints one markdown row per (steps, variant, model):
LSD and LAC with 95 % intervals for both programs, and whether symflow is no worse (its mean below
the peer's mean plus the two intervals combined in quadrature)."""
import glob
import json
import math
import os
import re
import sys


def main():
    d = sys.argv[1]
    tag = sys.argv[2] if len(sys.argv) > 2 else "new"
    rows = []
    for tp in sorted(glob.glob(os.path.join(d, "torch_*_s*.json"))):
        m = re.match(r"torch_(sym|asym)_(.+)_s(\d+)\.json", os.path.basename(tp))
        if not m:
            continue
        var, model, steps = m.group(1), m.group(2), int(m.group(3))
        sp = os.path.join(d, f"sym_{tag}_{var}_{model}_s{steps}.json")
        t = json.load(open(tp))
        s = json.load(open(sp)) if os.path.exists(sp) else None
        rows.append((steps, var, model, t, s))
    print("| steps | variant | model | PyTorch LSD | symflow LSD | PyTorch LAC | symflow LAC | PyTorch param MSE | symflow param MSE | no worse? |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for steps, var, model, t, s in sorted(rows, key=lambda r: (r[0], r[1] != "sym", r[2])):
        tm, tc = t["metrics"], t.get("ci95", {})
        cells = [f"{steps:,}", var, model,
                 f"{tm['lsd']:.3f} +- {tc.get('lsd', float('nan')):.3f}"]
        if s is None:
            cells += ["(running)", f"{tm['lac']:.4f} +- {tc.get('lac', float('nan')):.4f}", "(running)",
                      f"{tm['param_mse']:.4f}", "", ""]
        else:
            ok = all(s[k] <= tm[k] + math.hypot(s[k + "_ci"], tc.get(k, 0.0)) for k in ("lsd", "lac"))
            cells += [f"{s['lsd']:.3f} +- {s['lsd_ci']:.3f}",
                      f"{tm['lac']:.4f} +- {tc.get('lac', float('nan')):.4f}",
                      f"{s['lac']:.4f} +- {s['lac_ci']:.4f}",
                      f"{tm['param_mse']:.4f}", f"{s['param_mse']:.4f}", "yes" if ok else "**no**"]
        print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
