#!/usr/bin/env python3
"""The exact crossbar problem as a SciPy user would solve it: the reference of xbarnet-bench.

Builds the nodal matrix of the unit crossbar of DESIGN.md ("The unit-crossbar circuit") from
scratch (it shares no code with xbarnet), factorizes it once with SuperLU (scipy.sparse.linalg
.splu) and solves every input vector with that factor. Uniform parasitics, all > 0 and finite.

    python3 scipy_solve.py G.npy V.npy r_source r_wordline r_bitline r_neuron I.npy

G.npy: R x C conductances [S]; V.npy: K x R input voltages [V]; writes I.npy: K x C column
currents [A] (the current through each neuron resistance into its virtual ground) and prints
the seconds of each phase on one line.
"""
import sys
import time

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla


def main():
    if len(sys.argv) != 8:
        sys.exit(__doc__)
    t0 = time.perf_counter()
    g = np.load(sys.argv[1])
    v = np.atleast_2d(np.load(sys.argv[2]))
    rs, rw, rb, rn = (float(a) for a in sys.argv[3:7])
    r, c = g.shape
    # Unknowns: w(i,j) = i*C + j, b(i,j) = R*C + i*C + j. Inputs and virtual grounds are driven.
    w = np.arange(r * c).reshape(r, c)
    b = r * c + w
    n = 2 * r * c
    rows, cols, vals = [], [], []

    def branch(p, q, cond):  # conductance between unknowns p and q (arrays)
        rows.extend([p, q, p, q])
        cols.extend([p, q, q, p])
        vals.extend([cond, cond, -cond, -cond])

    def to_ground(p, cond):  # conductance from unknown p to a driven node
        rows.append(p)
        cols.append(p)
        vals.append(cond)

    branch(w.ravel(), b.ravel(), g.ravel())
    branch(w[:, :-1].ravel(), w[:, 1:].ravel(), np.full(r * (c - 1), 1.0 / rw))
    branch(b[:-1, :].ravel(), b[1:, :].ravel(), np.full((r - 1) * c, 1.0 / rb))
    to_ground(w[:, 0], np.full(r, 1.0 / rs))
    to_ground(b[-1, :], np.full(c, 1.0 / rn))
    a = sp.csc_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(n, n))
    rhs = np.zeros((n, v.shape[0]))
    rhs[w[:, 0], :] = v.T / rs
    t1 = time.perf_counter()
    lu = spla.splu(a)
    t2 = time.perf_counter()
    x = lu.solve(rhs)
    t3 = time.perf_counter()
    current = (x[b[-1, :], :] / rn).T
    np.save(sys.argv[7], current)
    print(f"scipy {sp.__name__} assemble {t1 - t0:.4f} factorize {t2 - t1:.4f} "
          f"solve {t3 - t2:.4f} unknowns {n} inputs {v.shape[0]}")


if __name__ == "__main__":
    main()
