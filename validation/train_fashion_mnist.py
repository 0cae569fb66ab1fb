#!/usr/bin/env python3
"""Train the small Fashion-MNIST CNNs that xbarnet maps onto crossbars, and export them.

    /usr/bin/python3 validation/train_fashion_mnist.py --seed 1 --out examples/fashion-mnist

Needs torch and numpy (Debian: python3-torch, python3-numpy) and the Fashion-MNIST IDX files
(Debian: dataset-fashion-mnist, /usr/share/datasets/fashion-mnist). No torchvision, no network.

Trains four variants (--variants selects some of them), each from the same seed:

  cnn-3d       conv 1->16, conv 16->32, conv 32->64 (3x3, BN, ReLU), maxpools, global avgpool, dense
  cnn-2d1d     conv 1->16, then depthwise 3x3 + pointwise 1x1 blocks instead of conv2 and conv3
  cnn-mixed    conv1, conv2, a residual depthwise+pointwise block (kind "add"), depthwise+pointwise
  cnn-ternary  cnn-3d without BN, every weighted layer ternary {-a, 0, +a} (TWN, STE); He init
               and Adam lr 1e-2 (the BN variants use 5e-3), which it needs without batch norm

Adam, cosine annealing per step, batch 128, 6 epochs, no augmentation; deterministic for a seed
(torch.use_deterministic_algorithms, 2 threads): two runs write byte-identical files.

It writes, for each variant, into <out>/<variant>/: <layer>.weight.npy and <layer>.bias.npy
(float64, batch norm folded in), network.toml (the xbarnet network format), training.json and
reference_logits.npy: the float64 logits of the exported network on the first 200 test images,
computed by reference_forward(), which reads network.toml and the .npy files back and shares no
code with the training model. It also writes <out>/subset/: the first 200 test images and the
first 100 training images with their labels, in IDX format, gzip'd reproducibly (mtime 0).
"""
import argparse
import copy
import gzip
import io
import json
import os
import sys
import time
import tomllib

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

DATA_DIR = "/usr/share/datasets/fashion-mnist"
IMAGES_MAGIC = 0x00000803  # unsigned byte, 3 dimensions
LABELS_MAGIC = 0x00000801  # unsigned byte, 1 dimension
N_REFERENCE = 200  # test images in the subset and in reference_logits.npy
N_CALIBRATION = 100  # training images in the subset
VARIANTS = ("cnn-3d", "cnn-2d1d", "cnn-mixed", "cnn-ternary")
BN_EPS = 1e-5


# ----------------------------------------------------------------------------------------------
# IDX files


def read_idx(path, magic, count=None):
    """The array of an IDX file (optionally gzip'd) after checking its magic number and size."""
    with open(path, "rb") as f:
        raw = f.read()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    if len(raw) < 4:
        raise ValueError(f"{path}: too short for an IDX file")
    got = int.from_bytes(raw[:4], "big")
    if got != magic:
        raise ValueError(f"{path}: magic 0x{got:08x}, expected 0x{magic:08x}")
    ndim = magic & 0xFF
    header = 4 + 4 * ndim
    dims = tuple(int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim))
    if len(raw) != header + int(np.prod(dims)):
        raise ValueError(f"{path}: {len(raw)} bytes, expected {header + int(np.prod(dims))} "
                         f"for dimensions {dims}")
    if ndim == 3 and dims[1:] != (28, 28):
        raise ValueError(f"{path}: images of {dims[1]}x{dims[2]}, expected 28x28")
    if count is not None and dims[0] != count:
        raise ValueError(f"{path}: {dims[0]} items, expected {count}")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims).copy()


def idx_bytes(array, magic):
    """The uncompressed IDX encoding of a uint8 array: magic, big-endian dimensions, data."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    if array.ndim != (magic & 0xFF):
        raise ValueError("array rank does not match the IDX magic number")
    header = magic.to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in array.shape)
    return header + array.tobytes()


def write_idx_gz(path, array, magic):
    """Write a gzip'd IDX file whose bytes depend only on the data (no name, mtime 0)."""
    buf = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buf, compresslevel=9, mtime=0) as gz:
        gz.write(idx_bytes(array, magic))
    with open(path, "wb") as f:
        f.write(buf.getvalue())


def load_fashion_mnist(data_dir):
    def path(name):
        return os.path.join(data_dir, name)
    train_x = read_idx(path("train-images-idx3-ubyte.gz"), IMAGES_MAGIC, 60000)
    train_y = read_idx(path("train-labels-idx1-ubyte.gz"), LABELS_MAGIC, 60000)
    test_x = read_idx(path("t10k-images-idx3-ubyte.gz"), IMAGES_MAGIC, 10000)
    test_y = read_idx(path("t10k-labels-idx1-ubyte.gz"), LABELS_MAGIC, 10000)
    for y in (train_y, test_y):
        if y.max() > 9:
            raise ValueError("labels outside 0..9")
    return train_x, train_y, test_x, test_y


def write_subset(out_dir, train_x, train_y, test_x, test_y):
    """The small committed subset: first 200 test and first 100 training images and labels."""
    sub = os.path.join(out_dir, "subset")
    os.makedirs(sub, exist_ok=True)
    files = [("t10k-images-idx3-ubyte.gz", test_x[:N_REFERENCE], IMAGES_MAGIC),
             ("t10k-labels-idx1-ubyte.gz", test_y[:N_REFERENCE], LABELS_MAGIC),
             ("train-images-idx3-ubyte.gz", train_x[:N_CALIBRATION], IMAGES_MAGIC),
             ("train-labels-idx1-ubyte.gz", train_y[:N_CALIBRATION], LABELS_MAGIC)]
    for name, array, magic in files:
        p = os.path.join(sub, name)
        write_idx_gz(p, array, magic)
        if not np.array_equal(read_idx(p, magic, len(array)), array):
            raise RuntimeError(f"{p}: does not read back")
    return sub


# ----------------------------------------------------------------------------------------------
# The networks, described as layer lists; TrainNet builds the torch model from such a list.
# Tuples: (kind, name, ...) with
#   conv name cin cout k pad bn act | depthwise name c k pad bn act | pointwise name cin cout bn act
#   dense name k m act | maxpool name k s | avgpool name k s | relu name | flatten name
#   add name from


def architecture(variant):
    if variant in ("cnn-3d", "cnn-ternary"):
        bn = variant == "cnn-3d"
        return [("conv", "conv1", 1, 16, 3, 1, bn, "relu"),
                ("maxpool", "pool1", 2, 2),
                ("conv", "conv2", 16, 32, 3, 1, bn, "relu"),
                ("maxpool", "pool2", 2, 2),
                ("conv", "conv3", 32, 64, 3, 1, bn, "relu"),
                ("avgpool", "gap", 7, 7),
                ("flatten", "flatten"),
                ("dense", "fc", 64, 10, "none")]
    if variant == "cnn-2d1d":
        return [("conv", "conv1", 1, 16, 3, 1, True, "relu"),
                ("maxpool", "pool1", 2, 2),
                ("depthwise", "dw2", 16, 3, 1, True, "relu"),
                ("pointwise", "pw2", 16, 32, True, "relu"),
                ("maxpool", "pool2", 2, 2),
                ("depthwise", "dw3", 32, 3, 1, True, "relu"),
                ("pointwise", "pw3", 32, 64, True, "relu"),
                ("avgpool", "gap", 7, 7),
                ("flatten", "flatten"),
                ("dense", "fc", 64, 10, "none")]
    if variant == "cnn-mixed":
        return [("conv", "conv1", 1, 16, 3, 1, True, "relu"),
                ("maxpool", "pool1", 2, 2),
                ("conv", "conv2", 16, 32, 3, 1, True, "relu"),
                ("maxpool", "pool2", 2, 2),
                ("depthwise", "res_dw", 32, 3, 1, True, "relu"),
                ("pointwise", "res_pw", 32, 32, True, "none"),
                ("add", "res_add", "pool2"),
                ("relu", "res_relu"),
                ("depthwise", "dw3", 32, 3, 1, True, "relu"),
                ("pointwise", "pw3", 32, 64, True, "relu"),
                ("avgpool", "gap", 7, 7),
                ("flatten", "flatten"),
                ("dense", "fc", 64, 10, "none")]
    raise ValueError(f"unknown variant {variant}")


class TernarizeSTE(torch.autograd.Function):
    """TWN ternarization, straight-through gradient to the latent float weights."""

    @staticmethod
    def forward(ctx, w):
        return ternarize(w)

    @staticmethod
    def backward(ctx, grad):
        return grad


def ternarize(w):
    """{-a, 0, +a}: 0 where |w| <= 0.7 mean|w|, else sign(w) a, a = mean |w| above the threshold.

    The result holds exactly three values, so every nonzero |w| is the tensor's max |w|."""
    a = w.abs()
    mask = a > 0.7 * a.mean()
    alpha = (a * mask).sum() / mask.sum()
    return torch.where(mask, torch.sign(w) * alpha, torch.zeros_like(w))


class TrainNet(nn.Module):
    def __init__(self, layers, ternary):
        super().__init__()
        self.layers = layers
        self.ternary = ternary
        self.mods = nn.ModuleDict()
        for spec in layers:
            kind, name = spec[0], spec[1]
            if kind == "conv":
                _, _, cin, cout, k, pad, bn, _ = spec
                self.mods[name] = nn.Conv2d(cin, cout, k, padding=pad, bias=not bn)
            elif kind == "depthwise":
                _, _, c, k, pad, bn, _ = spec
                self.mods[name] = nn.Conv2d(c, c, k, padding=pad, groups=c, bias=not bn)
            elif kind == "pointwise":
                _, _, cin, cout, bn, _ = spec
                self.mods[name] = nn.Conv2d(cin, cout, 1, bias=not bn)
            elif kind == "dense":
                self.mods[name] = nn.Linear(spec[2], spec[3])
            if kind in ("conv", "depthwise", "pointwise") and self.has_bn(spec):
                self.mods[name + "_bn"] = nn.BatchNorm2d(self.mods[name].out_channels, eps=BN_EPS)
            elif kind in ("conv", "depthwise", "pointwise"):
                # Without batch norm, torch's default init shrinks the signal layer by layer.
                nn.init.kaiming_normal_(self.mods[name].weight, nonlinearity="relu")
                nn.init.zeros_(self.mods[name].bias)

    @staticmethod
    def has_bn(spec):
        return spec[0] in ("conv", "depthwise", "pointwise") and spec[-2]

    def weight(self, name):
        w = self.mods[name].weight
        return TernarizeSTE.apply(w) if self.ternary else w

    def forward(self, x):
        saved = {}
        for spec in self.layers:
            kind, name = spec[0], spec[1]
            if kind in ("conv", "depthwise", "pointwise"):
                m = self.mods[name]
                x = F.conv2d(x, self.weight(name), m.bias, m.stride, m.padding, 1, m.groups)
                if self.has_bn(spec):
                    x = self.mods[name + "_bn"](x)
                if spec[-1] == "relu":
                    x = F.relu(x)
            elif kind == "dense":
                x = F.linear(x, self.weight(name), self.mods[name].bias)
                if spec[-1] == "relu":
                    x = F.relu(x)
            elif kind == "maxpool":
                x = F.max_pool2d(x, spec[2], spec[3])
            elif kind == "avgpool":
                x = F.avg_pool2d(x, spec[2], spec[3])
            elif kind == "relu":
                x = F.relu(x)
            elif kind == "flatten":
                x = torch.flatten(x, 1)
            elif kind == "add":
                x = x + saved[spec[2]]
            saved[name] = x
        return x


# ----------------------------------------------------------------------------------------------
# Training


def to_input(images_u8, dtype):
    return torch.from_numpy(images_u8).to(dtype).div(255.0).unsqueeze(1)


def accuracy(model, images, labels, batch=1000):
    model.eval()
    correct = 0
    preds = []
    with torch.no_grad():
        for i in range(0, len(images), batch):
            p = model(images[i:i + batch]).argmax(1)
            preds.append(p)
            correct += int((p == labels[i:i + batch]).sum())
    return correct, torch.cat(preds)


def learning_rate(variant, args):
    return args.lr_ternary if variant == "cnn-ternary" else args.lr


def train(variant, args, train_x, train_y, test_x, test_y):
    torch.manual_seed(args.seed)
    np.random.seed(args.seed)
    gen = torch.Generator().manual_seed(args.seed)
    model = TrainNet(architecture(variant), ternary=variant == "cnn-ternary")
    opt = torch.optim.Adam(model.parameters(), lr=learning_rate(variant, args))
    steps_per_epoch = (len(train_x) + args.batch_size - 1) // args.batch_size
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=args.epochs * steps_per_epoch)
    history = []
    for epoch in range(1, args.epochs + 1):
        t0 = time.perf_counter()
        model.train()
        perm = torch.randperm(len(train_x), generator=gen)
        loss_sum = 0.0
        for i in range(0, len(perm), args.batch_size):
            idx = perm[i:i + args.batch_size]
            loss = F.cross_entropy(model(train_x[idx]), train_y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            loss_sum += float(loss) * len(idx)
        correct, _ = accuracy(model, test_x, test_y)
        history.append({"epoch": epoch, "train_loss": loss_sum / len(perm),
                        "test_accuracy": correct / len(test_x)})
        print(f"  {variant} epoch {epoch}/{args.epochs}: train loss {loss_sum / len(perm):.4f}, "
              f"test accuracy {correct / len(test_x):.4f} ({time.perf_counter() - t0:.1f} s)",
              flush=True)
    model.eval()
    return model, history


# ----------------------------------------------------------------------------------------------
# Export: fold batch norm, write .npy and network.toml


def folded(model, spec):
    """(weight, bias) in float64 of a weighted layer, batch norm folded in, ternary applied."""
    name = spec[1]
    m = model.mods[name]
    with torch.no_grad():
        w = ternarize(m.weight) if model.ternary else m.weight
        w = w.detach().double()
        b = m.bias.detach().double() if m.bias is not None else torch.zeros(w.shape[0],
                                                                            dtype=torch.float64)
        if model.has_bn(spec):
            bn = model.mods[name + "_bn"]
            s = bn.weight.double() / torch.sqrt(bn.running_var.double() + bn.eps)
            w = w * s.view(-1, 1, 1, 1)
            b = (b - bn.running_mean.double()) * s + bn.bias.double()
    return w.numpy().copy(), b.numpy().copy()


def toml_value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    raise TypeError(v)


def simulation_tables(variant):
    """The crossbars the network config maps onto (xbarnet's tables; every key: docs/config.md)."""
    ternary = variant == "cnn-ternary"
    return [
        "",
        "# The crossbars: the illustrative high-resistance RRAM and parasitics of",
        "# examples/default/layer.toml (the source papers give no values); an ideal ADC.",
        "[mapping]",
        'scheme = "im2col"',
        "array = [128, 128]        # rows, columns of one unit crossbar",
        "",
        "[device]",
        "r_lrs = 100e3             # ohm",
        "r_hrs = 1e6               # ohm",
        "v_read = 0.2              # V",
        'sign = "differential"',
        f'quantization = "{"ternary" if ternary else "analog"}"',
    ] + (["ternary_threshold = 0.5   # |w| <= 0.5 max|w| -> 0: the exported {-a, 0, a} exactly"]
         if ternary else []) + [
        "adc_bits = 0              # ideal ADC",
        "",
        "[parasitics]              # ohm",
        "r_source = 10.0",
        "r_wordline = 2.5",
        "r_bitline = 2.5",
        "r_neuron = 10.0",
    ]


def export(model, variant, vdir, header):
    os.makedirs(vdir, exist_ok=True)
    lines = [f"# {h}" for h in header]
    lines += ["", "[network]", f"name = {toml_value(variant)}", "input = [1, 28, 28]",
              "classes = 10"]
    for spec in model.layers:
        kind, name = spec[0], spec[1]
        t = {"name": name, "kind": kind}
        if kind in ("conv", "depthwise", "pointwise", "dense"):
            w, b = folded(model, spec)
            np.save(os.path.join(vdir, f"{name}.weight.npy"), w)
            np.save(os.path.join(vdir, f"{name}.bias.npy"), b)
            t["weights"] = f"{name}.weight.npy"
            t["bias"] = f"{name}.bias.npy"
            if kind != "dense":
                t["stride"] = 1
            if kind in ("conv", "depthwise"):
                t["padding"] = spec[5] if kind == "conv" else spec[4]
            t["activation"] = spec[-1]
        elif kind in ("maxpool", "avgpool"):
            t["kernel"], t["stride"] = spec[2], spec[3]
        elif kind == "add":
            t["from"] = spec[2]
        lines += ["", "[[layer]]"] + [f"{k} = {toml_value(v)}" for k, v in t.items()]
    lines += simulation_tables(variant)
    with open(os.path.join(vdir, "network.toml"), "w") as f:
        f.write("\n".join(lines) + "\n")


# ----------------------------------------------------------------------------------------------
# The independent float64 oracle: reads network.toml and the .npy files, nothing else.


def reference_forward(toml_path, x):
    """Logits (float64) of the network file for x, an (N, 1, 28, 28) float64 tensor."""
    with open(toml_path, "rb") as f:
        net = tomllib.load(f)
    base = os.path.dirname(toml_path)
    outputs = {}
    for i, layer in enumerate(net["layer"]):
        kind = layer["kind"]
        name = layer.get("name", f"{kind}{i}")
        if kind in ("conv", "depthwise", "pointwise", "dense"):
            w = torch.from_numpy(np.load(os.path.join(base, layer["weights"])))
            b = torch.from_numpy(np.load(os.path.join(base, layer["bias"]))) \
                if "bias" in layer else None
            assert w.dtype == torch.float64 and (b is None or b.dtype == torch.float64)
            if kind == "dense":
                x = F.linear(x, w, b)
            elif kind == "pointwise":
                assert w.shape[2:] == (1, 1)
                x = F.conv2d(x, w, b)
            else:
                groups = x.shape[1] if kind == "depthwise" else 1
                x = F.conv2d(x, w, b, layer.get("stride", 1), layer.get("padding", 0), 1, groups)
            if layer.get("activation", "none") == "relu":
                x = torch.relu(x)
        elif kind == "maxpool":
            x = F.max_pool2d(x, layer["kernel"], layer["stride"])
        elif kind == "avgpool":
            x = F.avg_pool2d(x, layer["kernel"], layer["stride"])
        elif kind == "relu":
            x = torch.relu(x)
        elif kind == "flatten":
            x = torch.flatten(x, 1)
        elif kind == "add":
            x = x + outputs[layer["from"]]
        else:
            raise ValueError(f"unknown layer kind {kind}")
        outputs[name] = x
    assert x.shape[1] == net["network"]["classes"]
    return x


def unfolded_double(model):
    """The trained model in float64, batch norm not folded, ternary weights frozen as exported."""
    m = copy.deepcopy(model)
    if m.ternary:
        with torch.no_grad():
            for spec in m.layers:
                if spec[0] in ("conv", "depthwise", "pointwise", "dense"):
                    m.mods[spec[1]].weight.copy_(ternarize(m.mods[spec[1]].weight))
        m.ternary = False
    return m.double().eval()


def reference_accuracy(toml_path, images_u8, labels, batch=1000):
    preds = []
    with torch.no_grad():
        for i in range(0, len(images_u8), batch):
            preds.append(reference_forward(toml_path, to_input(images_u8[i:i + batch],
                                                               torch.float64)).argmax(1))
    preds = torch.cat(preds)
    return int((preds == labels).sum()), preds


def check_ternary(vdir):
    """Every weighted layer holds {-a, 0, +a} with a = max |w|: what ternary_threshold 0.5 keeps."""
    for f in sorted(os.listdir(vdir)):
        if f.endswith(".weight.npy"):
            w = np.load(os.path.join(vdir, f))
            a = np.abs(w).max()
            vals = set(np.unique(w).tolist())
            if not vals <= {-a, 0.0, a} or a <= 0:
                raise RuntimeError(f"{f}: not ternary: {sorted(vals)[:5]}")
            if not np.array_equal(np.where(np.abs(w) <= 0.5 * a, 0.0, np.sign(w) * a), w):
                raise RuntimeError(f"{f}: not a fixed point of the 0.5 ternary mapping")


# ----------------------------------------------------------------------------------------------


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", default="examples/fashion-mnist")
    ap.add_argument("--epochs", type=int, default=6)
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--lr", type=float, default=5e-3, help="Adam learning rate (BN variants)")
    ap.add_argument("--lr-ternary", type=float, default=1e-2,
                    help="Adam learning rate of cnn-ternary (no batch norm)")
    ap.add_argument("--variants", default=",".join(VARIANTS),
                    help="comma-separated subset of " + ",".join(VARIANTS))
    ap.add_argument("--data", default=DATA_DIR)
    args = ap.parse_args()
    variants = [v for v in args.variants.split(",") if v]
    for v in variants:
        if v not in VARIANTS:
            ap.error(f"unknown variant {v}")

    t_start = time.perf_counter()
    torch.set_num_threads(2)
    try:
        torch.use_deterministic_algorithms(True)
        deterministic = True
    except Exception as e:  # pragma: no cover
        print(f"warning: torch.use_deterministic_algorithms(True) failed: {e}", file=sys.stderr)
        deterministic = False

    train_x, train_y, test_x, test_y = load_fashion_mnist(args.data)
    sub = write_subset(args.out, train_x, train_y, test_x, test_y)
    ref_x = read_idx(os.path.join(sub, "t10k-images-idx3-ubyte.gz"), IMAGES_MAGIC, N_REFERENCE)

    tx, ty = to_input(train_x, torch.float32), torch.from_numpy(train_y).long()
    vx, vy = to_input(test_x, torch.float32), torch.from_numpy(test_y).long()
    summary = []
    for variant in variants:
        t0 = time.perf_counter()
        print(f"{variant}: training", flush=True)
        model, history = train(variant, args, tx, ty, vx, vy)
        correct32, preds32 = accuracy(model, vx, vy)
        vdir = os.path.join(args.out, variant)
        header = [f"{variant}: written by validation/train_fashion_mnist.py "
                  f"(seed {args.seed}, {args.epochs} epochs, batch {args.batch_size}, "
                  f"Adam lr {learning_rate(variant, args)} cosine)",
                  f"float32 test accuracy {correct32 / len(vy):.4f} "
                  f"({correct32}/{len(vy)} Fashion-MNIST test images)",
                  "Weights and biases float64 .npy, batch norm folded in, eval mode."]
        if variant == "cnn-ternary":
            header[-1] = "No batch norm; weights and biases float64 .npy, biases not quantized."
            header.append("Weights ternary {-a, 0, +a}, one a per layer: map with quantization = "
                          "\"ternary\", ternary_threshold = 0.5.")
        export(model, variant, vdir, header)
        toml_path = os.path.join(vdir, "network.toml")
        if variant == "cnn-ternary":
            check_ternary(vdir)

        # The oracle, from the files alone, on the first 200 test images as read from the subset.
        ref_in = to_input(ref_x, torch.float64)
        with torch.no_grad():
            logits = reference_forward(toml_path, ref_in).numpy()
            unfolded = unfolded_double(model)(ref_in).numpy()
        assert logits.shape == (N_REFERENCE, 10) and logits.dtype == np.float64
        np.save(os.path.join(vdir, "reference_logits.npy"), logits)
        fold_diff = float(np.abs(logits - unfolded).max())
        correct64, preds64 = reference_accuracy(toml_path, test_x, vy)
        disagree = int((preds64 != preds32).sum())
        info = {
            "variant": variant,
            "seed": args.seed,
            "epochs": args.epochs,
            "batch_size": args.batch_size,
            "optimizer": f"Adam lr {learning_rate(variant, args)}, cosine annealing to 0 per "
                         "step, no weight decay, no augmentation",
            "torch_version": torch.__version__,
            "numpy_version": np.__version__,
            "torch_num_threads": torch.get_num_threads(),
            "deterministic_algorithms": deterministic,
            "test_images": len(vy),
            "float32_test_accuracy": correct32 / len(vy),
            "float32_test_correct": correct32,
            "float64_exported_test_accuracy": correct64 / len(vy),
            "float64_exported_test_correct": correct64,
            "float64_vs_float32_disagreeing_predictions": disagree,
            "float64_evaluator": "reference_forward(): torch.nn.functional in float64 on the "
                                 "loaded .npy files, interpreting network.toml",
            "reference_logits": {"file": "reference_logits.npy", "shape": [N_REFERENCE, 10],
                                 "images": "../subset/t10k-images-idx3-ubyte.gz (first "
                                           f"{N_REFERENCE} test images), pixels / 255"},
            "reference_accuracy_first_200": float((logits.argmax(1) == test_y[:N_REFERENCE])
                                                  .mean()),
            "max_abs_diff_folded_vs_unfolded_float64": fold_diff,
            "history": history,
        }
        with open(os.path.join(vdir, "training.json"), "w") as f:
            json.dump(info, f, indent=2)
            f.write("\n")
        secs = time.perf_counter() - t0
        print(f"{variant}: float32 test accuracy {correct32 / len(vy):.4f}, exported float64 "
              f"{correct64 / len(vy):.4f} ({disagree} predictions differ), folded vs unfolded "
              f"max |diff| {fold_diff:.2e}, {secs:.0f} s", flush=True)
        summary.append((variant, correct32 / len(vy), correct64 / len(vy), secs))

    print("\nvariant       float32   float64 exported   seconds")
    for v, a32, a64, s in summary:
        print(f"{v:12s}  {a32:.4f}    {a64:.4f}             {s:.0f}")
    print(f"total {time.perf_counter() - t_start:.0f} s")


if __name__ == "__main__":
    main()
