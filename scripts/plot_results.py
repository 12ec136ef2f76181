#!/usr/bin/env python3
"""Draws `symflow eval --json` files as one SVG figure (python3 standard library only).

    python3 scripts/plot_results.py --out docs/results.svg runs/*.eval.json

One row of panels per (k, variant), in increasing k, symmetric before asymmetric. Left
panel: LAC for the symmetric variant (the permutation-invariant parameter distance), plain
parameter MSE for the asymmetric one (no symmetry to factor out). Right panel: LSD in dB.
Each panel holds one horizontal bar per model: the mean over the evaluated test sounds, with
its 95% interval ("_ci" half-width) as a whisker; lower is better everywhere.

Model names are found as in scripts/kosc_results_table.py: the "kind" field when present,
else "model". Models keep the order in which their files are given (the random reference
last, grey, its mean also a dashed line across the panel), and each model keeps its colour in
every panel. Two files with the same name in one
panel are told apart by their file names. A file that cannot be read, or a metric a file
lacks, is skipped with a note on stderr (a model without a metric shows "no data" in that
panel).

surge-simple files (field "task": "surge-simple", written by `symflow eval --json` for a
surge-simple model) get their own figure:

    python3 scripts/plot_results.py --out docs/results-surge.svg \
        OUT/surge-ffn.eval.json OUT/surge-cnf-mlp.eval.json OUT/surge-cnf-param2tok.eval.json

One row of four panels (--columns sets how many per row): MSS, wMFCC and SOT (lower is
better) and RMS (the cosine similarity of the RMS envelopes: HIGHER is better, 1 = the same
envelope; see include/symflow/audio/metrics.hpp). One bar per model in file order with its
95% interval, and last the "random patches" reference, taken from the "random" object of the
first file (grey, its mean also a dashed line across the panel). The parameter MSE is in the
table (scripts/surge_results_table.py), not in the figure.

k-osc and surge-simple files in one call are refused (exit status 1, nothing written): the
two tasks share no metric, so draw one figure per task.
"""
import argparse
import json
import math
import os
import sys
import textwrap
from xml.sax.saxutils import escape

FONT = "DejaVu Sans, Liberation Sans, Arial, sans-serif"
PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2",
           "#17becf", "#bcbd22", "#393b79"]
REFERENCE_COLOUR = "#9a9a9a"  # the random baseline

# Layout, in px.
MARGIN = 20
TITLE_HEIGHT = 44
PANEL_GAP_X = 36
PANEL_GAP_Y = 26
LABEL_MIN_WIDTH = 110  # model names, right-aligned left of the bars (wider for longer names)
CHAR_WIDTH = 7.2       # a generous mean width of a 12 px character, to size the name column
BAR_AREA_WIDTH = 260
VALUE_WIDTH = 120      # "0.530 ± 0.007" right of the longest whisker
PANEL_HEADER = 40      # panel title + metric line
ROW_HEIGHT = 24
BAR_HEIGHT = 14
AXIS_HEIGHT = 32
FOOTER_HEIGHT = 34


def model_name(record):
    """The same choice as scripts/kosc_results_table.py: "kind" when present, else "model"."""
    return str(record.get("kind", record.get("model", "?")))


def is_asymmetric(variant):
    return str(variant).lower().startswith("asym")


def mse_key(record):
    """The parameter-MSE field, under either name `symflow eval` has written."""
    return "param_mse" if "param_mse" in record else "mse"


def finite_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def read_records(paths):
    records = []
    for path in paths:
        try:
            with open(path, encoding="utf-8") as f:
                record = json.load(f)
        except (OSError, ValueError) as error:
            print(f"plot_results: skipping {path}: {error}", file=sys.stderr)
            continue
        if not isinstance(record, dict):
            print(f"plot_results: skipping {path}: not a JSON object", file=sys.stderr)
            continue
        record["_file"] = os.path.basename(path)
        records.append(record)
    return records


def metric(record, key):
    """(mean, ci half-width or None), or None when the record lacks a usable mean."""
    value = record.get(key)
    if not finite_number(value):
        return None
    ci = record.get(key + "_ci")
    return float(value), (abs(float(ci)) if finite_number(ci) else None)


def nice_ticks(upper, target_count=5):
    """Ticks 0, step, 2 step, ... covering [0, upper] with step 1, 2 or 5 times a power of 10."""
    if not upper > 0:
        upper = 1.0
    raw_step = upper / target_count
    power = 10.0 ** math.floor(math.log10(raw_step))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw_step)
    count = int(math.ceil(upper / step - 1e-9))
    return [i * step for i in range(count + 1)]


def decimals_for(value, significant):
    """Decimal places that show `significant` significant digits of value."""
    if value == 0:
        return 0
    return max(0, significant - 1 - int(math.floor(math.log10(abs(value)))))


def tick_text(tick, step):
    return f"{tick:.{decimals_for(step, 1)}f}"


def value_text(mean, ci):
    """"0.530 ± 0.007": three significant digits of the mean, at least one of the interval."""
    digits = decimals_for(mean, 3)
    if ci is None:
        return f"{mean:.{digits}f}"
    digits = min(max(digits, decimals_for(ci, 1)), 6)
    return f"{mean:.{digits}f} ± {ci:.{digits}f}"


def text(x, y, content, size=12, anchor="start", weight="normal", fill="#222", extra=""):
    return (f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}" '
            f'font-weight="{weight}" fill="{fill}"{extra}>{escape(str(content))}</text>')


def panel_svg(x0, y0, title, metric_label, rows, label_width, bar_area_width=BAR_AREA_WIDTH,
              reference_label="random"):
    """One panel. rows: [(label, colour, (mean, ci) or None)]; the row labelled reference_label
    also gets a dashed line at its mean. Returns (svg lines, height)."""
    out = [text(x0, y0 + 15, title, size=13, weight="bold"),
           text(x0, y0 + 31, metric_label, size=11, fill="#555")]
    top = y0 + PANEL_HEADER
    bar_x0 = x0 + label_width
    present = [cell for _, _, cell in rows if cell is not None]
    upper = max((mean + (ci or 0.0) for mean, ci in present), default=1.0)
    ticks = nice_ticks(upper)
    scale = bar_area_width / ticks[-1]
    plot_height = ROW_HEIGHT * len(rows)

    # Grid and axis.
    step = ticks[1] - ticks[0] if len(ticks) > 1 else ticks[0]
    for tick in ticks:
        tx = bar_x0 + tick * scale
        out.append(f'<line x1="{tx:.1f}" y1="{top:.1f}" x2="{tx:.1f}" y2="{top + plot_height:.1f}" '
                   f'stroke="{"#999" if tick == 0 else "#e2e2e2"}" stroke-width="1"/>')
        out.append(text(tx, top + plot_height + 15, tick_text(tick, step), size=10, anchor="middle",
                        fill="#555"))
    out.append(f'<line x1="{bar_x0:.1f}" y1="{top + plot_height:.1f}" x2="{bar_x0 + bar_area_width:.1f}" '
               f'y2="{top + plot_height:.1f}" stroke="#999" stroke-width="1"/>')

    # The random reference's mean as a dashed line across the panel.
    for label, colour, cell in rows:
        if label == reference_label and cell is not None:
            rx = bar_x0 + cell[0] * scale
            out.append(f'<line x1="{rx:.1f}" y1="{top:.1f}" x2="{rx:.1f}" y2="{top + plot_height:.1f}" '
                       f'stroke="{REFERENCE_COLOUR}" stroke-width="1" stroke-dasharray="4,3"/>')

    for index, (label, colour, cell) in enumerate(rows):
        centre = top + ROW_HEIGHT * (index + 0.5)
        out.append(text(bar_x0 - 8, centre + 4, label, anchor="end"))
        if cell is None:
            out.append(text(bar_x0 + 6, centre + 4, "no data", size=11, fill="#999",
                            extra=' font-style="italic"'))
            continue
        mean, ci = cell
        out.append(f'<rect x="{bar_x0:.1f}" y="{centre - BAR_HEIGHT / 2:.1f}" width="{max(mean * scale, 0.5):.1f}" '
                   f'height="{BAR_HEIGHT}" fill="{colour}" fill-opacity="0.85"><title>{escape(label)}: '
                   f'{escape(value_text(mean, ci))}</title></rect>')
        right = mean
        if ci is not None:
            low, high = bar_x0 + max(mean - ci, 0.0) * scale, bar_x0 + (mean + ci) * scale
            out.append(f'<path d="M{low:.1f},{centre:.1f}H{high:.1f}M{low:.1f},{centre - 5:.1f}V{centre + 5:.1f}'
                       f'M{high:.1f},{centre - 5:.1f}V{centre + 5:.1f}" stroke="#111" stroke-width="1.3" fill="none"/>')
            right = mean + ci
        out.append(text(bar_x0 + right * scale + 6, centre + 4, value_text(mean, ci), size=11, fill="#333"))
    return out, PANEL_HEADER + plot_height + AXIS_HEIGHT


def build_figure(records, title):
    # Models in order of first appearance; each keeps one colour everywhere.
    order, colours = [], {}
    for record in records:
        name = model_name(record)
        if name not in colours:
            order.append(name)
            colours[name] = (REFERENCE_COLOUR if name == "random"
                             else PALETTE[(len(colours) - (1 if "random" in colours else 0)) % len(PALETTE)])

    order.sort(key=lambda name: name == "random")  # the reference goes last, below the models

    groups = {}
    for record in records:
        key = (record.get("k"), str(record.get("variant", "?")))
        groups.setdefault(key, []).append(record)

    def group_order(key):
        k, variant = key
        return (k if finite_number(k) else math.inf, is_asymmetric(variant), variant)

    rows_of_panels = []  # (k text, variant, left metric label, names, labels, left cells, LSD cells)
    counts = set()
    for key in sorted(groups, key=group_order):
        k, variant = key
        group = sorted(groups[key], key=lambda r: order.index(model_name(r)))
        names = [model_name(r) for r in group]
        labels = [f"{n} ({r['_file'].replace('.eval.json', '').replace('.json', '')})" if names.count(n) > 1 else n
                  for n, r in zip(names, group)]
        counts.update(r.get("n") for r in group if finite_number(r.get("n")))
        k_text = f"k = {k}" if k is not None else "k = ?"
        if is_asymmetric(variant):
            left_name, left_label = "parameter MSE", "parameter MSE (mean, 95% CI) - lower is better"
            left_cells = [metric(r, mse_key(r)) for r in group]
        else:
            left_name, left_label = "LAC", "LAC, label-assignment cost (mean, 95% CI) - lower is better"
            left_cells = [metric(r, "lac") for r in group]
        right_cells = [metric(r, "lsd") for r in group]
        for metric_name, cells in ((left_name, left_cells), ("LSD", right_cells)):
            for label, cell in zip(labels, cells):
                if cell is None:
                    print(f"plot_results: {k_text}, {variant}: {label} has no {metric_name}; shown as 'no data'",
                          file=sys.stderr)
        rows_of_panels.append((k_text, variant, left_label, names, labels, left_cells, right_cells))

    longest_label = max((len(label) for panel in rows_of_panels for label in panel[4]), default=0)
    label_width = max(LABEL_MIN_WIDTH, int(longest_label * CHAR_WIDTH) + 16)
    panel_width = label_width + BAR_AREA_WIDTH + VALUE_WIDTH
    width = 2 * MARGIN + 2 * panel_width + PANEL_GAP_X
    body, y = [], MARGIN + TITLE_HEIGHT
    for k_text, variant, left_label, names, labels, left_cells, right_cells in rows_of_panels:
        left, height = panel_svg(MARGIN, y, f"{k_text}, {variant}", left_label,
                                 [(lab, colours[n], c) for lab, n, c in zip(labels, names, left_cells)],
                                 label_width)
        right, _ = panel_svg(MARGIN + panel_width + PANEL_GAP_X, y, f"{k_text}, {variant}",
                             "LSD, log-spectral distance in dB (mean, 95% CI) - lower is better",
                             [(lab, colours[n], c) for lab, n, c in zip(labels, names, right_cells)],
                             label_width)
        body += left + right
        y += height + PANEL_GAP_Y

    sounds = (f"{int(next(iter(counts)))} held-out test sounds per model" if len(counts) == 1
              else "held-out test sounds")
    footer = (f"Bars: mean over {sounds}; whiskers: 95% interval (normal approximation). "
              "From `symflow eval --json`; drawn by scripts/plot_results.py.")
    height = y - PANEL_GAP_Y + FOOTER_HEIGHT + MARGIN
    svg = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" font-family="{FONT}">',
           f'<rect width="{width}" height="{height}" fill="white"/>',
           text(MARGIN, MARGIN + 20, title, size=17, weight="bold")]
    svg += body
    svg.append(text(MARGIN, height - MARGIN - 6, footer, size=11, fill="#555"))
    svg.append("</svg>")
    return "\n".join(svg) + "\n"


# surge-simple: (JSON key, panel title, what it measures and which way is better).
SURGE_METRICS = [
    ("mss", "MSS", "multi-scale mel-spectrogram L1 in dB - lower is better"),
    ("wmfcc", "wMFCC", "DTW-aligned MFCC L1 distance - lower is better"),
    ("sot", "SOT", "spectral optimal transport (1-D Wasserstein) - lower is better"),
    ("rms", "RMS", "cosine similarity of RMS envelopes - HIGHER is better"),
]
SURGE_REFERENCE = "random patches"
SURGE_BAR_AREA_WIDTH = 200  # four panels side by side: narrower bars than the k-osc figure
FOOTER_CHAR_WIDTH = 6.4  # a generous mean width of an 11 px character, to wrap the footer


def is_surge(record):
    return record.get("task") == "surge-simple"


def surge_reference(records):
    """The "random" object of the first file that has one (with a note if that is not the first
    file, or if another file's reference differs: then the files were evaluated differently)."""
    with_random = [r for r in records if isinstance(r.get("random"), dict)]
    if not with_random:
        print("plot_results: no file has a \"random\" object; the random patches show 'no data'",
              file=sys.stderr)
        return {}
    reference = with_random[0]
    if reference is not records[0]:
        print(f"plot_results: {records[0]['_file']} has no \"random\" object; the random patches come from "
              f"{reference['_file']}", file=sys.stderr)
    for other in with_random[1:]:
        if any(metric(other["random"], key) != metric(reference["random"], key) for key, _, _ in SURGE_METRICS):
            print(f"plot_results: the random patches of {other['_file']} differ from those of {reference['_file']} "
                  "(other test sounds, n or seed?); showing the latter", file=sys.stderr)
    return reference["random"]


def common_value(records, key):
    """The value every record gives for key, or None when they disagree or one lacks it."""
    values = {json.dumps(r.get(key)) for r in records}
    return records[0].get(key) if len(values) == 1 and records[0].get(key) is not None else None


def build_surge_figure(records, title, columns):
    names = [model_name(r) for r in records]
    labels = [f"{n} ({r['_file'].replace('.eval.json', '').replace('.json', '')})" if names.count(n) > 1 else n
              for n, r in zip(names, records)]
    colours = {}
    for name in names:
        if name not in colours:
            colours[name] = PALETTE[len(colours) % len(PALETTE)]
    random_record = surge_reference(records)
    row_labels = labels + [SURGE_REFERENCE]
    row_colours = [colours[n] for n in names] + [REFERENCE_COLOUR]

    label_width = max(LABEL_MIN_WIDTH, int(max(len(label) for label in row_labels) * CHAR_WIDTH) + 16)
    panel_width = label_width + SURGE_BAR_AREA_WIDTH + VALUE_WIDTH
    columns = max(1, min(columns, len(SURGE_METRICS)))
    width = 2 * MARGIN + columns * panel_width + (columns - 1) * PANEL_GAP_X
    body, y, row_height = [], MARGIN + TITLE_HEIGHT, 0
    for index, (key, metric_title, description) in enumerate(SURGE_METRICS):
        cells = [metric(r, key) for r in records] + [metric(random_record, key)]
        for label, cell in zip(row_labels, cells):
            if cell is None:
                print(f"plot_results: surge-simple: {label} has no {metric_title}; shown as 'no data'",
                      file=sys.stderr)
        column = index % columns
        if column == 0 and index > 0:
            y += row_height + PANEL_GAP_Y
        panel, row_height = panel_svg(MARGIN + column * (panel_width + PANEL_GAP_X), y, metric_title, description,
                                      list(zip(row_labels, row_colours, cells)), label_width,
                                      bar_area_width=SURGE_BAR_AREA_WIDTH, reference_label=SURGE_REFERENCE)
        body += panel
    y += row_height

    counts = {r.get("n") for r in records if finite_number(r.get("n"))}
    sounds = (f"{int(next(iter(counts)))} held-out test sounds per model" if len(counts) == 1
              else "held-out test sounds")
    pieces = [f"Bars: mean over {sounds}; whiskers: 95% interval (normal approximation).",
              "Random patches: random parameter settings rendered and scored against the same sounds."]
    sampler, steps, cfg, seed = (common_value(records, key) for key in ("sampler", "steps", "cfg", "seed"))
    best_of = common_value(records, "best_of")
    sampling = ""
    if sampler is not None and steps is not None and cfg is not None:
        sampling = f"Flows sampled with {sampler}, {steps} steps, CFG {cfg:g}" if finite_number(cfg) else ""
        if sampling and seed is not None:
            sampling += f", seed {seed}"
        if sampling and finite_number(best_of) and best_of > 1:
            sampling += f", best of {int(best_of)} by MSS"
        if sampling:
            pieces.append(sampling + ".")
    pieces.append("From `symflow eval --json`; drawn by scripts/plot_results.py.")
    line_chars = max(20, int((width - 2 * MARGIN) / FOOTER_CHAR_WIDTH))
    footer = []  # the pieces joined greedily into lines that fit the figure's width
    for piece in pieces:
        if footer and len(footer[-1]) + 1 + len(piece) <= line_chars:
            footer[-1] += " " + piece
        else:
            footer += textwrap.wrap(piece, line_chars)
    height = y + FOOTER_HEIGHT + 16 * (len(footer) - 1) + MARGIN
    svg = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" font-family="{FONT}">',
           f'<rect width="{width}" height="{height}" fill="white"/>',
           text(MARGIN, MARGIN + 20, title, size=17, weight="bold")]
    svg += body
    for line_index, line in enumerate(footer):
        svg.append(text(MARGIN, height - MARGIN - 6 - 16 * (len(footer) - 1 - line_index), line, size=11,
                        fill="#555"))
    svg.append("</svg>")
    return "\n".join(svg) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", required=True, help="the SVG file to write")
    parser.add_argument("--title", default=None,
                        help='the figure\'s title (default "k-osc inversion: symflow eval results", or for '
                             'surge-simple files "surge-simple inversion: symflow eval results")')
    parser.add_argument("--columns", type=int, default=len(SURGE_METRICS),
                        help="surge-simple only: panels per row (default 4: one row; 2 gives a 2 x 2 grid)")
    parser.add_argument("files", nargs="+", help="JSON files written by `symflow eval --json`")
    args = parser.parse_args()
    if args.columns < 1:
        parser.error("--columns must be at least 1")
    records = read_records(args.files)
    if not records:
        print("plot_results: none of the files could be read; nothing written", file=sys.stderr)
        return 1
    surge = [r["_file"] for r in records if is_surge(r)]
    kosc = [r["_file"] for r in records if not is_surge(r)]
    if surge and kosc:
        print("plot_results: refusing to mix k-osc and surge-simple files in one figure (they share no metric); "
              f"surge-simple: {', '.join(surge)}; k-osc: {', '.join(kosc)}. Nothing written: draw one figure "
              "per task.", file=sys.stderr)
        return 1
    if surge:
        svg = build_surge_figure(records, args.title or "surge-simple inversion: symflow eval results",
                                 args.columns)
    else:
        svg = build_figure(records, args.title or "k-osc inversion: symflow eval results")
    out_dir = os.path.dirname(os.path.abspath(args.out))
    os.makedirs(out_dir, exist_ok=True)
    temporary = args.out + ".tmp"
    with open(temporary, "w", encoding="utf-8") as f:
        f.write(svg)
    os.replace(temporary, args.out)
    print(f"plot_results: wrote {args.out} ({len(records)} files)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
