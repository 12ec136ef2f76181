#!/usr/bin/env python3
"""Prints the numpy reference values hard-coded in tests/test_synth_kosc.cpp.

The reference is the numpy k-osc peer (bench/peer/kosc_data.py, the copy of shared/peer/kosc_data.py, which follows the authors'
arithmetic operation by operation since issue 17 and equals sameBudget/kosc_ref.py). Run: /usr/bin/python3 tests/kosc_reference.py [path/to/peer (default bench/peer)]
(needs python3-numpy; the C++ tests themselves do not need python).
"""
import os
import sys

import numpy as np

here = os.path.dirname(os.path.abspath(__file__))
peer = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "..", "bench", "peer")
sys.path.insert(0, peer)
import kosc_data as kd  # noqa: E402

# Dyadic values: exact in float and double, so both precisions see the same inputs.
# Flat parameter-major layout per sound: f_0..f_3, a_0..a_3, w_0..w_3.
SOUNDS = [
    [-0.75, 0.125, 0.5, 0.9375, 0.5, -0.25, 1.0, 0.0, -1.0, -0.375, 0.25, 1.0],
    [0.3125, -0.5, -1.0, 1.0, -0.5, 0.75, 0.25, -1.0, 0.0, 0.625, -0.875, 0.5],
]
INDICES = [0, 1, 2, 3, 5, 17, 100, 255, 256, 511, 512, 700, 1000, 1023]


def main():
    k = 4
    flat = np.array(SOUNDS, dtype=np.float64)
    params = flat.reshape(len(SOUNDS), 3, k).transpose(0, 2, 1)  # (B, k, 3)
    n = np.arange(1024)
    for asym in (False, True):
        for dtype in (np.float64, np.float32):
            sig = kd.generate(params, dtype=dtype, asym=asym).astype(np.float64)
            print(f"// asym={asym} dtype={np.dtype(dtype).name}")
            for s in sig:
                vals = ", ".join(f"{v:.17g}" for v in s[INDICES])
                stats = f"{s.sum():.17g}, {(s * s).sum():.17g}, {(n * s).sum():.17g}"
                print(f"{{{{{vals}}}, {{{stats}}}}},")


if __name__ == "__main__":
    main()
