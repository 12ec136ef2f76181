#!/usr/bin/env python3
"""Renders the listening page of the Surge-style synth: 16 random patches (seeds 1..16) as
16 kHz, 2 s, 16-bit WAVs plus index.html with players and every parameter value.

    python3 docs/listening/make_page.py BUILD_DIR/examples/symflow

(the argument is the `symflow` program). Writes into the directory of this script.
"""
import html
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
SEEDS = range(1, 17)


def render(symflow, seed, tmp):
    wav = os.path.join(HERE, "%02d.wav" % seed)
    js = os.path.join(tmp, "%02d.json" % seed)
    cmd = [symflow, "render", "--task", "surge-simple", "--random", "--seed", str(seed),
           "--out", wav, "--save-params", js]
    line = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.strip()
    with open(js) as f:
        return os.path.basename(wav), json.load(f), line


def fmt(v):
    return "%.4g" % v


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    symflow = sys.argv[1]
    spec = subprocess.run([symflow, "render", "--task", "surge-simple", "--list-params"], check=True,
                          capture_output=True, text=True).stdout
    units, groups = {}, {}
    for line in spec.splitlines():
        parts = line.split()
        if len(parts) >= 7 and parts[0].isdigit() and parts[6] in ("linear", "exp", "cubic", "cube"):
            units[parts[1]] = "" if parts[5] == "-" else parts[5]
            groups.setdefault(parts[2], []).append(parts[1])
    with tempfile.TemporaryDirectory() as tmp:
        sounds = [render(symflow, s, tmp) for s in SEEDS]

    out = ["<!doctype html><html><head><meta charset='utf-8'><title>symflow: Surge-style synth, 16 random patches</title>",
           "<style>body{font-family:sans-serif;max-width:60em;margin:auto}table{border-collapse:collapse;font-size:85%}",
           "td,th{padding:1px 6px;text-align:left}td.v{text-align:right;font-family:monospace}",
           "section{border-top:1px solid #ccc;padding:.5em 0}</style></head><body>",
           "<h1>Surge-style synth: 16 random patches</h1>",
           "<p>Rendered by <code>symflow render --task surge-simple --random --seed S --out NN.wav</code> ",
           "(S = 1..16; 16 kHz, 2 s, mono, 16-bit) and this page by <code>docs/listening/make_page.py</code>. ",
           "Patches are drawn uniformly over the parameter spec, the note is a random MIDI note 48..72, ",
           "and patches quieter than -50 dBFS RMS are redrawn. See <a href='../synth-surge.md'>synth-surge.md</a>.</p>"]
    for wav, p, line in sounds:
        u = p["units"]
        seed = wav[:2].lstrip("0")
        summary = ("note %d, on %.2f s, off %.2f s; osc volumes %s; noise %s; filter cutoffs %s Hz; resonance %s; "
                   "amp ADSR %s s / %s s / %s / %s s" % (
                       round(u["note_pitch"]), 2 * u["note_on"], 2 * u["note_off"],
                       " ".join(fmt(u["osc%d_volume" % i]) for i in (1, 2, 3)), fmt(u["noise_volume"]),
                       " ".join(fmt(u["filter%d_cutoff" % j]) for j in (1, 2)),
                       " ".join(fmt(u["filter%d_resonance" % j]) for j in (1, 2)),
                       fmt(u["amp_attack"]), fmt(u["amp_decay"]), fmt(u["amp_sustain"]), fmt(u["amp_release"])))
        out.append("<section><h3>Seed %s</h3><audio controls preload='none' src='%s'></audio>" % (seed, wav))
        out.append("<p>%s<br><small>%s</small></p>" % (html.escape(summary), html.escape(line.split(": ", 1)[-1].split(", params in")[0])))
        out.append("<details><summary>all 93 parameters (units; model value in [-1, 1])</summary><table>")
        out.append("<tr><th>group</th><th>parameter</th><th>value</th><th>unit</th><th>model</th></tr>")
        for g, names in groups.items():
            for n in names:
                out.append("<tr><td>%s</td><td>%s</td><td class=v>%s</td><td>%s</td><td class=v>%+.3f</td></tr>" % (
                    g, n, fmt(u[n]), html.escape(units[n]), p["params"][n]))
        out.append("</table></details></section>")
    out.append("</body></html>\n")
    with open(os.path.join(HERE, "index.html"), "w") as f:
        f.write("\n".join(out))
    print("wrote %d sounds and index.html to %s" % (len(sounds), HERE))


if __name__ == "__main__":
    main()
