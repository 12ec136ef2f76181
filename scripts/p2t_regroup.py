#!/usr/bin/env python3
"""Re-form a k-osc cnf-param2tok checkpoint's assignment A from the coupling its flow learned.

A pilot tool of the symmetry-discovery study (issue 19, docs/results.md "Regrouping A from the
coupling"), until the trainer does this itself. Reads the checkpoint and the JSON of
`symflow inspect --model CKPT --coupling N --json FILE`; writes DIR/model.safetensors (plus the
run's train.csv / train.jsonl) with A replaced:

  token t (t < k) reads f_t, the amplitude a_pi(t) and the shape w_sigma(t), where pi maximizes
  the total symmetrized coupling S = C + C^T between each frequency and its amplitude, and sigma
  that between each shape and its frequency plus its amplitude (metrics::kOscCouplingMatch, the
  rule of `symflow train --p2t-regroup`, which now does this inside a run); each read entry is sum|A| / P (the old
  mass of A spread over the P read entries), every other entry 0. Tokens beyond k read nothing.

Every other tensor, the Adam moments and the train state are kept, so `symflow train --resume
--out DIR --steps N` continues the run from the regrouped model. The safetensors data checksum
(symflow.data_fnv1a64, docs/checkpoint-format.md) is recomputed; the header is unchanged.

usage: p2t_regroup.py CKPT COUPLING_JSON OUT_DIR [--truth]
  --truth: use the true oscillator grouping instead of the coupling's (a control).
"""
import itertools
import json
import os
import shutil
import struct
import sys

import numpy as np


def fnv1a64(data: bytes) -> int:
    h = 0xCBF29CE484222325
    for byte in data:
        h = ((h ^ byte) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


def main(argv):
    if len(argv) < 4:
        sys.exit(__doc__)
    src, coupling_json, dst = argv[1], argv[2], argv[3]
    truth = "--truth" in argv[4:]
    raw = bytearray(open(src, "rb").read())
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    if "vf.p2t.assign" not in header:
        sys.exit(f"{src}: no tensor vf.p2t.assign (not a k-osc cnf-param2tok checkpoint)")
    base = 8 + n
    begin, end = header["vf.p2t.assign"]["data_offsets"]
    tokens, P = header["vf.p2t.assign"]["shape"]
    if P % 3 or tokens < P // 3:
        sys.exit(f"{src}: A is {tokens} x {P}; need P = 3k and at least k tokens")
    k = P // 3
    A = np.frombuffer(bytes(raw[base + begin:base + end]), dtype="<f4").reshape(tokens, P)
    C = np.array(json.load(open(coupling_json))["coupling"]["matrix"], dtype=float)
    if C.shape != (P, P):
        sys.exit(f"{coupling_json}: the coupling matrix is {C.shape}, expected {P} x {P}")
    S = C + C.T

    def best(score):  # the permutation p maximizing sum_i score(i, p[i])
        if truth:
            return tuple(range(k))
        return max(itertools.permutations(range(k)), key=lambda p: sum(score(i, p[i]) for i in range(k)))

    pa = best(lambda i, j: S[i, k + j])  # amplitudes by frequency
    pw = best(lambda i, l: S[i, 2 * k + l] + S[k + pa[i], 2 * k + l])  # shapes by frequency and amplitude
    value = float(np.abs(A).sum()) / P
    B = np.zeros_like(A)
    for t in range(k):
        B[t, t] = B[t, k + pa[t]] = B[t, 2 * k + pw[t]] = value
    raw[base + begin:base + end] = B.astype("<f4").tobytes()
    old = header["__metadata__"]["symflow.data_fnv1a64"].encode()
    new = ("%016x" % fnv1a64(bytes(raw[base:]))).encode()
    head = bytes(raw[8:8 + n])
    if head.count(old) != 1:
        sys.exit(f"{src}: cannot locate the data checksum in the header")
    raw[8:8 + n] = head.replace(old, new)
    os.makedirs(dst, exist_ok=True)
    with open(os.path.join(dst, "model.safetensors"), "wb") as f:
        f.write(raw)
    for log in ("train.csv", "train.jsonl"):
        p = os.path.join(os.path.dirname(src), log)
        if os.path.exists(p):
            shutil.copy(p, dst)
    print(f"amplitude of token t: a{list(pa)}, shape: w{list(pw)}; weight {value:.4f}; wrote {dst}/model.safetensors")


if __name__ == "__main__":
    main(sys.argv)
