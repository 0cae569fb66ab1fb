#!/usr/bin/env python3
"""The Python binding's overhead on a unit-crossbar solve, measured in one run.

The same 128 x 128 tile (and 256 x 256) with one input vector and with a block of inputs is
solved through ``xbarnet.solve`` (NumPy in, dict of NumPy out) and by the C++ call it wraps,
timed in C++ (``xbarnet._xbarnet.time_solve``: solver::solve_crossbar in a loop); the two
alternate, best of --rounds rounds of --repeats calls each.

    PYTHONPATH=build/python /usr/bin/python3 bench/python_overhead.py
"""

import argparse
import time

import numpy as np

import xbarnet

PARASITICS = dict(r_source=100.0, r_wordline=2.5, r_bitline=2.5, r_neuron=100.0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="8,128,256")
    ap.add_argument("--inputs", default="1,64", help="input vectors per solve")
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=5)
    a = ap.parse_args()
    print(f"{'size':>5} {'inputs':>6} {'C++ ms':>9} {'Python ms':>10} {'overhead ms':>12} {'ratio':>7}")
    for n in map(int, a.sizes.split(",")):
        rng = np.random.default_rng(n)
        g = rng.uniform(1e-6, 1e-5, (n, n))
        for k in map(int, a.inputs.split(",")):
            v = rng.uniform(0.0, 0.2, (k, n)) if k > 1 else rng.uniform(0.0, 0.2, n)
            cpp, py = float("inf"), float("inf")
            for _ in range(a.rounds):
                cpp = min(cpp, xbarnet._xbarnet.time_solve(g, v, repeats=a.repeats, **PARASITICS))
                t0 = time.perf_counter()
                for _ in range(a.repeats):
                    xbarnet.solve(g, v, **PARASITICS)
                py = min(py, (time.perf_counter() - t0) / a.repeats)
            print(f"{n:>5} {k:>6} {cpp * 1e3:>9.3f} {py * 1e3:>10.3f} {(py - cpp) * 1e3:>12.3f} "
                  f"{py / cpp:>6.3f}x")


if __name__ == "__main__":
    main()
