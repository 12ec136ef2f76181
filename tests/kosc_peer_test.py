#!/usr/bin/env python3
"""Compares symflow's k-osc render (tests/kosc_peer_render) with the numpy peer on every sample.

The peer (bench/peer/kosc_data.py, the copy of shared/peer/kosc_data.py) follows the authors' torch code operation by operation
(paper.md "The authors' arithmetic, in this order") and equals sameBudget/kosc_ref.py exactly;
when scipy is there, kosc_ref.make_sig is checked too. Random sounds plus sounds built to hit the
edges: phases of exactly 0.5 and frequencies on the PolyBLEP edges.
Targets (issue 17): float path within 1e-6 of numpy float32 on every sample (asymmetric variant
bit-equal but for the sine's last ulp), double path within 1e-12 of numpy float64.

  kosc_peer_test.py RENDER_BIN [PEER_DIR]     exit 0 pass, 1 fail, 77 skipped (no numpy / peer)
"""
import os
import subprocess
import sys
import tempfile

try:
    import numpy as np
except ImportError:
    print("SKIP: no numpy (apt-get install python3-numpy)")
    sys.exit(77)

here = os.path.dirname(os.path.abspath(__file__))
render_bin = sys.argv[1]
peer = sys.argv[2] if len(sys.argv) > 2 else os.path.join(here, "..", "bench", "peer")
if not os.path.exists(os.path.join(peer, "kosc_data.py")):
    print(f"SKIP: numpy peer not found in {peer}")
    sys.exit(77)
sys.path.insert(0, peer)
import kosc_data as kd  # noqa: E402

try:
    sys.path.insert(0, os.path.join(peer, "sameBudget"))
    import kosc_ref  # noqa: E402  (needs scipy)
except ImportError:
    kosc_ref = None

TOL = {"float": 1e-6, "double": 1e-12}


def edge_sounds(k, rng, count):
    """Sounds whose oscillators sit on frequencies where float32 phases land on 0.5 exactly or
    next to the PolyBLEP edges: f values on a fine dyadic grid (exact in float32)."""
    flat = rng.uniform(-1, 1, (count, 3 * k))
    grid = np.round(rng.uniform(-1, 1, (count, k)) * 64) / 64  # multiples of 1/64
    flat[:, :k] = grid
    flat[:, 2 * k:] = np.where(rng.uniform(size=(count, k)) < 0.5, 0.0, flat[:, 2 * k:])  # many pure squares
    return flat


def render_symflow(flat, k, variant, prec, tmp):
    src, dst = os.path.join(tmp, "p.bin"), os.path.join(tmp, "s.bin")
    flat.astype(np.float64).tofile(src)
    subprocess.run([render_bin, str(k), variant, prec, src, dst], check=True)
    dt = np.float32 if prec == "float" else np.float64
    return np.fromfile(dst, dtype=dt).reshape(flat.shape[0], 1024)


def main():
    rng = np.random.default_rng(17)
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        for k in (1, 3, 4, 8, 32):
            count = 256 if k <= 8 else 64
            flat = np.concatenate([rng.uniform(-1, 1, (count, 3 * k)), edge_sounds(k, rng, count)])
            flat[0, :] = 0.375  # f = 0.375: dt close to 1/16, phases near 0.5 every 16 samples
            params = flat.reshape(-1, 3, k).transpose(0, 2, 1)  # (B, k, 3) for kosc_data
            for variant in ("sym", "asym"):
                for prec, dtype in (("float", np.float32), ("double", np.float64)):
                    ours = render_symflow(flat, k, variant, prec, tmp).astype(np.float64)
                    ref = kd.generate(params.astype(dtype), dtype=dtype, asym=variant == "asym").astype(np.float64)
                    diff = np.abs(ours - ref)
                    worst = diff.max()
                    exact = np.mean(diff == 0)
                    good = worst <= TOL[prec]
                    msg = (f"k={k:2d} {variant:4s} {prec:6s}: max |symflow - numpy| {worst:.2e} "
                           f"(bit-equal samples {100 * exact:.2f} %, {flat.shape[0]} sounds)")
                    if kosc_ref is not None:
                        ref2 = kosc_ref.make_sig(flat.astype(dtype).astype(np.float64), asym=variant == "asym",
                                                 dtype=dtype).astype(np.float64)
                        w2 = np.abs(ours - ref2).max()
                        good = good and w2 <= TOL[prec]
                        msg += f"; vs kosc_ref {w2:.2e}"
                    print(("PASS " if good else "FAIL ") + msg)
                    ok = ok and good
    print("kosc_peer_test:", "passed" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
