"""PyTorch interop: convert a trained ``torch.nn`` model into an :class:`xbarnet.Network`.

    import torch.nn as nn
    import xbarnet
    from xbarnet.pytorch import Residual, from_torch, evaluate

    model = nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
        Residual(nn.Sequential(nn.Conv2d(16, 16, 3, padding=1, groups=16), nn.ReLU(),
                               nn.Conv2d(16, 16, 1))),
        nn.ReLU(), nn.AvgPool2d(14), nn.Flatten(), nn.Linear(16, 10))
    net = from_torch(model, (1, 28, 28))          # an xbarnet.Network
    scores = net.float_forward(images)            # (N, 10), float64, torch's logits
    result = evaluate(model, test_loader, arrays=128,
                      parasitics={"r_wordline": 2.5, "r_bitline": 2.5})

What converts: ``nn.Sequential`` (nested; read in order), :class:`Residual` (``x + body(x)``,
a residual ``add``) and these layers:

=====================================  =============================================================
``nn.Conv2d``                          ``groups=1``: ``conv`` (``pointwise`` when 1x1, stride 1,
                                       padding 0); ``groups == in_channels == out_channels``:
                                       ``depthwise``. Square kernel, equal strides and paddings,
                                       dilation 1, zero padding
``nn.BatchNorm2d``                     directly after a ``Conv2d``: folded into its weights and bias
                                       with the running (eval) statistics
``nn.Linear``                          ``dense`` (after a flat input: put an ``nn.Flatten`` first)
``nn.ReLU``                            the ``relu`` activation of the weighted layer just before it,
                                       else a ``relu`` step
``nn.MaxPool2d``, ``nn.AvgPool2d``     ``maxpool`` / ``avgpool``: square window, no padding,
                                       ``ceil_mode=False``
``nn.AdaptiveAvgPool2d``,              when the output side divides the (square) input side:
``nn.AdaptiveMaxPool2d``               the equal fixed pooling
``nn.Flatten``                         ``flatten`` (``start_dim=1, end_dim=-1``)
``nn.Dropout*``, ``nn.Identity``       skipped (evaluation mode)
=====================================  =============================================================

Anything else (a module with its own ``forward``, another activation, a grouped convolution, a
batch norm that does not follow a convolution, an in-place ReLU that would overwrite a residual's
input) is refused with an :class:`xbarnet.Error` (a
``ValueError``) that names the module by its path in ``model.named_modules()``. The conversion
always uses evaluation semantics (batch norm's running statistics, no dropout), whatever mode the
model is in; it does not change the model.

Units: images and activations are dimensionless numbers (as the model sees them); conductances,
voltages and resistances in the tables passed on to :meth:`xbarnet.Network.prepare` are in S, V
and ohm.
"""
from __future__ import annotations

import copy
import importlib
import re
from typing import TYPE_CHECKING, Any, Dict, Iterable, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from torch import nn

if TYPE_CHECKING:  # the package imports nothing from here; no cycle at run time
    from . import Network

__all__ = ["Residual", "from_torch", "evaluate", "TABLES"]

#: The simulation tables :func:`evaluate` passes on to :meth:`xbarnet.Network.prepare`.
TABLES = ("mapping", "device", "variation", "adc", "correction", "parasitics", "simulation")

_NAME_LIMIT = 100  # the longest plain name xbarnet accepts


def _package():
    """The xbarnet package (imported when first needed: it imports this module's parent)."""
    return importlib.import_module(__package__ or "xbarnet")


def _error(message: str) -> Exception:
    """xbarnet.Error (a ValueError) with the message; ValueError if the package has none."""
    cls = getattr(_package(), "Error", ValueError)
    return cls(message)


class Residual(nn.Module):
    """A residual connection: ``forward(x) = x + body(x)``.

    ``body`` must give the shape it takes. :func:`from_torch` converts it to the body's layers
    followed by an ``add`` layer whose ``from`` is the layer before the body.
    """

    def __init__(self, body: nn.Module) -> None:
        super().__init__()
        self.body = body

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


# ------------------------------------------------------------------------------------------------
# The conversion


def _pair(value: Any, what: str, where: str) -> int:
    """One int from an int or an (a, a) pair; refused when the two differ."""
    if isinstance(value, (tuple, list)):
        if len(value) == 0 or any(v != value[0] for v in value):
            raise _error(f"{where}: {what} = {tuple(value)}: only square (equal) {what} "
                         "values are supported")
        value = value[0]
    return int(value)


def _shape_text(shape: Sequence[int]) -> str:
    return "(" + ", ".join(str(d) for d in shape) + ")"


def _plain(text: str) -> str:
    """A plain xbarnet name: letters, digits, '_' and '-', starting with a letter or digit."""
    name = re.sub(r"[^A-Za-z0-9_-]", "_", text.replace(".", "_"))
    name = name.lstrip("_-")
    return name[:_NAME_LIMIT]


def _overrides(module: nn.Module, base: type) -> bool:
    """True when module's class replaces base's forward (a custom computation)."""
    return type(module).forward is not base.forward


class _Converter:
    """Walks a model in execution order and writes xbarnet layer dicts."""

    def __init__(self, input_shape: Sequence[int]) -> None:
        self.shape: Tuple[int, ...] = tuple(int(d) for d in input_shape)
        self.layers: List[Dict[str, Any]] = []
        self.names: set = set()
        # The last weighted layer, while nothing but skipped modules follows it in the same
        # scope: a BatchNorm2d folds into it, a ReLU becomes its activation.
        self.open_weighted: Optional[Dict[str, Any]] = None
        # True while the running tensor is still a Residual's input (x in x + body(x)), which an
        # in-place ReLU would change under the add
        self.aliased = False

    # -- names and shapes ------------------------------------------------------------------------

    def unique_name(self, path: str, kind: str) -> str:
        base = _plain(path) or kind
        name, i = base, 2
        while name in self.names:
            suffix = f"_{i}"
            name = base[:_NAME_LIMIT - len(suffix)] + suffix
            i += 1
        self.names.add(name)
        return name

    def add_layer(self, path: str, layer: Dict[str, Any]) -> Dict[str, Any]:
        layer = {"name": self.unique_name(path, layer["kind"]), **layer}
        self.layers.append(layer)
        return layer

    def need_images(self, where: str, module: nn.Module) -> Tuple[int, int, int]:
        if len(self.shape) != 3:
            raise _error(f"{where}: {type(module).__name__} needs images (C, H, W), but the "
                         f"previous layer gives {_shape_text(self.shape)}")
        return self.shape  # type: ignore[return-value]

    # -- the walk --------------------------------------------------------------------------------

    def walk(self, module: nn.Module, path: str) -> None:
        where = f"module '{path}' ({type(module).__name__})" if path else \
            f"the model ({type(module).__name__})"
        if isinstance(module, Residual):
            if _overrides(module, Residual):
                raise _error(f"{where} is not supported: a Residual subclass with its own "
                             "forward() cannot be read")
            self.residual(module, path, where)
        elif isinstance(module, nn.Sequential):
            if _overrides(module, nn.Sequential):
                raise _error(f"{where} is not supported: an nn.Sequential subclass with its own "
                             "forward() cannot be read")
            # as Sequential.forward runs them: every entry, a module used twice included
            # (named_children() would list it once)
            for child_name, child in module._modules.items():
                if child is not None:
                    self.walk(child, f"{path}.{child_name}" if path else child_name)
        else:
            self.leaf(module, path, where)

    def residual(self, module: Residual, path: str, where: str) -> None:
        if not self.layers:
            raise _error(f"{where} is not supported at the very start of the model: its add "
                         "needs the output of an earlier layer (the input is not a layer); put "
                         "a layer before it")
        source = self.layers[-1]["name"]
        shape = self.shape
        self.open_weighted = None  # nothing inside the body folds into a layer before it
        self.aliased = True
        self.walk(module.body, f"{path}.body" if path else "body")
        if self.shape != shape:
            raise _error(f"{where}: its body turns {_shape_text(shape)} into "
                         f"{_shape_text(self.shape)}: a residual add needs equal shapes")
        self.add_layer(path or "add", {"kind": "add", "from": source})
        self.open_weighted = None
        self.aliased = False

    def leaf(self, module: nn.Module, path: str, where: str) -> None:
        kind = type(module)
        unsupported = f"{where} is not supported"
        for base in (nn.Conv2d, nn.Linear, nn.BatchNorm2d, nn.ReLU, nn.MaxPool2d, nn.AvgPool2d,
                     nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d, nn.Flatten, nn.Identity):
            if isinstance(module, base) and _overrides(module, base):
                raise _error(f"{unsupported}: a {base.__name__} subclass with its own forward() "
                             "cannot be read")
        if isinstance(module, nn.modules.dropout._DropoutNd) or kind is nn.Identity:
            return  # identity in evaluation mode; keeps open_weighted
        if isinstance(module, nn.ReLU) and module.inplace and self.aliased:
            raise _error(f"{unsupported} here: inplace=True at the start of a Residual body "
                         "overwrites the residual's input x before x + body(x) adds it; use "
                         "nn.ReLU() (inplace=False)")
        if not isinstance(module, nn.Flatten):  # (flatten gives a view of the same values)
            self.aliased = False
        if isinstance(module, nn.Conv2d):
            self.conv(module, path, where)
        elif isinstance(module, nn.Linear):
            self.linear(module, path, where)
        elif isinstance(module, nn.BatchNorm2d):
            self.batch_norm(module, where)
        elif isinstance(module, nn.ReLU):
            if self.open_weighted is not None and self.open_weighted["activation"] == "none":
                self.open_weighted["activation"] = "relu"
            else:
                self.add_layer(path, {"kind": "relu"})
            self.open_weighted = None
        elif isinstance(module, (nn.MaxPool2d, nn.AvgPool2d)):
            self.pool(module, path, where)
        elif isinstance(module, (nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d)):
            self.adaptive_pool(module, path, where)
        elif isinstance(module, nn.Flatten):
            if module.start_dim != 1 or module.end_dim != -1:
                raise _error(f"{unsupported}: start_dim = {module.start_dim}, end_dim = "
                             f"{module.end_dim}: only nn.Flatten(1, -1) (one flat vector per "
                             "image) is supported")
            if len(self.shape) != 1:
                self.add_layer(path, {"kind": "flatten"})
                self.shape = (int(np.prod(self.shape)),)
            self.open_weighted = None
        elif isinstance(module, (nn.BatchNorm1d, nn.BatchNorm3d)):
            raise _error(f"{unsupported}: only a BatchNorm2d directly after a Conv2d is folded "
                         "into its weights; a batch norm after a Linear or elsewhere has no "
                         "crossbar layer")
        else:
            raise _error(
                f"{unsupported}: the supported modules are nn.Sequential, "
                "xbarnet.pytorch.Residual, Conv2d, Linear, BatchNorm2d (after a Conv2d), ReLU, "
                "MaxPool2d, AvgPool2d, AdaptiveAvgPool2d/AdaptiveMaxPool2d (whole windows), "
                "Flatten, Dropout and Identity; a module with its own forward() cannot be read")

    def conv(self, m: nn.Conv2d, path: str, where: str) -> None:
        unsupported = f"{where} is not supported"
        c, h, w = self.need_images(where, m)
        k = _pair(m.kernel_size, "kernel_size", where)
        stride = _pair(m.stride, "stride", where)
        dilation = _pair(m.dilation, "dilation", where)
        if dilation != 1:
            raise _error(f"{unsupported}: dilation = {m.dilation}: only dilation 1 is supported")
        if isinstance(m.padding, str):
            if m.padding == "valid":
                padding = 0
            elif m.padding == "same" and k % 2 == 1:
                padding = (k - 1) // 2
            else:
                raise _error(f"{unsupported}: padding = '{m.padding}' with kernel {k}: the "
                             "padding must be symmetric")
        else:
            padding = _pair(m.padding, "padding", where)
        if padding != 0 and m.padding_mode != "zeros":
            raise _error(f"{unsupported}: padding_mode = '{m.padding_mode}': only zero padding "
                         "('zeros') is supported")
        if m.in_channels != c:
            raise _error(f"{where}: it takes {m.in_channels} input channels, but the previous "
                         f"layer gives {_shape_text(self.shape)}")
        if m.groups == 1:
            kind = "pointwise" if (k == 1 and stride == 1 and padding == 0) else "conv"
        elif m.groups == m.in_channels == m.out_channels:
            kind = "depthwise"
        else:
            raise _error(f"{unsupported}: groups = {m.groups} with {m.in_channels} input and "
                         f"{m.out_channels} output channels: only groups = 1 (conv) or groups = "
                         "in_channels = out_channels (depthwise, one filter per channel) map "
                         "onto crossbars")
        ho = (h + 2 * padding - k) // stride + 1
        wo = (w + 2 * padding - k) // stride + 1
        if h + 2 * padding < k or w + 2 * padding < k:
            raise _error(f"{where}: kernel {k} with padding {padding} does not fit the input "
                         f"{_shape_text(self.shape)}")
        weights = m.weight.detach().cpu().double().numpy().copy()
        bias = None if m.bias is None else m.bias.detach().cpu().double().numpy().copy()
        layer: Dict[str, Any] = {"kind": kind, "weights": weights, "bias": bias,
                                 "stride": stride, "activation": "none"}
        if kind != "pointwise":
            layer["padding"] = padding
        self.open_weighted = self.add_layer(path, layer)
        self.shape = (int(m.out_channels), ho, wo)

    def linear(self, m: nn.Linear, path: str, where: str) -> None:
        if len(self.shape) != 1:
            raise _error(f"{where}: a Linear needs a flat input (K), but the previous layer gives "
                         f"{_shape_text(self.shape)} (torch would apply it to the last axis "
                         "only): put an nn.Flatten before it")
        if m.in_features != self.shape[0]:
            raise _error(f"{where}: it takes {m.in_features} inputs, but the previous layer "
                         f"gives {_shape_text(self.shape)}")
        weights = m.weight.detach().cpu().double().numpy().copy()
        bias = None if m.bias is None else m.bias.detach().cpu().double().numpy().copy()
        self.open_weighted = self.add_layer(path, {
            "kind": "dense", "weights": weights, "bias": bias, "activation": "none"})
        self.shape = (int(m.out_features),)

    def batch_norm(self, m: nn.BatchNorm2d, where: str) -> None:
        target = self.open_weighted
        if target is None or target["kind"] == "dense" or target["activation"] != "none":
            raise _error(f"{where} is not supported here: only a BatchNorm2d directly after a "
                         "Conv2d (before its ReLU) is folded into its weights and bias")
        if m.running_mean is None or m.running_var is None:
            raise _error(f"{where} is not supported: it keeps no running statistics "
                         "(track_running_stats=False), so evaluation uses each batch's own "
                         "statistics, which no fixed weights can represent")
        if m.num_features != self.shape[0]:
            raise _error(f"{where}: it has {m.num_features} features, but the previous layer "
                         f"gives {_shape_text(self.shape)}")
        with torch.no_grad():
            var = m.running_var.detach().cpu().double().numpy()
            mean = m.running_mean.detach().cpu().double().numpy()
            gamma = np.ones_like(var) if m.weight is None else \
                m.weight.detach().cpu().double().numpy()
            beta = np.zeros_like(var) if m.bias is None else \
                m.bias.detach().cpu().double().numpy()
        scale = gamma / np.sqrt(var + float(m.eps))
        weights = target["weights"]
        bias = target["bias"] if target["bias"] is not None else np.zeros(weights.shape[0])
        target["weights"] = weights * scale.reshape(-1, *([1] * (weights.ndim - 1)))
        target["bias"] = (bias - mean) * scale + beta
        # the conv stays open: a ReLU may follow

    def pool(self, m: Union[nn.MaxPool2d, nn.AvgPool2d], path: str, where: str) -> None:
        unsupported = f"{where} is not supported"
        c, h, w = self.need_images(where, m)
        k = _pair(m.kernel_size, "kernel_size", where)
        stride = k if m.stride is None or m.stride == () else _pair(m.stride, "stride", where)
        padding = _pair(m.padding, "padding", where)
        if padding != 0:
            raise _error(f"{unsupported}: padding = {m.padding}: pooling has no padding")
        if m.ceil_mode:
            raise _error(f"{unsupported}: ceil_mode = True: only ceil_mode = False is supported")
        if isinstance(m, nn.MaxPool2d):
            if _pair(m.dilation, "dilation", where) != 1:
                raise _error(f"{unsupported}: dilation = {m.dilation}: only dilation 1")
            if m.return_indices:
                raise _error(f"{unsupported}: return_indices = True gives a tuple, not a tensor")
        elif m.divisor_override is not None:
            raise _error(f"{unsupported}: divisor_override = {m.divisor_override}: the average "
                         "divides by the window's size")
        self.add_pool(path, where, "maxpool" if isinstance(m, nn.MaxPool2d) else "avgpool",
                      k, stride)

    def adaptive_pool(self, m: Union[nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d], path: str,
                      where: str) -> None:
        c, h, w = self.need_images(where, m)
        size = m.output_size
        sizes = list(size) if isinstance(size, (tuple, list)) else [size, size]
        sizes = [h if s is None else int(s) for s in sizes[:1]] + \
                [w if s is None else int(s) for s in sizes[1:2]]
        if isinstance(m, nn.AdaptiveMaxPool2d) and m.return_indices:
            raise _error(f"{where} is not supported: return_indices = True gives a tuple")
        if (sizes[0] < 1 or sizes[1] < 1 or h % sizes[0] or w % sizes[1]
                or h // sizes[0] != w // sizes[1]):
            raise _error(f"{where} is not supported: output_size = {m.output_size} on "
                         f"{_shape_text(self.shape)}: only when it divides the input into equal "
                         "square windows (a fixed pooling)")
        k = h // sizes[0]
        self.add_pool(path, where,
                      "avgpool" if isinstance(m, nn.AdaptiveAvgPool2d) else "maxpool", k, k)

    def add_pool(self, path: str, where: str, kind: str, k: int, stride: int) -> None:
        c, h, w = self.shape
        if k < 1 or stride < 1 or k > h or k > w:
            raise _error(f"{where}: window {k} (stride {stride}) does not fit the input "
                         f"{_shape_text(self.shape)}")
        self.add_layer(path, {"kind": kind, "kernel": k, "stride": stride})
        self.shape = (c, (h - k) // stride + 1, (w - k) // stride + 1)
        self.open_weighted = None


def from_torch(model: nn.Module, input_shape: Sequence[int], classes: Optional[int] = None,
               name: Optional[str] = None) -> "Network":
    """The :class:`xbarnet.Network` of a PyTorch model, in evaluation semantics.

    Args:
        model: an ``nn.Sequential`` (nested ones and :class:`Residual` blocks allowed) of the
            supported layers (module docstring), or one such layer. Its parameters may live on any
            device and in any float dtype; they are copied as float64.
        input_shape: one image's ``(channels, height, width)``; the model's input, in whatever
            (dimensionless) scale the model was trained on.
        classes: the class scores the model gives (default: the last layer's output size).
        name: the network's name (default: the model's class name), made a plain name.

    Returns:
        an ``xbarnet.Network`` whose layers are named after the module paths (dots become '_').
        Batch norm is folded into the convolution before it (running statistics), a ReLU after a
        weighted layer becomes its activation, Dropout and Identity are dropped.

    Raises:
        xbarnet.Error: a module that cannot be converted, named by its path, with the rule.
    """
    xb = _package()
    import operator
    try:
        shape = tuple(operator.index(d) for d in input_shape)
    except TypeError:
        raise _error(f"input_shape = {tuple(input_shape)}: one image is (channels, height, "
                     "width), integers") from None
    if len(shape) != 3 or any(d < 1 for d in shape):
        raise _error(f"input_shape = {tuple(input_shape)}: one image is (channels, height, "
                     "width), each at least 1")
    conv = _Converter(shape)
    conv.walk(model, "")
    if not conv.layers:
        raise _error(f"the model ({type(model).__name__}) has no layer to convert")
    if len(conv.shape) != 1:
        raise _error(f"the model ends in {_shape_text(conv.shape)} per image: a classifier ends "
                     "in flat class scores (add an nn.Flatten)")
    if classes is None:
        classes = conv.shape[0]
    elif int(classes) != conv.shape[0]:
        raise _error(f"classes = {classes}, but the model's last layer gives "
                     f"{_shape_text(conv.shape)} scores")
    net_name = _plain(name if name is not None else type(model).__name__) or "network"
    return xb.Network(net_name, list(shape), int(classes), conv.layers)


# ------------------------------------------------------------------------------------------------
# Evaluation

ArrayLike = Union[np.ndarray, torch.Tensor, Sequence[Any]]


def _images(x: Any, what: str) -> np.ndarray:
    """A contiguous float64 (N, C, H, W) array of images from a tensor or array."""
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().double().numpy()
    x = np.ascontiguousarray(np.asarray(x, dtype=np.float64))
    if x.ndim != 4:
        raise _error(f"{what}: images of shape {_shape_text(x.shape)}: expected (N, C, H, W)")
    return x


def _labels(y: Any) -> np.ndarray:
    if isinstance(y, torch.Tensor):
        y = y.detach().cpu().numpy()
    return np.asarray(y).astype(np.int64).reshape(-1)


def _collect(loader: Iterable[Any]) -> Tuple[np.ndarray, np.ndarray]:
    """All (images, labels) of a loader: batches (x, y), or single samples (image, label)."""
    xs: List[np.ndarray] = []
    ys: List[np.ndarray] = []
    for i, item in enumerate(loader):
        if not isinstance(item, (tuple, list)) or len(item) < 2:
            raise TypeError(f"item {i} of the loader is a {type(item).__name__}: expected "
                            "(images, labels) batches, as a torch DataLoader gives")
        x, y = item[0], item[1]
        if isinstance(x, torch.Tensor):
            x = x.detach().cpu().double().numpy()
        x = np.asarray(x, dtype=np.float64)
        if x.ndim == 3:  # one sample of a Dataset
            x = x[None]
        xs.append(_images(x, f"item {i} of the loader"))
        ys.append(_labels(y))
        if len(ys[-1]) != len(xs[-1]):
            raise _error(f"item {i} of the loader has {len(xs[-1])} images and {len(ys[-1])} "
                         "labels")
    if not xs:
        raise _error("the loader gives no images")
    return np.concatenate(xs), np.concatenate(ys)


def _torch_predictions(model: nn.Module, images: np.ndarray, batch: int) -> np.ndarray:
    """The model's own predictions in float64 on the CPU (a copy in eval mode; model untouched)."""
    m = copy.deepcopy(model).to(device="cpu", dtype=torch.float64).eval()
    out: List[np.ndarray] = []
    with torch.no_grad():
        for i in range(0, len(images), batch):
            scores = m(torch.from_numpy(images[i:i + batch]))
            out.append(scores.reshape(scores.shape[0], -1).argmax(1).numpy())
    return np.concatenate(out).astype(np.int64)


def evaluate(model: nn.Module, loader: Iterable[Any], *,
             calibration: Optional[ArrayLike] = None,
             input_shape: Optional[Sequence[int]] = None, batch: int = 64,
             arrays: Optional[Union[int, Sequence[int]]] = None,
             **tables: Optional[Dict[str, Any]]) -> Dict[str, Any]:
    """Recognition rates of a PyTorch classifier: in torch, as the float xbarnet network, on
    ideal crossbars and on simulated crossbars.

    Args:
        model: a model :func:`from_torch` converts (it is not modified: torch runs a float64 copy
            in eval mode).
        loader: the test data: an iterable of ``(images, labels)`` batches (a ``DataLoader``) or
            of single ``(image, label)`` samples; images ``(N, C, H, W)`` in the model's own scale,
            labels class indices. All of it is read into memory.
        calibration: ``(N, C, H, W)`` images of the calibration pass, which fix every layer's
            input (DAC) scale and ADC range (default: the first 100 images of ``loader``; better
            take training images).
        input_shape: one image's ``(C, H, W)`` (default: the loader's).
        batch: images per batch, in torch and through the arrays (results do not depend on it).
        arrays: shortcut for ``mapping={"array": ...}``: one unit crossbar's ``(rows, columns)``
            in cells, or an int for a square array.
        **tables: the simulation tables of :meth:`xbarnet.Network.prepare`, each a dict of the
            config keys (``docs/parameters.md``): ``mapping``, ``device`` (``r_lrs``, ``r_hrs``
            in ohm, ``v_read`` in V, ...), ``variation``, ``adc`` (``full_scale`` in A, energies
            in J), ``correction``, ``parasitics`` (``r_source``, ``r_wordline``, ``r_bitline``,
            ``r_neuron`` in ohm) and ``simulation``. The ideal crossbars take them too, without
            parasitics and correction.

    Returns:
        ``{"torch", "float", "ideal", "simulated"}``: accuracies (fractions in [0, 1]) of the torch
        model, the float xbarnet network, ideal crossbars and simulated crossbars;
        ``"images"``: images evaluated; ``"arrays"``: unit crossbars of the simulated network;
        ``"agreement"``: the share of images whose simulated prediction is torch's.
    """
    unknown = sorted(set(tables) - set(TABLES))
    if unknown:
        raise TypeError(f"evaluate() got unknown keyword argument(s) {', '.join(unknown)}: the "
                        f"tables are {', '.join(TABLES)}")
    if int(batch) < 1:
        raise _error(f"batch = {batch}: must be at least 1")
    batch = int(batch)
    xb = _package()
    images, labels = _collect(loader)
    shape = tuple(images.shape[1:]) if input_shape is None else tuple(input_shape)
    calib = images[:100] if calibration is None else _images(calibration, "calibration")
    prepare_tables = {k: dict(v) for k, v in tables.items() if v is not None}
    if arrays is not None:
        size = [int(arrays), int(arrays)] if isinstance(arrays, (int, np.integer)) \
            else [int(a) for a in arrays]
        prepare_tables.setdefault("mapping", {})["array"] = size

    net = from_torch(model, shape)
    torch_pred = _torch_predictions(model, images, batch)
    float_result = xb.evaluate_float(net, images, labels, batch=batch)
    ideal_result = net.prepare(calib, batch=batch, ideal=True, **prepare_tables) \
        .evaluate(images, labels)
    crossbars = net.prepare(calib, batch=batch, **prepare_tables)
    simulated = crossbars.evaluate(images, labels)
    predicted = np.asarray(simulated["predicted"], dtype=np.int64)
    n = len(labels)
    return {
        "torch": float(np.mean(torch_pred == labels)),
        "float": float(float_result["accuracy"]),
        "ideal": float(ideal_result["accuracy"]),
        "simulated": float(simulated["accuracy"]),
        "images": int(n),
        "arrays": int(crossbars.arrays),
        "agreement": float(np.mean(predicted == torch_pred)),
    }
