#!/usr/bin/env python3
"""Markdown tables of a scripts/surge_results.sh output folder (python3 standard library only).

    python3 scripts/surge_results_table.py OUT_DIR > table.md

Reads, for MODEL in ffn, cnf-mlp, cnf-param2tok (the files surge_results.sh writes):
  OUT_DIR/surge-MODEL.steps       the step budget the probe measured;
  OUT_DIR/surge-MODEL.train.log   the weight count and batch, from the line
                                  "train: surge-simple MODEL (...), N weights, batch B, steps ...";
  OUT_DIR/surge-MODEL.csv         the training log (step,loss,data,penalty,grad_norm,lr,seconds,
                                  data_wait). "seconds" restarts at 0 when a run is resumed, so a
                                  row whose seconds (or step) is below the previous row's starts a
                                  new segment, and the training wall time is the sum over segments
                                  of each segment's last "seconds" (time after a segment's last
                                  logged row is not counted);
  OUT_DIR/surge-MODEL.eval.json   `symflow eval --json` ("task": "surge-simple");
  OUT_DIR/surge-cnf-param2tok.inspect.txt   `symflow inspect` output, for the symmetry scores.

Prints three parts: (a) the budget table (weights, steps, batch, training wall time, the loss
and data_wait of the last logged row); (b) the metrics table, random patches (the "random"
object of the first eval file found, in the order ffn, cnf-mlp, cnf-param2tok) then the
models, each cell "mean ± 95% half-width" (three significant digits of the mean, the interval
to the same decimals, as scripts/plot_results.py writes them) and the best model value of each
column in bold (lowest; for RMS, a similarity, the highest; random patches never bold; no
bold when fewer than two models have the value); (c) the symmetry scores of cnf-param2tok's
learned assignment. A missing or unreadable file gives "not measured" where its numbers would
be, with a note on stderr; the exit status is 0 unless OUT_DIR is not a folder.
"""
import csv
import json
import math
import os
import re
import sys

sys.dont_write_bytecode = True  # no scripts/__pycache__ from the import below
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from plot_results import finite_number, value_text  # noqa: E402  (one number format for table and plot)

MODELS = ["ffn", "cnf-mlp", "cnf-param2tok"]
# (JSON key, column header, higher is better)
METRICS = [("mss", "MSS ↓", False), ("wmfcc", "wMFCC ↓", False), ("sot", "SOT ↓", False),
           ("rms", "RMS ↑", True), ("param_mse", "param MSE ↓", False)]
NOT_MEASURED = "not measured"
TRAIN_LINE = re.compile(r"^train: surge-simple (?P<model>\S+) .*?, (?P<weights>\d+) weights, batch (?P<batch>\d+), "
                        r"steps (?P<start>\d+) -> (?P<end>\d+)")
SCORE_LINE = re.compile(r"^\s+(?P<name>.+): score (?P<score>\S+) \(separation (?P<separation>\S+), "
                        r"equivariance (?P<equivariance>\S+)\)\s*$")


def note(message):
    print(f"surge_results_table: {message}", file=sys.stderr)


def read_text(path, what):
    """The file's text, or None (with a note) when it is missing or unreadable."""
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except OSError as error:
        note(f"{what}: {NOT_MEASURED} ({error.strerror or error}: {path})")
        return None


def read_steps(path):
    text = read_text(path, "step budget")
    if text is None:
        return None
    try:
        return int(text.strip())
    except ValueError:
        note(f"step budget: {NOT_MEASURED} ({path} does not hold a whole number)")
        return None


def read_train_log(path):
    """(weights, batch) from the first "train: surge-simple ..." line, or None."""
    text = read_text(path, "weights")
    if text is None:
        return None
    for line in text.splitlines():
        match = TRAIN_LINE.match(line)
        if match:
            return int(match["weights"]), int(match["batch"])
    note(f"weights: {NOT_MEASURED} (no 'train: surge-simple ... weights, batch ...' line in {path})")
    return None


def read_training_csv(path):
    """{"seconds", "segments", "last_step", "loss", "data_wait"} or None. Segments: a row whose
    seconds or step is below the previous row's is the first of a resumed run."""
    text = read_text(path, "training time")
    if text is None:
        return None
    rows = []
    try:
        for row in csv.DictReader(text.splitlines()):
            try:
                rows.append((int(row["step"]), float(row["seconds"]), float(row["loss"]), float(row["data_wait"])))
            except (KeyError, TypeError, ValueError):
                continue  # a torn last line of a log still being written, or a repeated header
    except csv.Error as error:
        note(f"training time: {NOT_MEASURED} ({path}: {error})")
        return None
    if not rows:
        note(f"training time: {NOT_MEASURED} (no data rows in {path})")
        return None
    total, segments = 0.0, 1
    for (step, seconds, _, _), (previous_step, previous_seconds, _, _) in zip(rows[1:], rows):
        if seconds < previous_seconds or step < previous_step:
            total += previous_seconds
            segments += 1
    total += rows[-1][1]
    return {"seconds": total, "segments": segments, "last_step": rows[-1][0], "loss": rows[-1][2],
            "data_wait": rows[-1][3]}


def read_eval(path, model):
    text = read_text(path, f"{model} evaluation")
    if text is None:
        return None
    try:
        record = json.loads(text)
    except ValueError as error:
        note(f"{model} evaluation: {NOT_MEASURED} ({path}: {error})")
        return None
    if not isinstance(record, dict):
        note(f"{model} evaluation: {NOT_MEASURED} ({path}: not a JSON object)")
        return None
    if record.get("task") != "surge-simple":
        note(f"{path}: task is {record.get('task')!r}, expected 'surge-simple'; shown anyway")
    if record.get("model") != model:
        note(f"{path}: model is {record.get('model')!r}, expected {model!r}; shown as {model}")
    return record


def read_symmetry_scores(path):
    """[(name, score, separation, equivariance)] as printed, or None."""
    text = read_text(path, "symmetry scores")
    if text is None:
        return None
    scores = [(m["name"].strip(), m["score"], m["separation"], m["equivariance"])
              for m in map(SCORE_LINE.match, text.splitlines()) if m]
    if not scores:
        note(f"symmetry scores: {NOT_MEASURED} (no '  NAME: score X (separation Y, equivariance Z)' line in {path})")
        return None
    return scores


def significant(value, digits=3):
    """value with `digits` significant digits, in fixed notation."""
    if value == 0 or not math.isfinite(value):
        return f"{value:g}"
    decimals = max(0, digits - 1 - int(math.floor(math.log10(abs(value)))))
    return f"{value:.{decimals}f}"


def hours_minutes(seconds):
    minutes = int(round(seconds / 60.0))
    return f"{minutes // 60}:{minutes % 60:02d}"


def table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def budget_table(out_dir):
    rows = []
    for model in MODELS:
        base = os.path.join(out_dir, f"surge-{model}")
        steps = read_steps(base + ".steps")
        train = read_train_log(base + ".train.log")
        log = read_training_csv(base + ".csv")
        if steps is None and train is None and log is None:
            rows.append([model, NOT_MEASURED] + [""] * 5)
            continue
        steps_text = f"{steps:,}" if steps is not None else NOT_MEASURED
        if steps is not None and log is not None and log["last_step"] < steps:
            steps_text = f"{steps:,} (unfinished: log at {log['last_step']:,})"
        if log is None:
            time_text = loss_text = wait_text = NOT_MEASURED
        else:
            time_text = hours_minutes(log["seconds"])
            if log["segments"] > 1:
                time_text += f" ({log['segments']} segments)"
            loss_text = significant(log["loss"])
            wait_text = f"{significant(100.0 * log['data_wait'], 2)} %"
        rows.append([model,
                     f"{train[0]:,}" if train is not None else NOT_MEASURED,
                     steps_text,
                     str(train[1]) if train is not None else "32",
                     time_text, loss_text, wait_text])
    return table(["model", "weights", "steps", "batch", "training wall time (h:mm)", "final loss (last row)",
                  "data wait (last row)"], rows)


def cell(record, key):
    """(mean, ci or None) or None."""
    if not isinstance(record, dict) or not finite_number(record.get(key)):
        return None
    ci = record.get(key + "_ci")
    return float(record[key]), (abs(float(ci)) if finite_number(ci) else None)


def metrics_table(out_dir):
    records = {m: read_eval(os.path.join(out_dir, f"surge-{m}.eval.json"), m) for m in MODELS}
    found = [m for m in MODELS if records[m] is not None]
    random_record = None
    for m in found:
        if isinstance(records[m].get("random"), dict):
            random_record = records[m]["random"]
            source = m
            break
    if random_record is None:
        note(f"random patches: {NOT_MEASURED} (no evaluation file with a \"random\" object)")
    else:
        for m in found:
            other = records[m].get("random")
            if m != source and isinstance(other, dict) and any(cell(other, k) != cell(random_record, k)
                                                               for k, _, _ in METRICS):
                note(f"the random patches of surge-{m}.eval.json differ from those of surge-{source}.eval.json "
                     "(other test sounds, n or seed?); the table shows the latter")

    best = {}
    for key, _, higher in METRICS:
        values = [cell(records[m], key)[0] for m in found if cell(records[m], key) is not None]
        if len(values) >= 2:
            best[key] = max(values) if higher else min(values)

    def row(name, record, bold_allowed):
        if record is None:
            return [name, NOT_MEASURED] + [""] * (len(METRICS) - 1)
        cells = []
        for key, _, _ in METRICS:
            c = cell(record, key)
            if c is None:
                note(f"{name}: no {key} in its evaluation file")
                cells.append(NOT_MEASURED)
                continue
            shown = value_text(*c)
            cells.append(f"**{shown}**" if bold_allowed and best.get(key) == c[0] else shown)
        return [name] + cells

    rows = [row("random patches", random_record, False)] + [row(m, records[m], True) for m in MODELS]
    text = table(["model"] + [header for _, header, _ in METRICS], rows)

    # What the numbers are: the test sounds and the sampling settings, when the files agree.
    if found:
        counts = {records[m].get("n") for m in found}
        parts = [f"{next(iter(counts))} held-out test sounds per model" if len(counts) == 1
                 else "held-out test sounds (the files differ in n!)"]
        settings = {json.dumps([records[m].get(k) for k in ("sampler", "steps", "cfg", "seed", "best_of")])
                    for m in found if m != "ffn"}
        if len(settings) == 1:
            sampler, steps, cfg, seed, best_of = json.loads(next(iter(settings)))
            sampling = f"flows sampled with {sampler}, {steps} steps, CFG {cfg}, seed {seed}"
            if isinstance(best_of, int) and best_of > 1:
                sampling += f", best of {best_of} by MSS"
            parts.append(sampling)
        text += ("\n\n" + "; ".join(parts) + ". Mean ± 95% interval (normal approximation); ↓ lower is better, "
                 "↑ higher is better (RMS is the cosine similarity of the RMS envelopes); the best model value "
                 "of each column in bold.")
    return text


def symmetry_section(out_dir):
    scores = read_symmetry_scores(os.path.join(out_dir, "surge-cnf-param2tok.inspect.txt"))
    if scores is None:
        return f"Symmetry scores of cnf-param2tok's learned assignment: {NOT_MEASURED}."
    return ("Symmetry scores of cnf-param2tok's learned assignment (`symflow inspect`; 1 = the assignment "
            "respects the symmetry perfectly, 0 = it cannot tell the blocks apart):\n\n"
            + table(["symmetry", "score", "separation", "equivariance"], [list(s) for s in scores]))


def main(argv):
    if len(argv) != 1 or argv[0] in ("-h", "--help"):
        print(__doc__.strip().split("\n\n")[0] + "\n\n" + __doc__.strip().split("\n\n")[1], file=sys.stderr)
        return 0 if argv and argv[0] in ("-h", "--help") else 2
    out_dir = argv[0]
    if not os.path.isdir(out_dir):
        note(f"{out_dir} is not a folder")
        return 1
    print("Budget:\n")
    print(budget_table(out_dir))
    print("\nHeld-out evaluation:\n")
    print(metrics_table(out_dir))
    print()
    print(symmetry_section(out_dir))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
