#!/usr/bin/env python3
"""Markdown table of a regroup study (scripts/regroup_study.sh): one row per run folder NAME with
NAME.json (symflow inspect --coupling --json), NAME.eval.json (symflow eval --json) and
NAME/train.csv; the regroup line of NAME.train.log says what the coupling paired at the regroup.

usage: regroup_study_table.py DIR
"""
import csv, glob, json, os, re, sys

d = sys.argv[1] if len(sys.argv) > 1 else "."
print("| run | paired at the regroup | A at the end: grouped, groups_score | coupling at the end: paired, ratio "
      "| data loss, last 10 % of steps | LSD | LAC | param MSE |")
print("|---|---|---|---|---|---|---|---|")
for ev in sorted(glob.glob(os.path.join(d, "*.eval.json"))):
    name = ev[:-len(".eval.json")]
    base = os.path.basename(name)
    m = re.match(r"k(\d+)(sym|asym)_r(\d+)_seed(\d+)_s(\d+)$", base)
    if not m or not os.path.exists(name + ".json"):
        continue
    k, v, r, seed, steps = m.groups()
    e, g = json.load(open(ev)), json.load(open(name + ".json"))
    rows = list(csv.DictReader(open(os.path.join(name, "train.csv"))))
    tail = [float(x["data"]) for x in rows if int(x["step"]) > 0.9 * int(steps)]
    at = "(no regroup)"
    log = name + ".train.log"
    if os.path.exists(log):
        hit = re.search(r"\((\d+) of (\d+) oscillators paired as in the synth, ratio ([0-9.]+)\)", open(log).read())
        if hit:
            at = f"{hit.group(1)} of {hit.group(2)}, ratio {float(hit.group(3)):.2f}"
    c = g["coupling"]
    label = f"k = {k} {v}, seed {seed}, " + (f"regroup at {r}" if int(r) else "control")
    print(f"| {label} | {at} | {g['own']} of {k}, {g['score']:.3f} | {c['oscillators']} of {k}, {c['ratio']:.2f} "
          f"| {sum(tail) / len(tail):.4f} | {e['lsd']:.3f} +- {e['lsd_ci']:.3f} | {e['lac']:.4f} +- {e['lac_ci']:.4f} "
          f"| {e['param_mse']:.3f} |")
