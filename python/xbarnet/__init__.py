"""xbarnet: circuit-level simulation of analog in-memory-computing crossbars for neural networks.

Weights become memristor conductances, inputs become word-line voltages and column currents are
the multiply-accumulate results. Every unit crossbar is solved exactly with its source (driver),
word-line, bit-line and neuron (sense) resistances, so the outputs carry the IR drop a real array
has. Units are SI everywhere: siemens, volts, amperes, ohms, joules, seconds, bytes.

Parameters are keyword arguments with the names, units and rules of the config files
(docs/parameters.md; ``xbarnet.parameters()`` lists them). A simulation takes them as one dict
per config table::

    xbarnet.simulate_layer("conv", w, x, padding=1,
                           mapping={"scheme": "subimage", "array": [128, 128]},
                           device={"r_lrs": 100e3, "r_hrs": 1e6, "adc_bits": 8},
                           parasitics={"r_source": 10, "r_wordline": 2.5,
                                       "r_bitline": 2.5, "r_neuron": 10})

Bad input raises ``xbarnet.Error`` (a ``ValueError``) with the library's message, naming the
argument, the value and the rule; a circuit that cannot be solved raises ``xbarnet.SolveError``.
The library computes without the GIL, so threads of Python can run other work meanwhile.

Modules: ``xbarnet.pytorch`` converts a trained ``torch.nn`` model into an ``xbarnet.Network``
and evaluates it on a data loader (float, ideal crossbars and simulated crossbars).
"""

from __future__ import annotations

from typing import Any, Dict, Optional, Sequence, Tuple

import numpy as np

from . import _xbarnet
from ._xbarnet import CrossbarNetwork, Error, Network, SolveError

__all__ = [
    "Error",
    "SolveError",
    "solve",
    "transfer_matrix",
    "spice",
    "map_layer",
    "simulate_layer",
    "Network",
    "CrossbarNetwork",
    "evaluate_float",
    "load_network_config",
    "load_dataset",
    "parameters",
    "build_info",
]

__version__ = "0.1.0"


def solve(
    conductance: np.ndarray,
    inputs: np.ndarray,
    *,
    r_source: float = 0.0,
    r_wordline: float = 0.0,
    r_bitline: float = 0.0,
    r_neuron: float = 0.0,
    backend: str = "cholmod",
    ordering: str = "nd",
    path: str = "auto",
    threads: int = 1,
    node_voltages: bool = False,
    memory_limit: float = 0.0,
) -> Dict[str, Any]:
    """Solve one unit crossbar exactly (sparse nodal analysis), as ``xbarnet solve`` does.

    Args:
        conductance: (R, C) cell conductances [S], cell (i, j) between word-line node w(i, j)
            and bit-line node b(i, j).
        inputs: (K, R) word-line drive voltages [V], one row per input vector, or (R,) for one.
        r_source: driver resistance of every row [ohm] (0 = ideal; inf = open).
        r_wordline: every word-line segment between neighbouring cells [ohm].
        r_bitline: every bit-line segment between neighbouring cells [ohm].
        r_neuron: sense (neuron) input resistance of every column to virtual ground [ohm].
        backend: "cholmod" (supernodal Cholesky) or "klu".
        ordering: "nd" (nested dissection of the grid) or "backend" (the backend's own).
        path: "auto", "direct" (every input through the factor) or "transfer" (T once, I = V T^T).
        threads: OpenMP threads over the input vectors.
        node_voltages: also return every node voltage and the IR-drop map (direct path).
        memory_limit: largest memory the solve may take [B]; 0 = half of the machine's.

    Returns:
        dict with ``column_current`` (K, C) [A], and with node_voltages ``word_voltage``,
        ``bit_voltage`` and ``ir_drop`` (K, R, C) [V] (the intended input minus the voltage
        across each cell); for one vector given as (R,), (C,) and (R, C) without the K axis; ``path`` taken,
        ``relative_residual``, ``condition_estimate``, ``error_bound`` and phase ``seconds``.
    """
    return _xbarnet.solve(
        conductance, inputs, r_source=r_source, r_wordline=r_wordline, r_bitline=r_bitline,
        r_neuron=r_neuron, backend=backend, ordering=ordering, path=path, threads=threads,
        node_voltages=node_voltages, memory_limit=memory_limit)


def transfer_matrix(
    conductance: np.ndarray,
    *,
    r_source: float = 0.0,
    r_wordline: float = 0.0,
    r_bitline: float = 0.0,
    r_neuron: float = 0.0,
    backend: str = "cholmod",
    threads: int = 1,
) -> np.ndarray:
    """The exact linear map of a unit crossbar: column currents I = T v, T of shape (C, R) [S].

    Computed by the Schur complement of the internal nodes (CHOLMOD) or R solves (KLU), and
    checked against a direct solve of one input. With T, any number of inputs costs one matrix
    product each. Parasitic resistances as in ``solve`` [ohm].
    """
    return _xbarnet.transfer_matrix(
        conductance, r_source=r_source, r_wordline=r_wordline, r_bitline=r_bitline,
        r_neuron=r_neuron, backend=backend, threads=threads)


def spice(
    conductance: np.ndarray,
    inputs: np.ndarray,
    *,
    r_source: float = 0.0,
    r_wordline: float = 0.0,
    r_bitline: float = 0.0,
    r_neuron: float = 0.0,
    title: str = "xbarnet unit crossbar",
    control_block: bool = True,
) -> str:
    """The SPICE netlist (ngspice) of exactly this tile and inputs, as ``xbarnet export-spice``.

    With ``control_block`` the deck runs one operating point per input vector and prints every
    column current with 17 significant digits; write it to a file and run ``ngspice -b``.
    """
    return _xbarnet.spice(
        conductance, inputs, r_source=r_source, r_wordline=r_wordline, r_bitline=r_bitline,
        r_neuron=r_neuron, title=title, control_block=control_block)


def map_layer(
    kind: str,
    weight_shape: Sequence[int],
    input_shape: Sequence[int],
    *,
    stride: int = 1,
    padding: int = 0,
    mapping: Optional[Dict[str, Any]] = None,
    device: Optional[Dict[str, Any]] = None,
) -> Dict[str, Any]:
    """How a layer maps onto unit crossbars, from its shapes alone (``xbarnet map``).

    Args:
        kind: "conv", "depthwise", "pointwise" or "dense".
        weight_shape: (Cout, Cin, k, k) (depthwise (C, 1, k, k)) or (out, in) for dense.
        input_shape: one input: (Cin, H, W), or (in,) for dense.
        mapping: [mapping] keys, e.g. {"scheme": "subimage", "array": [256, 256]}.
        device: [device] keys (its ``sign`` scheme sets the columns per output).

    Returns:
        dict: scheme, array, sign, tiles, row_groups, copies, subimage, arrays, cells_total,
        cells_used, utilisation, halo_rows, lowered_rows, lowered_outputs, note.
    """
    return _xbarnet.map_layer(kind, list(weight_shape), list(input_shape), stride=stride,
                              padding=padding, mapping=mapping, device=device)


def simulate_layer(
    kind: str,
    weights: np.ndarray,
    input: np.ndarray,
    *,
    bias: Optional[np.ndarray] = None,
    stride: int = 1,
    padding: int = 0,
    activation: str = "none",
    calibration: Optional[np.ndarray] = None,
    name: str = "layer",
    mapping: Optional[Dict[str, Any]] = None,
    device: Optional[Dict[str, Any]] = None,
    variation: Optional[Dict[str, Any]] = None,
    adc: Optional[Dict[str, Any]] = None,
    correction: Optional[Dict[str, Any]] = None,
    parasitics: Optional[Dict[str, Any]] = None,
    simulation: Optional[Dict[str, Any]] = None,
) -> Dict[str, Any]:
    """Simulate one layer on its crossbars, as ``xbarnet simulate`` does with a layer config.

    Args:
        kind: "conv", "depthwise", "pointwise" or "dense".
        weights: (Cout, Cin, k, k), depthwise (C, 1, k, k), dense (out, in); any real unit.
        input: a batch (N, Cin, H, W), or (N, in) for dense; mapped onto [-v_read, v_read] [V].
        bias: (Cout,) added digitally after the read-out.
        activation: "none", "relu" or "sign".
        calibration: a batch of inputs that fixes the input scale (DAC) and the ADC's range for
            adc range "calibrated"/"percentile"; without it the batch's own largest |x|.
        mapping, device, variation, adc, correction, parasitics, simulation: the config tables'
            keys (docs/parameters.md), e.g. parasitics={"r_wordline": 2.5} [ohm],
            correction={"scheme": "predistortion"}, simulation={"threads": 2}.

    Returns:
        dict with ``simulated`` and ``ideal`` (the layer's outputs: the same mapping on ideal
        arrays with an ideal ADC), both shaped like the layer's output, and ``report``: the
        JSON report of ``xbarnet simulate`` as a dict (errors, IR drop, ADC, corrections,...).
    """
    return _xbarnet.simulate_layer(
        kind, weights, input, bias=bias, stride=stride, padding=padding, activation=activation,
        calibration=calibration, name=name, mapping=mapping, device=device,
        variation=variation, adc=adc, correction=correction, parasitics=parasitics,
        simulation=simulation)


def evaluate_float(network: Network, images: np.ndarray, labels: np.ndarray,
                   batch: int = 64) -> Dict[str, Any]:
    """The float network (double precision, no arrays) on labelled images.

    Returns a dict: accuracy, images, correct, predicted (int64 per image), seconds, and the
    ADC counters (0 here).
    """
    return _xbarnet.evaluate_float(network, images, labels, batch)


def load_network_config(path: str) -> Dict[str, Any]:
    """Read a network config (TOML, as ``xbarnet network`` does; docs/networks.md).

    Returns a dict: ``network`` (an ``xbarnet.Network`` with its weights loaded), ``tables``
    (the config's simulation tables, each a dict usable as the keyword of the same name of
    ``Network.prepare``), ``data`` (the [data] table) and ``data_dir`` (resolved).
    """
    return _xbarnet.load_network_config(str(path))


def load_dataset(dir: str, split: str = "t10k", limit: int = 0,
                 network: Optional[Network] = None) -> Tuple[np.ndarray, np.ndarray]:
    """Read an IDX data set (Fashion-MNIST from Debian's dataset-fashion-mnist; gzip'd or not).

    Args:
        dir: folder of ``<split>-images-idx3-ubyte[.gz]`` and ``<split>-labels-idx1-ubyte[.gz]``.
        split: "t10k" (test) or "train".
        limit: the first ``limit`` images (0 = all).
        network: when given, the images' shape and every label are checked against it.

    Returns:
        (images (N, 1, H, W) float64 in [0, 1], labels (N,) int64).
    """
    return _xbarnet.load_dataset(str(dir), split, limit, network)


def parameters() -> Dict[str, Dict[str, Dict[str, Any]]]:
    """Every declared parameter, by table: unit, rule, default, description (and choices)."""
    return _xbarnet.parameters()


def build_info() -> str:
    """The compiler, libraries and BLAS this package was built with."""
    return _xbarnet.build_info()


Network.__doc__ = """A network of layers (the [[layer]] tables of a network config).

    Network(name, input_shape, classes, layers)

    input_shape: one image (C, H, W). layers: a list of dicts with the keys of a [[layer]]
    table: name, kind ("conv", "depthwise", "pointwise", "dense", "maxpool", "avgpool", "relu",
    "flatten", "add"), weights (ndarray), bias, stride, padding, activation, kernel (pooling),
    "from" (add: the earlier layer added) and mapping (this layer's [mapping] keys). Shapes are
    checked layer by layer; errors name the layer.

    Properties: name, input_shape, classes, layer_names, and layers: every step as a dict
    (name, kind, in_shape, out_shape; weighted steps also weights, bias, stride, padding,
    activation and mapping; pooling kernel and stride; add "from").

    Methods: float_forward(images) -> (N, classes) scores of the float network;
    prepare(calibration, *, batch=64, ideal=False, mapping=..., device=..., variation=...,
    adc=..., correction=..., parasitics=..., simulation=...) -> CrossbarNetwork: programs every
    layer onto its arrays and fixes each layer's input (DAC) and ADC ranges from the calibration
    images run through the simulated network. ideal=True: ideal crossbars (no parasitics).
    """

CrossbarNetwork.__doc__ = """A network programmed onto its crossbars (Network.prepare).

    forward(images, first_image=0) -> (N, classes) scores as the arrays compute them
    (first_image: the index of the batch's first image, which seeds its read noise);
    evaluate(images, labels) -> dict(accuracy, images, correct, predicted, seconds,
    adc_conversions, adc_clipped, inputs_clipped, adc_energy_per_image [J]);
    layer_report(name) -> the layer's setup report as a dict;
    arrays, tiles (unit crossbars, tiles), setup_seconds, batch.
    """
