# Type hints of the xbarnet package (the native module's classes and the documented functions).
# SI units: S, V, A, ohm, J, s, B.
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np
import numpy.typing as npt

__version__: str

class Error(ValueError):
    """Bad input: the message names the argument (or file, table, key), the value and the rule."""

class SolveError(RuntimeError):
    """A circuit that cannot be solved (a floating node, named; an inaccurate solve)."""

Tables = Optional[Dict[str, Any]]
Array = npt.ArrayLike

def solve(
    conductance: Array,
    inputs: Array,
    *,
    r_source: float = ...,
    r_wordline: float = ...,
    r_bitline: float = ...,
    r_neuron: float = ...,
    backend: str = ...,
    ordering: str = ...,
    path: str = ...,
    threads: int = ...,
    node_voltages: bool = ...,
    memory_limit: float = ...,
) -> Dict[str, Any]: ...
def transfer_matrix(
    conductance: Array,
    *,
    r_source: float = ...,
    r_wordline: float = ...,
    r_bitline: float = ...,
    r_neuron: float = ...,
    backend: str = ...,
    threads: int = ...,
) -> npt.NDArray[np.float64]: ...
def spice(
    conductance: Array,
    inputs: Array,
    *,
    r_source: float = ...,
    r_wordline: float = ...,
    r_bitline: float = ...,
    r_neuron: float = ...,
    title: str = ...,
    control_block: bool = ...,
) -> str: ...
def map_layer(
    kind: str,
    weight_shape: Sequence[int],
    input_shape: Sequence[int],
    *,
    stride: int = ...,
    padding: int = ...,
    mapping: Tables = ...,
    device: Tables = ...,
) -> Dict[str, Any]: ...
def simulate_layer(
    kind: str,
    weights: Array,
    input: Array,
    *,
    bias: Optional[Array] = ...,
    stride: int = ...,
    padding: int = ...,
    activation: str = ...,
    calibration: Optional[Array] = ...,
    name: str = ...,
    mapping: Tables = ...,
    device: Tables = ...,
    variation: Tables = ...,
    adc: Tables = ...,
    correction: Tables = ...,
    parasitics: Tables = ...,
    simulation: Tables = ...,
) -> Dict[str, Any]: ...

class CrossbarNetwork:
    """A network programmed onto its crossbars (Network.prepare)."""

    def forward(self, images: Array, first_image: int = ...) -> npt.NDArray[np.float64]: ...
    def evaluate(self, images: Array, labels: Array) -> Dict[str, Any]: ...
    def layer_report(self, name: str) -> Dict[str, Any]: ...
    @property
    def arrays(self) -> int: ...
    @property
    def tiles(self) -> int: ...
    @property
    def setup_seconds(self) -> float: ...
    @property
    def batch(self) -> int: ...

class Network:
    """A network of layers (the [[layer]] tables of a network config)."""

    def __init__(
        self,
        name: str,
        input_shape: Sequence[int],
        classes: int,
        layers: List[Dict[str, Any]],
    ) -> None: ...
    @property
    def name(self) -> str: ...
    @property
    def input_shape(self) -> List[int]: ...
    @property
    def classes(self) -> int: ...
    @property
    def layer_names(self) -> List[str]: ...
    @property
    def layers(self) -> List[Dict[str, Any]]: ...
    def float_forward(self, images: Array) -> npt.NDArray[np.float64]: ...
    def prepare(
        self,
        calibration: Array,
        *,
        batch: int = ...,
        ideal: bool = ...,
        mapping: Tables = ...,
        device: Tables = ...,
        variation: Tables = ...,
        adc: Tables = ...,
        correction: Tables = ...,
        parasitics: Tables = ...,
        simulation: Tables = ...,
    ) -> CrossbarNetwork: ...

def evaluate_float(
    network: Network, images: Array, labels: Array, batch: int = ...
) -> Dict[str, Any]: ...
def load_network_config(path: str) -> Dict[str, Any]: ...
def load_dataset(
    dir: str, split: str = ..., limit: int = ..., network: Optional[Network] = ...
) -> Tuple[npt.NDArray[np.float64], npt.NDArray[np.int64]]: ...
def parameters() -> Dict[str, Dict[str, Dict[str, Any]]]: ...
def build_info() -> str: ...
