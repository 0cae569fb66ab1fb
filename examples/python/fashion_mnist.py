#!/usr/bin/env python3
"""A trained Fashion-MNIST CNN on simulated memristor crossbars, from Python.

    PYTHONPATH=build/python /usr/bin/python3 examples/python/fashion_mnist.py

Loads a committed network config (default: examples/fashion-mnist/cnn-3d/network.toml) with
xbarnet.load_network_config, the test and calibration images with xbarnet.load_dataset (Debian's
dataset-fashion-mnist, or the committed 200-image subset when it is not installed), and simulates
the network on 128x128 and 256x256 unit crossbars over word- and bit-line wire resistances
(r_wordline = r_bitline; the other parasitics from the config). It writes to --out:

  accuracy_vs_wire.png  recognition rate against wire resistance, one line per array size, with
                        the float network and the ideal crossbars as references
  ir_drop_heatmap.png   the IR drop over the cells of one 128x128 tile (xbarnet.solve) with every
                        row driven at v_read
  results.csv           the numbers of the table printed at the end
"""
from __future__ import annotations

import argparse
import csv
import os
import sys
import time
import tomllib
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import numpy as np

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

import xbarnet  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
DEFAULT_CONFIG = REPO / "examples" / "fashion-mnist" / "cnn-3d" / "network.toml"
SUBSET = REPO / "examples" / "fashion-mnist" / "subset"
DATA_FILES = ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte", "train-images-idx3-ubyte",
              "train-labels-idx1-ubyte")


def has_data(folder: str) -> bool:
    """True when the folder holds the four IDX files (plain or .gz)."""
    return all(os.path.exists(os.path.join(folder, f)) or
               os.path.exists(os.path.join(folder, f + ".gz")) for f in DATA_FILES)


def load_data(config: Dict[str, Any], net: Any, images: int
              ) -> Tuple[np.ndarray, np.ndarray, np.ndarray, str]:
    """Test images and labels, calibration images, and the folder they came from."""
    data_dir = str(config["data_dir"])
    calibration = int(config["data"].get("calibration_images", 100) or 100)
    if has_data(data_dir):
        x, y = xbarnet.load_dataset(data_dir, "t10k", limit=images, network=net)
        cal, _ = xbarnet.load_dataset(data_dir, "train", limit=calibration, network=net)
        return x, y, cal, data_dir
    print(f"note: no Fashion-MNIST in {data_dir} (sudo apt-get install dataset-fashion-mnist); "
          f"using the committed subset {SUBSET}", file=sys.stderr)
    x, y = xbarnet.load_dataset(str(SUBSET), "t10k", network=net)
    cal, _ = xbarnet.load_dataset(str(SUBSET), "train", network=net)
    if images and len(x) < images:
        print(f"note: the subset holds {len(x)} test images, fewer than --images {images}",
              file=sys.stderr)
    n = images if images else len(x)
    return x[:n], y[:n], cal[:calibration], str(SUBSET)


# ------------------------------------------------------------------------------------------------
# The accuracy sweep


def prepare_tables(tables: Dict[str, Dict[str, Any]], array: int, wire: Optional[float],
                   threads: int) -> Dict[str, Dict[str, Any]]:
    """The config's tables with the array size, the wire resistance (ohm) and the threads set."""
    t = {k: dict(v) for k, v in tables.items() if v is not None}
    t.setdefault("mapping", {})["array"] = [array, array]
    t.setdefault("simulation", {})["threads"] = threads
    if wire is not None:
        t.setdefault("parasitics", {}).update(r_wordline=wire, r_bitline=wire)
    return t


def sweep(net: Any, tables: Dict[str, Dict[str, Any]], images: np.ndarray, labels: np.ndarray,
          calibration: np.ndarray, arrays: List[int], wires: List[float], batch: int,
          threads: int) -> List[Dict[str, Any]]:
    rows = []
    for array in arrays:
        t0 = time.perf_counter()
        ideal = net.prepare(calibration, batch=batch, ideal=True,
                            **prepare_tables(tables, array, None, threads))
        ideal_result = ideal.evaluate(images, labels)
        rows.append({"array": array, "wire_ohm": "ideal", "accuracy": ideal_result["accuracy"],
                     "agree_ideal": 1.0, "arrays": ideal.arrays,
                     "seconds": time.perf_counter() - t0})
        for wire in wires:
            t0 = time.perf_counter()
            xb = net.prepare(calibration, batch=batch,
                             **prepare_tables(tables, array, wire, threads))
            result = xb.evaluate(images, labels)
            agree = float(np.mean(np.asarray(result["predicted"]) ==
                                  np.asarray(ideal_result["predicted"])))
            rows.append({"array": array, "wire_ohm": wire, "accuracy": result["accuracy"],
                         "agree_ideal": agree, "arrays": xb.arrays,
                         "seconds": time.perf_counter() - t0})
    return rows


def plot_accuracy(rows: List[Dict[str, Any]], float_accuracy: float, name: str, n: int,
                  path: Path) -> None:
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    # under the ideal-crossbar lines, which often coincide with it
    ax.axhline(100 * float_accuracy, color="0.6", lw=4, alpha=0.6, label="float network")
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, array in enumerate(sorted({r["array"] for r in rows})):
        points = [r for r in rows if r["array"] == array and r["wire_ohm"] != "ideal"]
        ideal = [r for r in rows if r["array"] == array and r["wire_ohm"] == "ideal"][0]
        color = colors[i % len(colors)]
        ax.plot([r["wire_ohm"] for r in points], [100 * r["accuracy"] for r in points], "o-",
                color=color, label=f"{array}x{array} simulated ({points[0]['arrays']} arrays)")
        ax.axhline(100 * ideal["accuracy"], color=color, ls=(i * 3, (3, 3)), lw=1.5,
                   label=f"{array}x{array} ideal crossbars")
    ax.set_xlabel("wire resistance per segment, r_wordline = r_bitline (ohm)")
    ax.set_ylabel(f"accuracy on {n} test images (%)")
    ax.set_title(f"{name}: recognition rate against wire resistance")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


# ------------------------------------------------------------------------------------------------
# The IR-drop map of one tile


def first_tile(config_path: Path, device: Dict[str, Any], size: int
               ) -> Tuple[Optional[np.ndarray], str]:
    """Conductances (S) of the first size x size im2col tile of the weighted layer with the most
    inputs, mapped as xbarnet maps analog weights onto differential pairs (docs/mapping.md:
    G+ = G_min + a max(w, 0), G- = G_min + a max(-w, 0), a = (G_max - G_min) / max|w|), or None
    when the config's layers cannot be read here."""
    try:
        with open(config_path, "rb") as f:
            layers = tomllib.load(f).get("layer", [])
        best = None
        for layer in layers:
            if layer.get("kind") in ("conv", "pointwise", "dense") and "weights" in layer:
                w = np.load(config_path.parent / layer["weights"])
                w = w.reshape(w.shape[0], -1)  # (M outputs, K inputs), rows (channel, ky, kx)
                if best is None or w.shape[1] > best[1].shape[1]:
                    best = (layer.get("name", layer["kind"]), w)
        if best is None:
            return None, ""
    except (OSError, ValueError, KeyError, tomllib.TOMLDecodeError):
        return None, ""
    name, w = best
    g_min = 1.0 / float(device.get("r_hrs", 1e5))
    g_max = 1.0 / float(device.get("r_lrs", 1e4))
    a = (g_max - g_min) / np.abs(w).max()
    wt = w.T[:size, :size // 2]  # K rows, one column pair per output
    g = np.full((size, size), g_min)
    g[:wt.shape[0], 0:2 * wt.shape[1]:2] = g_min + a * np.maximum(wt, 0)
    g[:wt.shape[0], 1:2 * wt.shape[1]:2] = g_min + a * np.maximum(-wt, 0)
    what = (f"{name}: rows 0-{wt.shape[0] - 1} of {w.shape[1]}, outputs 0-{wt.shape[1] - 1} "
            f"of {w.shape[0]} as differential pairs")
    return g, what


def ir_drop_map(config_path: Path, tables: Dict[str, Dict[str, Any]], size: int, path: Path
                ) -> Dict[str, float]:
    device = tables.get("device", {}) or {}
    parasitics = {k: float((tables.get("parasitics", {}) or {}).get(k, 0.0))
                  for k in ("r_source", "r_wordline", "r_bitline", "r_neuron")}
    v_read = float(device.get("v_read", 0.2))
    g, what = first_tile(config_path, device, size)
    if g is None:
        g = np.random.default_rng(1).uniform(1e-6, 1e-5, (size, size))
        what = "random conductances in [1, 10] uS"
    t0 = time.perf_counter()
    out = xbarnet.solve(g, np.full((1, size), v_read), node_voltages=True, **parasitics)
    seconds = time.perf_counter() - t0
    drop = np.asarray(out["ir_drop"])[0]  # (K, R, C): the one input vector's (R, C) map
    fig, ax = plt.subplots(figsize=(6.4, 5.2))
    im = ax.imshow(drop * 1e3, cmap="inferno", origin="upper", aspect="equal")
    fig.colorbar(im, ax=ax, label="IR drop V_i - (v_w - v_b) (mV)")
    ax.set_xlabel("column (bit line; neuron at the bottom of each)")
    ax.set_ylabel("row (word line; driver on the left)")
    ax.set_title(f"IR drop of one {size}x{size} tile, every row at {v_read:g} V\n{what}\n"
                 f"r_source {parasitics['r_source']:g}, r_wordline {parasitics['r_wordline']:g}, "
                 f"r_bitline {parasitics['r_bitline']:g}, r_neuron {parasitics['r_neuron']:g} "
                 "ohm", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return {"max_mV": 1e3 * float(drop.max()), "mean_mV": 1e3 * float(drop.mean()),
            "max_percent": 100 * float(drop.max()) / v_read, "seconds": seconds, "what": what}


# ------------------------------------------------------------------------------------------------


def number_list(text: str, kind: type) -> list:
    try:
        values = [kind(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}': expected comma-separated numbers")
    if not values:
        raise argparse.ArgumentTypeError("expected at least one value")
    return values


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--config", type=Path, default=DEFAULT_CONFIG,
                    help="network config (default: %(default)s)")
    ap.add_argument("--images", type=int, default=500,
                    help="test images, the first ones (0 = all; default %(default)s)")
    ap.add_argument("--out", type=Path, default=Path("xbarnet-python-out"),
                    help="output folder (default: ./%(default)s)")
    ap.add_argument("--wires", type=lambda s: number_list(s, float), default=[0.5, 1, 2.5, 5],
                    help="wire resistances per segment in ohm, comma-separated "
                         "(default: 0.5,1,2.5,5)")
    ap.add_argument("--arrays", type=lambda s: number_list(s, int), default=[128, 256],
                    help="square array sizes in cells, comma-separated (default: 128,256)")
    ap.add_argument("--threads", type=int, default=2,
                    help="threads over tiles (default %(default)s)")
    args = ap.parse_args()
    if args.images < 0:
        ap.error("--images must be >= 0")
    t_start = time.perf_counter()

    try:
        config = xbarnet.load_network_config(str(args.config))
    except (xbarnet.Error, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    net = config["network"]
    tables = config["tables"]
    batch = int(config["data"].get("batch", 64) or 64)
    images, labels, calibration, data_dir = load_data(config, net, args.images)
    args.out.mkdir(parents=True, exist_ok=True)
    print(f"{net.name}: {len(images)} test images and {len(calibration)} calibration images "
          f"from {data_dir}")

    t0 = time.perf_counter()
    float_result = xbarnet.evaluate_float(net, images, labels, batch=batch)
    float_seconds = time.perf_counter() - t0
    rows = sweep(net, tables, images, labels, calibration, args.arrays, args.wires, batch,
                 args.threads)
    plot_accuracy(rows, float_result["accuracy"], net.name, len(images),
                  args.out / "accuracy_vs_wire.png")
    drop = ir_drop_map(args.config, tables, 128, args.out / "ir_drop_heatmap.png")

    with open(args.out / "results.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["array", "wire_ohm", "accuracy", "agree_ideal",
                                               "arrays", "seconds"])
        writer.writeheader()
        writer.writerow({"array": "-", "wire_ohm": "float", "accuracy": float_result["accuracy"],
                         "agree_ideal": "", "arrays": 0, "seconds": float_seconds})
        writer.writerows(rows)

    print(f"\n{'array':>7}  {'wire ohm':>8}  {'accuracy':>8}  {'agree ideal':>11}  "
          f"{'arrays':>6}  {'seconds':>7}")
    print(f"{'-':>7}  {'float':>8}  {100 * float_result['accuracy']:7.2f}%  {'':>11}  "
          f"{'-':>6}  {float_seconds:7.2f}")
    for r in rows:
        wire = r["wire_ohm"] if isinstance(r["wire_ohm"], str) else f"{r['wire_ohm']:g}"
        print(f"{r['array']:>7}  {wire:>8}  {100 * r['accuracy']:7.2f}%  "
              f"{100 * r['agree_ideal']:10.1f}%  {r['arrays']:>6}  {r['seconds']:7.2f}")
    print(f"\nIR drop of one 128x128 tile ({drop['what']}), every row at v_read: "
          f"max {drop['max_mV']:.2f} mV ({drop['max_percent']:.2f} % of v_read), "
          f"mean {drop['mean_mV']:.2f} mV; solved in {drop['seconds']:.3f} s")
    print(f"wrote {args.out / 'accuracy_vs_wire.png'}, {args.out / 'ir_drop_heatmap.png'}, "
          f"{args.out / 'results.csv'} ({time.perf_counter() - t_start:.1f} s in all)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
