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
"""
import argparse
import json
import math
import os
import sys
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


def panel_svg(x0, y0, title, metric_label, rows, label_width):
    """One panel. rows: [(label, colour, (mean, ci) or None)]. Returns (svg lines, height)."""
    out = [text(x0, y0 + 15, title, size=13, weight="bold"),
           text(x0, y0 + 31, metric_label, size=11, fill="#555")]
    top = y0 + PANEL_HEADER
    bar_x0 = x0 + label_width
    present = [cell for _, _, cell in rows if cell is not None]
    upper = max((mean + (ci or 0.0) for mean, ci in present), default=1.0)
    ticks = nice_ticks(upper)
    scale = BAR_AREA_WIDTH / ticks[-1]
    plot_height = ROW_HEIGHT * len(rows)

    # Grid and axis.
    step = ticks[1] - ticks[0] if len(ticks) > 1 else ticks[0]
    for tick in ticks:
        tx = bar_x0 + tick * scale
        out.append(f'<line x1="{tx:.1f}" y1="{top:.1f}" x2="{tx:.1f}" y2="{top + plot_height:.1f}" '
                   f'stroke="{"#999" if tick == 0 else "#e2e2e2"}" stroke-width="1"/>')
        out.append(text(tx, top + plot_height + 15, tick_text(tick, step), size=10, anchor="middle",
                        fill="#555"))
    out.append(f'<line x1="{bar_x0:.1f}" y1="{top + plot_height:.1f}" x2="{bar_x0 + BAR_AREA_WIDTH:.1f}" '
               f'y2="{top + plot_height:.1f}" stroke="#999" stroke-width="1"/>')

    # The random reference's mean as a dashed line across the panel.
    for label, colour, cell in rows:
        if label == "random" and cell is not None:
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


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", required=True, help="the SVG file to write")
    parser.add_argument("--title", default="k-osc inversion: symflow eval results",
                        help="the figure's title")
    parser.add_argument("files", nargs="+", help="JSON files written by `symflow eval --json`")
    args = parser.parse_args()
    records = read_records(args.files)
    if not records:
        print("plot_results: none of the files could be read; nothing written", file=sys.stderr)
        return 1
    svg = build_figure(records, args.title)
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
