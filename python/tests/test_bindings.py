"""The native bindings against the program (to the last bit), against closed forms, and their
errors. Run by ctest (python_tests) with PYTHONPATH=build/python, XBARNET_CLI (the program) and
XBARNET_SOURCE_DIR (the checkout) set; runnable by hand the same way."""

import os
import subprocess
import threading
import time
from pathlib import Path

import numpy as np
import pytest

import xbarnet

SOURCE = Path(os.environ.get("XBARNET_SOURCE_DIR", Path(__file__).resolve().parents[2]))
CLI = os.environ.get("XBARNET_CLI", str(SOURCE / "build" / "cli" / "xbarnet"))
# Four different values, so that a swapped pair of them cannot pass.
PARASITICS = dict(r_source=100.0, r_wordline=2.5, r_bitline=1.5, r_neuron=50.0)
CLI_PARASITICS = ["--r-source", 100, "--r-wordline", 2.5, "--r-bitline", 1.5, "--r-neuron", 50]


def run_cli(*args):
    r = subprocess.run([CLI, *map(str, args)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return r.stdout


def tile(rows=24, cols=16, vectors=5, seed=3):
    rng = np.random.default_rng(seed)
    g = rng.uniform(1e-6, 1e-5, (rows, cols))
    v = rng.uniform(0.0, 0.2, (vectors, rows))
    return g, v


# ------------------------------------------------------------------------------ unit crossbar


def test_solve_equals_the_program_to_the_last_bit(tmp_path):
    g, v = tile()
    np.save(tmp_path / "G.npy", g)
    np.save(tmp_path / "V.npy", v)
    for path in ("direct", "transfer"):
        out = tmp_path / f"I-{path}.npy"
        run_cli("solve", "-g", tmp_path / "G.npy", "-v", tmp_path / "V.npy", *CLI_PARASITICS,
                "--path", path,
                "-o", out, "--format", "none")
        got = xbarnet.solve(g, v, path=path, **PARASITICS)
        assert got["path"] == path
        np.testing.assert_array_equal(got["column_current"], np.load(out))


def test_node_voltages_and_ir_drop_match_the_program(tmp_path):
    g, v = tile(vectors=2)
    np.save(tmp_path / "G.npy", g)
    np.save(tmp_path / "V.npy", v)
    run_cli("solve", "-g", tmp_path / "G.npy", "-v", tmp_path / "V.npy", *CLI_PARASITICS,
            "--voltages",
            tmp_path / "volt.npy", "--format", "none")
    planes = np.load(tmp_path / "volt.npy")  # K x 4 x R x C: V(w), V(b), cell, IR drop
    got = xbarnet.solve(g, v, node_voltages=True, **PARASITICS)
    np.testing.assert_array_equal(got["word_voltage"], planes[:, 0])
    np.testing.assert_array_equal(got["bit_voltage"], planes[:, 1])
    np.testing.assert_array_equal(got["ir_drop"], planes[:, 3])
    # the IR drop is what the cell does not see: positive, largest far from driver and sense
    assert got["ir_drop"].min() >= 0.0
    assert got["ir_drop"][0, -1, -1] > got["ir_drop"][0, 0, 0]


def test_ideal_wires_give_ohms_law_and_one_vector_gives_a_vector():
    g, v = tile(vectors=1)
    got = xbarnet.solve(g, v[0])  # every parasitic 0: I_j = sum_i G_ij V_i
    assert got["column_current"].shape == (g.shape[1],)
    np.testing.assert_allclose(got["column_current"], v[0] @ g, rtol=1e-13)


def test_transfer_matrix_reproduces_the_solves():
    g, v = tile(vectors=7)
    t = xbarnet.transfer_matrix(g, **PARASITICS)
    assert t.shape == (g.shape[1], g.shape[0])
    direct = xbarnet.solve(g, v, path="direct", **PARASITICS)["column_current"]
    scale = np.abs(direct).max()
    assert np.abs(v @ t.T - direct).max() <= 1e-12 * scale
    # and parasitics matter: T is not G^T
    assert np.abs(t - g.T).max() > 1e-3 * np.abs(g).max()


def test_spice_equals_the_programs_export(tmp_path):
    g, v = tile(rows=6, cols=4, vectors=2)
    np.save(tmp_path / "G.npy", g)
    np.save(tmp_path / "V.npy", v)
    run_cli("export-spice", "-g", tmp_path / "G.npy", "-v", tmp_path / "V.npy", *CLI_PARASITICS,
            "-o",
            tmp_path / "t.cir")
    program = (tmp_path / "t.cir").read_text()
    title = program.splitlines()[0][2:]  # the program's title names its input files
    assert xbarnet.spice(g, v, title=title, **PARASITICS) == program


def test_the_gil_is_released_during_a_solve():
    # While a 256 x 256 tile with many inputs is solved, another Python thread keeps running.
    g, _ = tile(rows=256, cols=256, vectors=1)
    v = np.random.default_rng(1).uniform(0, 0.2, (64, 256))
    ticks = []
    done = threading.Event()

    def ticker():
        while not done.is_set():
            ticks.append(time.perf_counter())
            time.sleep(0.001)

    th = threading.Thread(target=ticker)
    th.start()
    t0 = time.perf_counter()
    xbarnet.solve(g, v, path="direct", **PARASITICS)
    t1 = time.perf_counter()
    done.set()
    th.join()
    inside = [t for t in ticks if t0 < t < t1]
    assert t1 - t0 > 0.02  # long enough for a held GIL to show
    assert len(inside) >= 3


# ---------------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda g, v: xbarnet.solve(g, v, r_source=-5.0),
         "r_source = -5 ohm: must be >= 0 or +inf"),
        (lambda g, v: xbarnet.solve(g[:, :, None], v), "conductance: must be a 2-D array"),
        (lambda g, v: xbarnet.solve(g, v[:, :3]), "inputs"),
        (lambda g, v: xbarnet.solve(np.where(g > 5e-6, np.nan, g), v), "conductance"),
        (lambda g, v: xbarnet.solve(g, v, backend="lu"), "backend"),
        (lambda g, v: xbarnet.solve(g, v, threads=0), "threads = 0: must be >= 1"),
        (lambda g, v: xbarnet.simulate_layer("conv", np.ones((2, 1, 3, 3)),
                                             np.ones((1, 1, 5, 5)), mapping={"arrray": 64}),
         "mapping: unknown key 'arrray'"),
        (lambda g, v: xbarnet.simulate_layer("conv", np.ones((2, 1, 3, 3)),
                                             np.ones((1, 1, 5, 5)), device={"adc_bits": 17}),
         "adc_bits = 17 bit: must be an integer in 0 .. 16"),
        (lambda g, v: xbarnet.simulate_layer("conv", np.ones((2, 1, 3, 3)),
                                             np.ones((1, 2, 5, 5))),
         "input has shape (1, 2, 5, 5): the layer needs (N, 1, 5, 5)"),
        (lambda g, v: xbarnet.simulate_layer("convolution", np.ones((2, 1, 3, 3)),
                                             np.ones((1, 1, 5, 5))), "kind"),
        (lambda g, v: xbarnet.map_layer("dense", (10, 0), (0,)),
         "in_channels = 0: must be in 1 .. 16777216"),
        (lambda g, v: xbarnet.map_layer("conv", (8, 3, 3, 3), (4, 8, 8)),
         "input has shape (1, 4, 8, 8): the layer needs (N, 3, 8, 8)"),
        (lambda g, v: xbarnet.map_layer("pointwise", (8, 4, 3, 3), (4, 8, 8)),
         "weights have shape (8, 4, 3, 3): a pointwise layer needs (Cout, Cin) or (Cout, Cin, 1, 1)"),
        (lambda g, v: xbarnet.map_layer("dense", (10, 5), (6,)),
         "input has shape (1, 6): the dense layer needs (N, 5)"),
        (lambda g, v: xbarnet.solve("abc", v), "conductance: has dtype <U3"),
        (lambda g, v: xbarnet.solve(g.astype(complex), v), "conductance: has dtype complex128"),
        (lambda g, v: xbarnet.solve(g, None), "inputs: an array is required, not None"),
        (lambda g, v: xbarnet.solve(g, v, r_wordline=float("nan")), "r_wordline = nan"),
        (lambda g, v: xbarnet.simulate_layer("dense", np.ones((2, 3)), np.ones((1, 3)),
                                             parasitics={"r_wordline": 2 ** 70}),
         "parasitics.r_wordline: 1180591620717411303424 does not fit a 64-bit integer"),
        (lambda g, v: xbarnet.simulate_layer("dense", np.ones((2, 3)), np.ones((1, 3)),
                                             mapping={"array": b"\x08\x08"}),
         "mapping.array: b'\\x08\\x08' (bytes) is not a number"),
        (lambda g, v: xbarnet.simulate_layer("dense", np.ones((2, 3)), np.ones((1, 3)),
                                             bias=np.ones((1, 2))),
         "bias: must be 1-D (one per output), not of shape (1, 2)"),
        (lambda g, v: xbarnet.simulate_layer("dense", np.ones((2, 3)), {"a": 1}),
         "input: has dtype object"),
        (lambda g, v: xbarnet.load_network_config("/tmp"), "/tmp: not a file"),
        (lambda g, v: xbarnet.Network("n", (1, 4, 4), 2, [{"kind": "dense", "weights":
                                                           np.ones((2, 15))}]),
         "needs a flat input"),
        (lambda g, v: xbarnet.load_dataset("/nonexistent-xbarnet"),
         "apt-get install dataset-fashion-mnist"),
    ],
)
def test_bad_arguments_raise_with_the_librarys_message(call, message):
    g, v = tile(rows=8, cols=6, vectors=2)
    with pytest.raises(xbarnet.Error) as e:
        call(g, v)
    assert message in str(e.value)
    assert isinstance(e.value, ValueError)


def test_a_floating_circuit_raises_solve_error():
    g, v = tile(rows=4, cols=3, vectors=1)
    # every neuron open and every source open: the whole array floats
    with pytest.raises(xbarnet.SolveError):
        xbarnet.solve(g, v, r_source=float("inf"), r_neuron=float("inf"))


# ------------------------------------------------------------------------------------ layers


def test_simulate_layer_equals_the_program_to_the_last_bit(tmp_path):
    ex = SOURCE / "examples" / "default"
    run_cli("simulate", ex / "layer.toml", "-o", tmp_path)
    r = xbarnet.simulate_layer(
        "conv", np.load(ex / "weights.npy"), np.load(ex / "input.npy"),
        bias=np.load(ex / "bias.npy"), stride=1, padding=1, activation="relu",
        calibration=np.load(ex / "calibration.npy"), name="conv",
        mapping={"scheme": "im2col", "array": [128, 128]},
        device={"r_lrs": 100e3, "r_hrs": 1e6, "v_read": 0.2, "sign": "differential",
                "quantization": "analog", "adc_bits": 0},
        adc={"range": "calibrated", "energy_model": "flash"},
        parasitics={"r_source": 10.0, "r_wordline": 2.5, "r_bitline": 2.5, "r_neuron": 10.0},
        simulation={"backend": "cholmod", "threads": 2, "ir_drop": True})
    np.testing.assert_array_equal(r["simulated"], np.load(tmp_path / "conv.simulated.npy"))
    np.testing.assert_array_equal(r["ideal"], np.load(tmp_path / "conv.ideal.npy"))
    import json
    report = json.loads((tmp_path / "report.json").read_text())
    layer = report["layers"][0] if "layers" in report else report
    assert r["report"]["error"] == layer["error"]
    assert r["report"]["mapping"]["arrays"] == layer["mapping"]["arrays"]


def test_map_layer_counts_arrays_like_the_closed_form():
    # 3x3 conv 64 -> 64 im2col: 576 rows in ceil(576/256) = 3 row groups; 64 outputs x 2
    # columns (differential) = 128 columns: one array per group.
    m = xbarnet.map_layer("conv", (64, 64, 3, 3), (64, 32, 32), padding=1,
                          mapping={"array": [256, 256]})
    assert (m["arrays"], m["row_groups"], m["lowered_rows"]) == (3, 3, 576)
    m = xbarnet.map_layer("conv", (64, 64, 3, 3), (64, 32, 32), padding=1,
                          mapping={"array": [128, 128]})
    assert m["arrays"] == 5  # ceil(576/128) = 5 groups; 128 columns hold the 64 pairs


def test_every_correction_scheme_runs_and_is_exact_without_parasitics():
    rng = np.random.default_rng(5)
    w = rng.uniform(-1, 1, (8, 20))
    x = rng.uniform(0, 1, (6, 20))
    schemes = xbarnet.parameters()["correction"]["scheme"]["choices"]
    assert "none" in schemes and len(schemes) >= 3
    for scheme in schemes:
        r = xbarnet.simulate_layer("dense", w, x, correction={"scheme": scheme},
                                   mapping={"array": [32, 32]})
        np.testing.assert_allclose(r["simulated"], r["ideal"], atol=1e-12 * np.abs(r["ideal"]).max())
        r = xbarnet.simulate_layer("dense", w, x, correction={"scheme": scheme},
                                   mapping={"array": [32, 32]},
                                   parasitics={"r_wordline": 5.0, "r_bitline": 5.0},
                                   device={"r_lrs": 10e3, "r_hrs": 100e3})
        assert r["report"]["correction"]["scheme"] == scheme


# ---------------------------------------------------------------------------------- networks

SUBSET = SOURCE / "examples" / "fashion-mnist" / "subset"


def test_a_committed_network_runs_like_the_program(tmp_path):
    cfg = xbarnet.load_network_config(SOURCE / "examples" / "fashion-mnist" / "cnn-3d" /
                                      "network.toml")
    net = cfg["network"]
    assert net.name == "cnn-3d" and net.classes == 10 and list(net.input_shape) == [1, 28, 28]
    images, labels = xbarnet.load_dataset(SUBSET, "t10k", 40, net)
    cal, _ = xbarnet.load_dataset(SUBSET, "train", 20, net)
    assert images.shape == (40, 1, 28, 28) and labels.dtype == np.int64
    assert 0.0 <= images.min() and images.max() <= 1.0
    ref = np.load(SOURCE / "examples" / "fashion-mnist" / "cnn-3d" / "reference_logits.npy")
    scores = net.float_forward(images)
    np.testing.assert_allclose(scores, ref[:40], rtol=0, atol=1e-9 * np.abs(ref).max())
    ideal = net.prepare(cal, ideal=True, **{k: v for k, v in cfg["tables"].items()})
    ev = ideal.evaluate(images, labels)
    fl = xbarnet.evaluate_float(net, images, labels)
    np.testing.assert_array_equal(ev["predicted"], fl["predicted"])
    sim = net.prepare(cal, **cfg["tables"])
    assert sim.arrays == 7
    s = sim.forward(images[:8])
    assert s.shape == (8, 10) and np.abs(s - scores[:8]).max() > 0  # IR drop moved the scores
    # the same images in another batch split give the same scores (to rounding: the BLAS
    # blocks a product by its size) and the same predictions
    s48 = sim.forward(images[4:8], first_image=4)
    np.testing.assert_allclose(s[4:], s48, rtol=0, atol=1e-12 * np.abs(s).max())
    np.testing.assert_array_equal(s[4:].argmax(1), s48.argmax(1))
    steps = net.layers
    assert [s["name"] for s in steps] == net.layer_names
    conv1 = steps[0]
    assert conv1["kind"] == "conv" and conv1["in_shape"] == [1, 28, 28]
    np.testing.assert_array_equal(
        conv1["weights"],
        np.load(SOURCE / "examples" / "fashion-mnist" / "cnn-3d" / "conv1.weight.npy"))
    rep = sim.layer_report("conv1")
    assert rep["mapping"]["arrays"] >= 1


def test_network_errors_name_the_layer():
    w = np.ones((3, 1, 3, 3))
    with pytest.raises(xbarnet.Error, match="layer 'c' \\(conv\\)"):
        xbarnet.Network("n", (2, 6, 6), 3, [{"name": "c", "kind": "conv", "weights": w},
                                            {"kind": "flatten"}])
    layers = [{"kind": "maxpool", "kernel": 2}, {"kind": "flatten"},
              {"kind": "dense", "weights": np.ones((3, 9))}]
    assert xbarnet.Network("n", (1, 6, 6), 3, layers).layer_names == ["maxpool0", "flatten1",
                                                                      "dense2"]
    for change, message in [
        ({0: {"kind": "maxpool", "kernal": 2}}, "layers[0] (maxpool): kernal: unknown key"),
        ({0: {"kind": "maxpool", "kernel": 2, "padding": 1}},
         "padding: is a key of weighted layers only"),
        ({0: {"kind": "maxpool", "kernel": 2, "stride": 0}}, "layers[0].stride: must be >= 1"),
        ({1: {"kind": "flatten", "stride": 2}},
         "stride: is a key of weighted and pooling layers only"),
        ({2: {"kind": "dense"}}, "layers[2].weights: is required"),
        ({2: {"kind": "dense", "weights": np.ones((3, 9)), "kernel": 3}},
         "kernel: is a key of pooling layers only"),
        ({0: {"kind": "maxpool", "kernel": 2, "name": "a/b"}},
         "layers[0].name: 'a/b' is not a plain name"),
        ({0: {"kind": "maxpool", "kernel": 2, "stride": 2 ** 70}}, "does not fit a 64-bit"),
        ({0: {"kind": "minpool", "kernel": 2}}, "'minpool' is not a layer kind"),
    ]:
        bad = [dict(l) for l in layers]
        for i, l in change.items():
            bad[i] = l
        with pytest.raises(xbarnet.Error) as e:
            xbarnet.Network("n", (1, 6, 6), 3, bad)
        assert message in str(e.value)
    with pytest.raises(xbarnet.Error, match="name: '../n' is not a plain name"):
        xbarnet.Network("../n", (1, 6, 6), 3, layers)
    # NumPy integers where a list of integers is asked for
    net = xbarnet.Network("n", (1, 6, 6), 3, layers[:2] + [dict(
        layers[2], mapping={"array": np.array([16, 16])})])
    assert net.layers[2]["mapping"] == {"array": [16, 16]}


def test_non_finite_images_and_labels_that_are_not_integers_are_refused():
    net = xbarnet.Network("n", (1, 4, 4), 2, [{"kind": "flatten"},
                                              {"kind": "dense", "weights": np.ones((2, 16))},
                                              {"kind": "relu"}])
    x = np.ones((3, 1, 4, 4))
    x[1, 0, 2, 2] = np.nan
    with pytest.raises(xbarnet.Error, match="an image value is not finite"):
        net.float_forward(x)
    with pytest.raises(xbarnet.Error, match=r"labels\[1\] = 0.7: must be an integer"):
        xbarnet.evaluate_float(net, np.ones((3, 1, 4, 4)), np.array([0, 0.7, 1]))
    ev = xbarnet.evaluate_float(net, np.ones((3, 1, 4, 4)), np.array([0.0, 1.0, 1.0]))
    assert ev["images"] == 3


def test_forward_checks_memory_like_evaluate():
    net = xbarnet.Network("n", (1, 8, 8), 3, [{"kind": "flatten"},
                                              {"kind": "dense", "weights": np.ones((3, 64))}])
    x = np.random.default_rng(2).uniform(0, 1, (5000, 1, 8, 8))
    xnet = net.prepare(x[:10], batch=1000, simulation={"memory_limit": 1e7, "ir_drop": False},
                       mapping={"array": [64, 64]})
    with pytest.raises(xbarnet.Error, match="a batch of 5000 images needs about 0.0203 GB"):
        xnet.forward(x)
    assert xnet.forward(x[:1000]).shape == (1000, 3)
    with pytest.raises(xbarnet.Error, match="first_image = -1"):
        xnet.forward(x[:2], first_image=-1)
    assert xnet.forward(x[:10]).shape == (10, 3)


def test_the_blas_thread_count_is_the_callers_again_after_a_call():
    before = xbarnet._xbarnet._blas_threads()
    g, v = tile()
    xbarnet.solve(g, v, **PARASITICS)
    assert xbarnet._xbarnet._blas_threads() == before


def test_a_spice_title_cannot_start_a_card():
    g, v = tile(rows=2, cols=2, vectors=1)
    deck = xbarnet.spice(g, v, title="a\n.include /etc/passwd")
    assert ".include" not in deck.replace("* a .include /etc/passwd", "")
    assert deck.splitlines()[0] == "* a .include /etc/passwd"


def test_a_network_evaluates_like_the_program(tmp_path):
    import json
    config = SOURCE / "examples" / "fashion-mnist" / "cnn-3d" / "network.toml"
    run_cli("network", config, "--set", f"data.dir={SUBSET}", "--set", "data.images=60",
            "--set", "data.calibration_images=20", "--set", "parasitics.r_line=5", "-o", tmp_path)
    point = json.loads((tmp_path / "cnn-3d.network.json").read_text())["points"][0]
    cfg = xbarnet.load_network_config(config)
    net, tables = cfg["network"], cfg["tables"]
    tables["parasitics"].update(r_wordline=5.0, r_bitline=5.0)
    images, labels = xbarnet.load_dataset(SUBSET, "t10k", 60, net)
    cal, _ = xbarnet.load_dataset(SUBSET, "train", 20, net)
    ev = net.prepare(cal, batch=cfg["data"]["batch"], **tables).evaluate(images, labels)
    fl = xbarnet.evaluate_float(net, images, labels)
    ideal = net.prepare(cal, ideal=True, **tables).evaluate(images, labels)
    assert ev["accuracy"] == point["accuracy"]
    assert ideal["accuracy"] == point["ideal_crossbar_accuracy"]
    assert fl["accuracy"] == point["float_accuracy"]
    assert np.mean(ev["predicted"] == fl["predicted"]) == point["agreement_with_float"]
    assert ev["inputs_clipped"] == point["inputs_clipped"]
    assert point["agreement_with_float"] < 1.0  # the 5-ohm wires changed some predictions
