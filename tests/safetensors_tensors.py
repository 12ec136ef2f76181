#!/usr/bin/env python3
"""Compare the tensors of safetensors files byte for byte (python3 standard library only).

A safetensors file is: 8 bytes little-endian u64 N, N bytes of JSON header, then the data
section. The header maps each tensor name to {"dtype", "shape", "data_offsets": [begin, end]}
(offsets relative to the data section) and may hold "__metadata__" (string pairs). Checkpoints
of `symflow train` keep wall times there, so two runs that trained the same weights give
different files; this tool compares tensors only and ignores "__metadata__".

  safetensors_tensors.py same A B    exit 0 when A and B hold the same tensor names, and for
                                     each name the same dtype, shape and data bytes; otherwise
                                     exit 1 listing every difference (at most 10 lines)
  safetensors_tensors.py step FILE   print the training step of a symflow checkpoint
                                     ("symflow_train_state" metadata, JSON, key "step")
  safetensors_tensors.py digest FILE print one SHA-256 over every tensor's name, dtype, shape
                                     and bytes (sorted by name)

Any file that is not well-formed safetensors: one line on stderr, exit 2.
Used by tests/kill_resume_test.sh (and the other crash-safety tests).
"""
import hashlib
import json
import struct
import sys


class BadFile(Exception):
    pass


def read(path):
    """Returns (metadata dict, {name: (dtype, shape tuple, bytes)})."""
    try:
        with open(path, "rb") as f:
            blob = f.read()
    except OSError as e:
        raise BadFile(f"{path}: {e.strerror}")
    if len(blob) < 8:
        raise BadFile(f"{path}: {len(blob)} bytes, shorter than the 8-byte header length")
    (n,) = struct.unpack("<Q", blob[:8])
    if n > len(blob) - 8:
        raise BadFile(f"{path}: header length {n} beyond the file ({len(blob)} bytes)")
    try:
        header = json.loads(blob[8 : 8 + n].decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise BadFile(f"{path}: header is not JSON ({e})")
    if not isinstance(header, dict):
        raise BadFile(f"{path}: header is not a JSON object")
    data = blob[8 + n :]
    meta = header.pop("__metadata__", {}) or {}
    tensors = {}
    for name, info in header.items():
        try:
            begin, end = info["data_offsets"]
            dtype, shape = info["dtype"], tuple(info["shape"])
        except (KeyError, TypeError, ValueError):
            raise BadFile(f"{path}: tensor '{name}' has no dtype, shape or data_offsets")
        if not (0 <= begin <= end <= len(data)):
            raise BadFile(f"{path}: tensor '{name}' offsets [{begin}, {end}) outside the data ({len(data)} bytes)")
        tensors[name] = (dtype, shape, data[begin:end])
    return meta, tensors


def same(a, b):
    _, ta = read(a)
    _, tb = read(b)
    problems = []
    for name in sorted(set(ta) - set(tb)):
        problems.append(f"only in {a}: {name}")
    for name in sorted(set(tb) - set(ta)):
        problems.append(f"only in {b}: {name}")
    for name in sorted(set(ta) & set(tb)):
        (da, sa, xa), (db, sb, xb) = ta[name], tb[name]
        if (da, sa) != (db, sb):
            problems.append(f"{name}: {da}{list(sa)} vs {db}{list(sb)}")
        elif xa != xb:
            diff = sum(1 for i in range(0, len(xa), 4) if xa[i : i + 4] != xb[i : i + 4])
            problems.append(f"{name}: {diff} of {len(xa) // 4} 4-byte words differ")
    if not ta:
        problems.append(f"{a}: no tensors")
    for p in problems[:10]:
        print(p, file=sys.stderr)
    if len(problems) > 10:
        print(f"... and {len(problems) - 10} more", file=sys.stderr)
    return 0 if not problems else 1


def step(path):
    meta, _ = read(path)
    state = meta.get("symflow_train_state")
    if state is None:
        raise BadFile(f"{path}: no symflow_train_state metadata")
    print(json.loads(state)["step"])
    return 0


def digest(path):
    _, tensors = read(path)
    h = hashlib.sha256()
    for name in sorted(tensors):
        dtype, shape, data = tensors[name]
        h.update(f"{name}|{dtype}|{list(shape)}|".encode())
        h.update(data)
    print(h.hexdigest())
    return 0


def main(argv):
    usage = "usage: safetensors_tensors.py same A B | step FILE | digest FILE"
    try:
        if len(argv) == 3 and argv[0] == "same":
            return same(argv[1], argv[2])
        if len(argv) == 2 and argv[0] == "step":
            return step(argv[1])
        if len(argv) == 2 and argv[0] == "digest":
            return digest(argv[1])
    except BadFile as e:
        print(f"safetensors_tensors: {e}", file=sys.stderr)
        return 2
    print(usage, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
