#!/bin/sh
# `symflow invert` end to end (POSIX sh + python3 for the fixture files): a tiny model trained
# here (seconds) inverts two sounds rendered by `symflow render`; the outputs re-render with
# `symflow render --params` to the same audio; every bad input of issue 6 (missing file, not
# audio, empty, silent, NaN, too many channels) and every bad option is refused with a
# non-zero exit, one line on stderr naming the file (or option), and no output files at all,
# even when the bad file comes after a good one.
#
#   sh tests/cli_invert_test.sh path/to/symflow scratch-dir
#
# Registered with CTest as cli_invert (tests/CMakeLists.txt).
set -u

. "$(dirname "$0")/cli_lib.sh"
cli_begin cli_invert_test "$@"
command -v python3 > /dev/null || { echo "cli_invert_test: python3 not found"; exit 77; }

# A tiny model (k = 2, spectral-MLP encoder, a few steps): only the plumbing is tested here.
"$SYMFLOW" train --task kosc --model cnf-param2tok --encoder spectral-mlp --k 2 --steps 3 --batch 8 \
  --seed 0 --out model --quiet > /dev/null 2>&1 || { echo "FAIL: training the tiny model" >&2; exit 1; }
MODEL=model/model.safetensors
[ -f "$MODEL" ] || { echo "FAIL: no checkpoint at $MODEL" >&2; exit 1; }

"$SYMFLOW" render --task kosc --k 2 --random --seed 3 --out a.wav > /dev/null || fail "render a.wav"
"$SYMFLOW" render --task kosc --k 2 --random --seed 4 --out b.wav > /dev/null || fail "render b.wav"

# Fixture files: empty, text, silent, NaN (float WAV), 9 channels, 48 kHz stereo (accepted).
: > empty.wav
echo "this is not audio" > text.wav
python3 - << 'EOF' || fail "writing fixture files"
import struct, wave, math
def pcm16(name, rate, channels, frames, value):
    with wave.open(name, "wb") as w:
        w.setnchannels(channels); w.setsampwidth(2); w.setframerate(rate)
        w.writeframes(b"".join(struct.pack("<h", value(t)) * channels for t in range(frames)))
pcm16("silent.wav", 44100, 1, 2048, lambda t: 0)
pcm16("nine.wav", 44100, 9, 2048, lambda t: int(8000 * math.sin(0.05 * t)))
pcm16("stereo48k.wav", 48000, 2, 4800, lambda t: int(8000 * math.sin(2 * math.pi * 440 * t / 48000)))
# IEEE float WAV with a NaN at frame 10.
samples = [0.1 * math.sin(0.05 * t) for t in range(2048)]
samples[10] = float("nan")
data = struct.pack("<%df" % len(samples), *samples)
fmt = struct.pack("<HHIIHH", 3, 1, 44100, 44100 * 4, 4, 32)
riff = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", len(data)) + data
open("nan.wav", "wb").write(b"RIFF" + struct.pack("<I", len(riff)) + riff)
EOF

# --- the good path ---
"$SYMFLOW" invert --model "$MODEL" a.wav b.wav stereo48k.wav --out res -n 4 --steps 4 --all > out.txt 2> err.txt ||
  fail "invert of good files failed: $(cat err.txt)"
for f in a b stereo48k; do
  [ -s res/$f.json ] && [ -s res/$f.wav ] || fail "res/$f.json or res/$f.wav missing"
  for r in 01 02 03 04; do [ -s res/$f.rank$r.json ] || fail "res/$f.rank$r.json missing (--all)"; done
done
grep -q 'a.wav: best LSD' out.txt || fail "no summary line for a.wav: $(cat out.txt)"
grep -q 'stereo48k.wav: .*2 channels mixed to mono, resampled to 44100 Hz' err.txt ||
  fail "no note on mixing/resampling stereo48k.wav: $(cat err.txt)"
python3 - << 'EOF' || fail "result JSON checks"
import json
for stem in ("a", "b", "stereo48k"):
    j = json.load(open("res/%s.json" % stem))
    assert j["task"] == "kosc" and j["k"] == 2 and j["rank"] == 1 and j["candidates"] == 4, j
    assert set(j["units"]) == {"osc1_freq", "osc2_freq", "osc1_amp", "osc2_amp", "osc1_shape", "osc2_shape"}
    for name, v in j["units"].items():
        if name.endswith("_freq"): assert 20 <= v <= 4000, (name, v)
    ranks = [json.load(open("res/%s.rank%02d.json" % (stem, r)))["lsd_db"] for r in range(1, 5)]
    assert ranks == sorted(ranks), ranks
    assert abs(ranks[0] - j["lsd_db"]) < 1e-12
EOF
# The JSON re-renders to the written resynthesis when it is not level matched (float WAV vs
# 16-bit render: compare via --float).
"$SYMFLOW" invert --model "$MODEL" a.wav --out resraw -n 4 --steps 4 --no-level-match --quiet > /dev/null 2>&1 ||
  fail "invert --no-level-match"
"$SYMFLOW" render --task kosc --k 2 --params resraw/a.json --float --out rerender.wav > /dev/null ||
  fail "render --params resraw/a.json failed"
cmp -s rerender.wav resraw/a.wav || fail "render --params resraw/a.json differs from resraw/a.wav"

# Same seed and position, same answer, whatever the other inputs are.
"$SYMFLOW" invert --model "$MODEL" a.wav --out res2 -n 4 --steps 4 --quiet > /dev/null 2>&1 || fail "invert a.wav alone"
cmp -s res/a.json res2/a.json || fail "a.wav inverted alone differs from a.wav inverted first with others"

# Issue 17: each input has its own noise stream Rng(seed).fork(position): the same sound twice in
# one call gives two different draws; the window, level match and raw params are in the JSON.
cp a.wav a_copy.wav
"$SYMFLOW" invert --model "$MODEL" a.wav a_copy.wav --out res3 -n 4 --steps 4 > out3.txt 2> err3.txt ||
  fail "invert a.wav a_copy.wav: $(cat err3.txt)"
grep -q 'the model hears .* (the loudest window, --offset to choose)' err3.txt ||
  fail "no note on the window the model hears: $(cat err3.txt)"
grep -q 'level matched' out3.txt || fail "no level match in the summary: $(cat out3.txt)"
python3 - << 'EOF' || fail "issue 17 JSON checks"
import json, struct, math
a, c = json.load(open("res3/a.json")), json.load(open("res3/a_copy.json"))
assert a["raw_params"] != c["raw_params"], "the same sound at positions 0 and 1 got the same draws"
assert a["sampler"]["stream"] == "Rng(seed).fork(0)" and c["sampler"]["stream"] == "Rng(seed).fork(1)", a["sampler"]
for j in (a, c):
    w = j["window"]
    assert w["mode"] == "loudest" and w["samples"] == 1024 and w["start_sample"] == 0, w  # a.wav is 1024 samples
    assert w["near_silent"] is False and w["rms_dbfs"] < 0, w
    lm = j["level_match"]
    assert lm["applied"] is True and isinstance(lm["gain_db"], float), lm
    assert set(j["raw_params"]) == set(j["params"])
    for name, v in j["params"].items():
        r = j["raw_params"][name]
        assert -1 <= v <= 1 and (abs(v - r) < 1e-6 or abs(r) > 1), (name, v, r)
# The WAV is the unscaled rendering times the gain: its RMS matches a.wav's unless peak-limited.
def chunk(path):
    b = open(path, "rb").read()
    i = b.index(b"data")
    n = struct.unpack("<I", b[i + 4:i + 8])[0]
    return b[i + 8:i + 8 + n]
d = chunk("res3/a.wav")
out = struct.unpack("<%df" % (len(d) // 4), d)
d = chunk("a.wav")
heard = [v / 32768 for v in struct.unpack("<%dh" % (len(d) // 2), d)]
rms = lambda x: math.sqrt(sum(v * v for v in x) / len(x))
if not a["level_match"]["limited_by_peak"]:
    assert abs(20 * math.log10(rms(out) / rms(heard))) < 1e-3, (rms(out), rms(heard))
else:
    assert abs(max(abs(v) for v in out) - 1) < 1e-6
EOF

# --offset: the window starts there (a 48 kHz file resampled to 44.1 kHz; 0.05 s -> sample 2205).
"$SYMFLOW" invert --model "$MODEL" stereo48k.wav --out res4 -n 2 --steps 2 --offset 0.05 > /dev/null 2> err4.txt ||
  fail "invert --offset 0.05: $(cat err4.txt)"
grep -q 'the model hears 50.0 ms to 73.2 ms (--offset)' err4.txt || fail "--offset not reported: $(cat err4.txt)"
grep -q '"start_sample": 2205' res4/stereo48k.json || fail "--offset 0.05: window does not start at 2205"

# --out that cannot be created is refused before the model is loaded (issue 17): with a missing
# model as well, the error is about --out.
: > plainfile
"$SYMFLOW" invert --model nomodel.safetensors a.wav --out plainfile/sub > /dev/null 2> err5.txt &&
  fail "--out under a file accepted"
grep -q -- '--out plainfile/sub: cannot create it (plainfile is not a folder)' err5.txt ||
  fail "--out under a file: not refused first: $(cat err5.txt)"

# --- refusals: exit 1, one stderr line matching PATTERN, no output folder ---
expect_refusal() {
  what=$1 pattern=$2
  shift 2
  rm -rf bad
  "$SYMFLOW" invert "$@" > out.txt 2> err.txt
  status=$?
  [ $status -ne 0 ] || fail "$what: exit status 0"
  [ "$(wc -l < err.txt | tr -d ' ')" = 1 ] || fail "$what: expected one line on stderr, got: $(cat err.txt)"
  grep -Eq -e "$pattern" err.txt || fail "$what: message does not match '$pattern': $(cat err.txt)"
  [ ! -e bad ] || fail "$what: output folder was created ($(ls -A bad | tr '\n' ' '))"
  ls -A | grep -q '\.tmp\.' && fail "$what: temporary file left behind"
  return 0
}
expect_refusal "missing file" 'missing\.wav: no such file' --model "$MODEL" missing.wav --out bad
expect_refusal "not audio" 'text\.wav: is not an audio file' --model "$MODEL" text.wav --out bad
expect_refusal "empty file" 'empty\.wav: is empty' --model "$MODEL" empty.wav --out bad
expect_refusal "silent file" 'silent\.wav: is silent' --model "$MODEL" silent.wav --out bad
expect_refusal "NaN samples" 'nan\.wav: contains NaN' --model "$MODEL" nan.wav --out bad
expect_refusal "9 channels" 'nine\.wav: has 9 channels' --model "$MODEL" nine.wav --out bad
expect_refusal "good then bad" 'silent\.wav: is silent' --model "$MODEL" a.wav silent.wav --out bad
expect_refusal "a folder as input" 'is a directory' --model "$MODEL" res --out bad
expect_refusal "stem collision" 'would both write a\.json' --model "$MODEL" a.wav res2/a.wav --out bad
expect_refusal "no model" '--model' a.wav --out bad
expect_refusal "model not a checkpoint" 'a\.wav' --model a.wav a.wav --out bad
expect_refusal "missing model" 'nomodel\.safetensors' --model nomodel.safetensors a.wav --out bad
expect_refusal "no inputs" 'at least one input' --model "$MODEL" --out bad
expect_refusal "no --out" '--out' --model "$MODEL" a.wav
expect_refusal "--samples 0" '--samples' --model "$MODEL" a.wav --out bad --samples 0
expect_refusal "--steps 0" '--steps' --model "$MODEL" a.wav --out bad --steps 0
expect_refusal "--solver bad" 'solver' --model "$MODEL" a.wav --out bad --solver leapfrog
touch notadir
expect_refusal "--out is a file" 'notadir: exists and is not a folder' --model "$MODEL" a.wav --out notadir
expect_refusal "--out under a file" 'cannot create it \(notadir is not a folder\)' --model "$MODEL" a.wav --out notadir/bad
expect_refusal "--offset past the end" 'a\.wav: --offset 5 s is past the end' --model "$MODEL" a.wav --out bad --offset 5
expect_refusal "--offset negative" '--offset' --model "$MODEL" a.wav --out bad --offset -1

cli_end
