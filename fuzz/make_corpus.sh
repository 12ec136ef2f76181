#!/bin/sh
# Regenerates the seed corpora fuzz/corpus/NAME/ from files the symflow program writes:
#   sh fuzz/make_corpus.sh SYMFLOW_BINARY MAKE_AUDIO_SEEDS_BINARY
# (the release `symflow` and build-fuzz/fuzz/make_audio_seeds). Takes about a minute.
#   kosc_model   `symflow export` of tiny models (k = 2, width 4, 1 training step) of every kind
#   surge_model  `symflow export` of tiny surge-simple models (width 8, 1 step) of the three kinds
#   safetensors  those plus a training checkpoint (with Adam moments), the same without its
#                checksums, and a PyTorch-style file (layer.weight, layer.bias, I64 counter)
#   json         the JSON headers of those files, a train.jsonl row, params and invert JSON
#   params_json  `render --save-params` (kosc k = 2, surge-simple), an invert result, a bare object
#   audio        `render` WAVs (16-bit, float; kosc and surge-simple), an invert resynthesis, and
#                the kosc WAV in FLAC, Ogg Vorbis/Opus, AIFF, CAF, AU, W64, RF64, ADPCM, GSM, MP3, ...
set -eu
S=${1:?usage: make_corpus.sh SYMFLOW_BINARY MAKE_AUDIO_SEEDS_BINARY}
CONVERT=${2:?usage: make_corpus.sh SYMFLOW_BINARY MAKE_AUDIO_SEEDS_BINARY}
case $S in /*) ;; *) S=$(pwd)/$S ;; esac
case $CONVERT in /*) ;; *) CONVERT=$(pwd)/$CONVERT ;; esac
cd "$(dirname "$0")"
C=$(pwd)/corpus
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
rm -rf "$C"
mkdir -p "$C/kosc_model" "$C/surge_model" "$C/safetensors" "$C/json" "$C/params_json" "$C/audio"

tiny="--k 2 --steps 1 --batch 4 --encoder spectral-mlp --embed-dim 4 --spectral-width 4 --spectral-blocks 1
      --dit-width 4 --dit-heads 1 --dit-ff 4 --dit-layers 1 --mlp-width 4 --mlp-blocks 1 --head-width 4
      --head-blocks 1 --quiet --threads 1 --checkpoint-every 0"
for m in cnf-param2tok cnf-equivariant cnf-mlp ffn-mse ffn-sort ffn-chamfer; do
  # shellcheck disable=SC2086
  OMP_NUM_THREADS=1 "$S" train --model "$m" $tiny --out "$T/$m.safetensors" >/dev/null
  "$S" export --model "$T/$m.safetensors" --out "$C/kosc_model/$m.safetensors" >/dev/null
done
"$S" export --model "$T/cnf-param2tok.safetensors" --out "$T/asym.safetensors" >/dev/null
tiny_surge="--task surge-simple --steps 1 --batch 2 --ast-width 8 --ast-layers 1 --ast-heads 1 --ast-ff 8
      --dit-width 8 --dit-heads 1 --dit-ff 8 --dit-layers 1 --tokens 4 --mlp-width 8 --mlp-blocks 1 --head-width 8
      --head-blocks 1 --quiet --threads 1 --checkpoint-every 0"
for m in cnf-param2tok cnf-mlp ffn; do
  # shellcheck disable=SC2086
  OMP_NUM_THREADS=1 "$S" train --model "$m" $tiny_surge --out "$T/surge-$m.safetensors" >/dev/null
  "$S" export --model "$T/surge-$m.safetensors" --out "$C/surge_model/$m.safetensors" >/dev/null
done
cp "$C/kosc_model/cnf-param2tok.safetensors" "$C/safetensors/model.safetensors"
cp "$T/cnf-param2tok.safetensors" "$C/safetensors/checkpoint.safetensors"
python3 - "$C" "$T" <<'PY'
import json, struct, sys
C, T = sys.argv[1], sys.argv[2]
def read(path):
    b = open(path, 'rb').read()
    n = struct.unpack('<Q', b[:8])[0]
    return json.loads(b[8:8 + n]), b[8 + n:]
def write(path, header, data):
    h = json.dumps(header, separators=(',', ':')).encode()
    h += b' ' * ((8 - len(h) % 8) % 8)
    open(path, 'wb').write(struct.pack('<Q', len(h)) + h + data)
# The exported model without its checksums (as another tool would write it).
header, data = read(C + '/kosc_model/cnf-param2tok.safetensors')
meta = header['__metadata__']
meta.pop('symflow.data_fnv1a64'); meta.pop('symflow.header_fnv1a64')
write(C + '/safetensors/model-no-checksums.safetensors', header, data)
# PyTorch-style state dict with the names fuzz_safetensors.cpp loads (F32 weight and bias, I64 counter).
tensors = {'layer.weight': ('F32', [2, 3], struct.pack('<6f', *[0.5, -1, 2, 0, 1e-3, 3])),
           'layer.bias': ('F32', [3], struct.pack('<3f', 1, 2, 3)),
           'bn.num_batches_tracked': ('I64', [], struct.pack('<q', 7))}
header, data, off = {}, b'', 0
for name, (dt, shape, raw) in tensors.items():
    header[name] = {'dtype': dt, 'shape': shape, 'data_offsets': [off, off + len(raw)]}
    data += raw; off += len(raw)
write(C + '/safetensors/torch-style.safetensors', header, data)
# JSON seeds: the headers.
for name, src in [('header-model.json', C + '/kosc_model/cnf-mlp.safetensors'),
                  ('header-checkpoint.json', C + '/safetensors/checkpoint.safetensors')]:
    h, _ = read(src)
    open(C + '/json/' + name, 'w').write(json.dumps(h))
    if name == 'header-model.json':
        open(C + '/json/model-config.json', 'w').write(h['__metadata__']['symflow_model_config'])
PY
head -c 2000 "$T/cnf-param2tok.jsonl" | head -n 1 >"$C/json/train-log-row.json"

"$S" render --task kosc --k 2 --random --seed 3 --out "$C/audio/kosc-pcm16.wav" --save-params "$C/params_json/kosc.json" >/dev/null
"$S" render --task kosc --k 2 --variant asymmetric --random --seed 4 --float --out "$C/audio/kosc-float.wav" \
  --save-params "$C/params_json/kosc-asymmetric.json" >/dev/null
"$S" render --task surge-simple --random --seed 5 --sample-rate 8000 --seconds 0.05 --out "$C/audio/surge-8k.wav" \
  --save-params "$C/params_json/surge-simple.json" >/dev/null
OMP_NUM_THREADS=1 "$S" invert --model "$C/kosc_model/cnf-param2tok.safetensors" "$C/audio/kosc-pcm16.wav" \
  --out "$T/inv" --samples 2 --steps 2 --quiet >/dev/null
cp "$T/inv/kosc-pcm16.wav" "$C/audio/invert-resynthesis.wav"
cp "$T/inv/kosc-pcm16.json" "$C/params_json/invert-result.json"
printf '{"osc1_freq": 0.25, "osc1_amp": -0.5, "osc1_shape": 1, "osc2_freq": -1, "osc2_amp": 0, "osc2_shape": 0.75}\n' \
  >"$C/params_json/bare.json"
cp "$C/params_json/kosc.json" "$C/json/params.json"
cp "$C/params_json/invert-result.json" "$C/json/invert-result.json"
"$CONVERT" "$C/audio/kosc-pcm16.wav" "$C/audio"
for d in "$C"/*; do
  echo "$(basename "$d"): $(ls "$d" | wc -l) files, $(du -sb "$d" | cut -f1) bytes"
done
