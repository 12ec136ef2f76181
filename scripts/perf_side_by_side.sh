#!/bin/bash
# Runs symflow's bench/bench_train and the PyTorch peer (bench/peer/torch_kosc_bench.py, a copy
# of ../shared/peer/torch_kosc_bench.py with a one-sound inversion case) in the same run, on
# the same machine, and writes the table of ratios (Markdown) plus the raw results.
#
#   scripts/perf_side_by_side.sh [--update-docs] [build-dir ...]   (default build-dir: build)
#
# Several build directories (e.g. the default build and one configured with
# -DSYMFLOW_USE_BLAS=ON) are timed one after the other and compared with one peer run: one
# table per build.
# Environment (defaults in brackets):
#   KS [4,8,16,32]      k values (training step, vector-field step, batched sampling)
#   THREADS [2]         threads of both programs (OMP_NUM_THREADS / torch.set_num_threads)
#   REPS [3]            timed repetitions per figure; the tables use the fastest (min), the
#                       usual choice on a machine shared with other jobs
#   SAMPLE_STEPS [5]    RK4 steps of the batched-sampling figure, for BOTH programs (the
#                       issue's figure is 50; the cost is linear in the steps plus one encoder
#                       pass, so 5 steps keep the peer's run short: 50 steps take it 42-176 s)
#   PAUSE_LANES [1]     SIGSTOP the processes whose command line matches LANE_PATTERN
#                       ['(^|/)symflow-r[0-9]+ ': the frozen binaries of background result
#                       runs, e.g. /work/runs/symflow-r3 train ...] during each timed
#                       command, SIGCONT right after it and on any exit (trap); every command (and so every pause) is
#                       limited to PAUSE_LIMIT [420] seconds (a timed-out run is noted, the
#                       script goes on with what it has)
#   OUT [<first build-dir>/side_by_side]   where results and the tables go
# --update-docs replaces the block between the markers "<!-- side-by-side:begin -->" and
# "<!-- side-by-side:end -->" of docs/performance.md with the new table.
#
# The peer runs in the "tuned" setting of ../shared/peer/run_all.sh (OpenBLAS's own AVX-512
# kernel, glibc keeping big buffers); symflow runs with OPENBLAS_CORETYPE unset too (it matters
# for a SYMFLOW_USE_BLAS build: the sandbox shell exports Haswell, OpenBLAS's AVX2 kernel, 1.4x
# slower than its AVX-512 one here). Needs python3-torch and OpenBLAS (libopenblas0-openmp);
# without OpenBLAS, Debian's torch uses the reference BLAS and is ~40x slower.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
UPDATE_DOCS=0
if [ "${1:-}" = "--update-docs" ]; then UPDATE_DOCS=1; shift; fi
BUILDS=()
for b in "${@:-build}"; do
  case "$b" in /*) BUILDS+=("$b") ;; *) BUILDS+=("$ROOT/$b") ;; esac
done
BUILD=${BUILDS[0]}
KS=${KS:-4,8,16,32}
THREADS=${THREADS:-2}
REPS=${REPS:-3}
SAMPLE_STEPS=${SAMPLE_STEPS:-5}
PAUSE_LANES=${PAUSE_LANES:-1}
PAUSE_LIMIT=${PAUSE_LIMIT:-420}
LANE_PATTERN=${LANE_PATTERN:-'(^|/)symflow-r[0-9]+ '}
OUT=${OUT:-$BUILD/side_by_side}
PY=/usr/bin/python3
mkdir -p "$OUT"

for b in "${BUILDS[@]}"; do cmake --build "$b" --target bench_train -j2 >/dev/null; done

LANES=""
resume() { if [ -n "$LANES" ]; then kill -CONT $LANES 2>/dev/null || true; LANES=""; fi; }
trap resume EXIT INT TERM HUP
pause() {
  if [ "$PAUSE_LANES" = 1 ]; then
    LANES=$(pgrep -f "$LANE_PATTERN" | tr '\n' ' ' || true)
    if [ -n "$LANES" ]; then kill -STOP $LANES; fi
  fi
}
loadavg() { cut -d' ' -f1-3 /proc/loadavg; }
# run "$@" with the lanes paused (at most PAUSE_LIMIT seconds, then the lanes run again);
# a timed-out or failed run is noted in machine.txt and the script goes on
paused() {
  pause
  local rc=0
  timeout "$PAUSE_LIMIT" "$@" || rc=$?
  resume
  if [ "$rc" != 0 ]; then echo "NOTE: exit code $rc from: $*" >> "$OUT/machine.txt"; fi
  return 0
}

{
  echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "commit: $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?') (plus the working tree)"
  echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores, flags: $(grep -m1 -o -w -E 'avx512f|avx512_bf16' /proc/cpuinfo | sort -u | xargs)"
  for b in "${BUILDS[@]}"; do
    echo "build $(basename "$b"): $(grep -E '^(CMAKE_BUILD_TYPE|SYMFLOW_USE_BLAS)' "$b/CMakeCache.txt" | xargs)"
  done
  echo "threads: $THREADS, repetitions: $REPS (min taken), RK4 steps for batched sampling: $SAMPLE_STEPS"
} > "$OUT/machine.txt"

# --- symflow (each build) --------------------------------------------------------------------
kre=$(echo "$KS" | sed 's/,/|/g')
for b in "${BUILDS[@]}"; do
  name=$(basename "$b")
  BENCH=$b/bench/bench_train
  echo "load before symflow ($name): $(loadavg)" >> "$OUT/machine.txt"
  paused env -u OPENBLAS_CORETYPE OMP_NUM_THREADS="$THREADS" "$BENCH" \
    --benchmark_filter="^BM_(TrainStep|VectorFieldFwdBwd)/k:($kre)/" \
    --benchmark_min_time=0.01 --benchmark_repetitions="$REPS" \
    --benchmark_out="$OUT/symflow_${name}_train.json" --benchmark_out_format=json > "$OUT/symflow_${name}_train.txt" 2>&1
  # the GEMM ceiling: the best of 10 short runs (the rate is the least disturbed one)
  paused env -u OPENBLAS_CORETYPE OMP_NUM_THREADS="$THREADS" "$BENCH" --benchmark_filter='^BM_GemmCeiling' \
    --benchmark_min_time=0.2 --benchmark_repetitions=10 \
    --benchmark_out="$OUT/symflow_${name}_gemm.json" --benchmark_out_format=json > "$OUT/symflow_${name}_gemm.txt" 2>&1
  paused env -u OPENBLAS_CORETYPE OMP_NUM_THREADS="$THREADS" "$BENCH" \
    --benchmark_filter="^BM_SampleRk4Cfg/k:($kre)/steps:$SAMPLE_STEPS/" \
    --benchmark_min_time=0.01 --benchmark_repetitions="$REPS" \
    --benchmark_out="$OUT/symflow_${name}_sample.json" --benchmark_out_format=json > "$OUT/symflow_${name}_sample.txt" 2>&1
  for t in 1 "$THREADS"; do
    paused env -u OPENBLAS_CORETYPE OMP_NUM_THREADS=$t "$BENCH" --benchmark_filter='^BM_InvertOne' \
      --benchmark_min_time=0.2 --benchmark_repetitions="$REPS" \
      --benchmark_out="$OUT/symflow_${name}_invert_t$t.json" --benchmark_out_format=json > "$OUT/symflow_${name}_invert_t$t.txt" 2>&1
  done
  echo "load after symflow ($name): $(loadavg)" >> "$OUT/machine.txt"
done

# --- PyTorch peer (training figures, then sampling and inversion: two pauses) ----------------
echo "load before peer: $(loadavg)" >> "$OUT/machine.txt"
PEER=(env -u OPENBLAS_CORETYPE MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=100000000000
      "$PY" "$ROOT/bench/peer/torch_kosc_bench.py" --ks "$KS" --threads "$THREADS" --reps "$REPS"
      --warmup 1 --sample-steps "$SAMPLE_STEPS")
paused "${PEER[@]}" --parts train,vf --out "$OUT/peer_train.json" > "$OUT/peer_train.txt" 2>&1
paused "${PEER[@]}" --parts sample,invert --out "$OUT/peer_sample.json" > "$OUT/peer_sample.txt" 2>&1
echo "load after peer: $(loadavg)" >> "$OUT/machine.txt"

# --- table -----------------------------------------------------------------------------------
: > "$OUT/table.md"
for b in "${BUILDS[@]}"; do
"$PY" - "$OUT" "$THREADS" "$SAMPLE_STEPS" "$(basename "$b")" >> "$OUT/table.md" <<'EOF'
import json, re, sys
out, threads, steps, name = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
print(f"**Build {name}**")
print()
def runs(path):
    data = json.load(open(path))
    res = {}
    for b in data["benchmarks"]:
        if b.get("run_type") != "iteration":
            continue
        name = b["run_name"]
        res.setdefault(name, []).append(b)
    return res
ours = {}
for part in ("train", "sample", "gemm"):
    try:
        ours.update(runs(f"{out}/symflow_{name}_{part}.json"))
    except (OSError, ValueError):
        pass
UNIT = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}
def best(name):
    """(fastest wall time in s, its run, fastest CPU time in s) over the repetitions."""
    rs = ours.get(name)
    if not rs:
        return None
    r = min(rs, key=lambda b: b["real_time"])
    cpu = min(b["cpu_time"] * UNIT[b["time_unit"]] for b in rs)
    return r["real_time"] * UNIT[r["time_unit"]], r, cpu
def ratio(peer_wall, ours_t, peer_cpu=None):
    """peer / symflow wall-clock ratio; with one thread also the CPU-time ratio (both programs'
    CPU time is then the one thread's: robust against other jobs on the machine)."""
    if not ours_t or not peer_wall:
        return "-"
    txt = f"{peer_wall / ours_t[0]:.2f}x"
    if threads == 1 and peer_cpu:
        txt += f" (CPU {peer_cpu / ours_t[2]:.2f}x)"
    return txt
pk = {}
for part in ("train", "sample"):
    try:
        d = json.load(open(f"{out}/peer_{part}.json"))
    except (OSError, ValueError):
        continue
    for r in d["results"]:
        pk.setdefault(r["k"], {}).update(r)
gemm_rate = max((b["GFLOP/s"] for b in ours.get("BM_GemmCeiling/1024/real_time", [])), default=float("nan"))
def fmt(x, unit=""):
    return "-" if x is None else (f"{x:.3g}{unit}" if x < 10 else f"{x:.0f}{unit}")
print(f"Threads: {threads} for both. Times are the fastest of the repetitions (wall clock);"
      " ratio = PyTorch time / symflow time.")
print(f"GEMM ceiling (BM_GemmCeiling, 1024^3, {threads} threads, same build, best of 10): {gemm_rate:.0f} GFLOP/s.")
print()
print("| k | train step: symflow | PyTorch | ratio | GFLOP/s (% of ceiling) | VF fwd+bwd: symflow | PyTorch | ratio "
      f"| RK4-{steps} CFG per sound, batch 1024: symflow | PyTorch | ratio |")
print("|---|---|---|---|---|---|---|---|---|---|---|")
for k in sorted(pk):
    p = pk[k]
    t = best(f"BM_TrainStep/k:{k}/real_time")
    v = best(f"BM_VectorFieldFwdBwd/k:{k}/real_time")
    s = best(f"BM_SampleRk4Cfg/k:{k}/steps:{steps}/real_time")
    pt = min(p["train"]["times_s"]) if "train" in p else None
    ptc = min(p["train"].get("cpu_times_s", [0])) if "train" in p else None
    pv = min(p["vf_fwd_bwd"]["times_s"]) if "vf_fwd_bwd" in p else None
    pvc = min(p["vf_fwd_bwd"].get("cpu_times_s", [0])) if "vf_fwd_bwd" in p else None
    ps = p.get("sample", {}).get("total_s")
    psc = p.get("sample", {}).get("cpu_s")
    row = [str(k)]
    row += [fmt(t[0], " s") if t else "-", fmt(pt, " s"), ratio(pt, t, ptc)]
    row += [f"{t[1]['GFLOP/s']:.0f} ({100 * t[1]['GFLOP/s'] / gemm_rate:.0f} %)" if t else "-"]
    row += [fmt(v[0], " s") if v else "-", fmt(pv, " s"), ratio(pv, v, pvc)]
    sm = s[0] / 1024 * 1e3 if s else None
    row += [fmt(sm, " ms") if s else "-", fmt(ps / 1024 * 1e3 if ps else None, " ms"), ratio(ps, s, psc)]
    print("| " + " | ".join(row) + " |")
print()
inv = pk.get(4, {}).get("invert_one")
if inv:
    print("One sound inverted alone (k = 4, batch 1, RK4 100 steps, CFG 2.0, encoder included):")
    print()
    print("| threads | symflow | PyTorch | ratio |")
    print("|---|---|---|---|")
    for t in sorted({1, threads}):
        d = json.load(open(f"{out}/symflow_{name}_invert_t{t}.json"))
        its = [b for b in d["benchmarks"] if b.get("run_type") == "iteration"]
        o = min(b["real_time"] * UNIT[b["time_unit"]] for b in its)
        oc = min(b["cpu_time"] * UNIT[b["time_unit"]] for b in its)
        pr = inv.get(f"threads_{t}", {})
        pi, pic = pr.get("min_s"), min(pr.get("cpu_times_s", [0]))
        cpu = f" (CPU {pic / oc:.1f}x)" if t == 1 and pic else ""
        print(f"| {t} | {o * 1e3:.1f} ms (CPU {oc * 1e3:.1f} ms) | {pi * 1e3:.0f} ms | {pi / o:.1f}x{cpu} |" if pi
              else f"| {t} | {o * 1e3:.1f} ms | - | - |")
    print()
print("Nominal FLOPs: the peer's count (2 x forward MACs of conv / linear / attention / Param2Tok;")
print("training = 3 x forward) for both programs. The peer's training step has no data rendering")
print("and no OT coupling; symflow's has both.")
print()
EOF
done

if [ "$UPDATE_DOCS" = 1 ]; then
  "$PY" - "$ROOT/docs/performance.md" "$OUT/table.md" "$OUT/machine.txt" <<'EOF'
import sys
doc, table, machine = sys.argv[1:4]
s = open(doc).read()
b, e = "<!-- side-by-side:begin -->", "<!-- side-by-side:end -->"
if b not in s or e not in s:
    sys.exit("docs/performance.md has no side-by-side markers")
block = b + "\n\n" + "    " + open(machine).read().strip().replace("\n", "\n    ") + "\n\n" + open(table).read().strip() + "\n\n" + e
s = s[:s.index(b)] + block + s[s.index(e) + len(e):]
open(doc, "w").write(s)
EOF
fi
cat "$OUT/machine.txt"
echo
cat "$OUT/table.md"
