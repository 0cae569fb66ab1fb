"""xbarnet.pytorch: a torch model converted to an xbarnet network computes what torch computes.

Run with the built package on the path (ctest sets it):

    PYTHONPATH=build/python /usr/bin/python3 -m pytest python/tests
"""
from collections import OrderedDict

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

import xbarnet  # noqa: E402
from xbarnet.pytorch import Residual, evaluate, from_torch  # noqa: E402

INPUT = (1, 12, 12)


def randomize_batch_norm(model, generator):
    """Non-trivial eval statistics and affine parameters in every BatchNorm2d."""
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                c = m.num_features
                m.running_mean.copy_(torch.randn(c, generator=generator) * 0.5)
                m.running_var.copy_(torch.rand(c, generator=generator) * 1.5 + 0.5)
                if m.affine:
                    m.weight.copy_(torch.rand(c, generator=generator) + 0.5)
                    m.bias.copy_(torch.randn(c, generator=generator) * 0.3)


def make_model():
    """conv+BN+ReLU, maxpool, depthwise(+BN), pointwise, Residual, avgpool, flatten, linear."""
    torch.manual_seed(3)
    model = nn.Sequential(
        nn.Conv2d(1, 6, 3, padding=1), nn.BatchNorm2d(6), nn.ReLU(),            # 0 1 2
        nn.MaxPool2d(2),                                                        # 3
        nn.Conv2d(6, 6, 3, padding=1, groups=6, bias=False), nn.BatchNorm2d(6),  # 4 5
        nn.ReLU(),                                                              # 6
        nn.Conv2d(6, 8, 1), nn.ReLU(),                                          # 7 8
        Residual(nn.Sequential(nn.Conv2d(8, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
                               nn.Conv2d(8, 8, 1))),                            # 9
        nn.ReLU(),                                                              # 10
        nn.Dropout(0.25),                                                       # 11
        nn.AvgPool2d(2),                                                        # 12
        nn.Flatten(),                                                           # 13
        nn.Linear(8 * 3 * 3, 10),                                               # 14
    )
    randomize_batch_norm(model, torch.Generator().manual_seed(4))
    model.eval()
    # A random head on ReLU features scores one class first for every image; standardize it on
    # the features of random images so that the predictions differ from image to image.
    with torch.no_grad():
        features = model[:14].double()(torch.from_numpy(random_images(200, 99)))
        model.float()
        w = torch.randn(10, 72, generator=torch.Generator().manual_seed(9), dtype=torch.float64)
        w /= features.std(0) + 1e-3
        model[14].weight.copy_(w)
        model[14].bias.copy_(-(w @ features.mean(0)))
    return model


def random_images(n, seed, shape=INPUT):
    return np.random.default_rng(seed).random((n, *shape))


def torch_scores(model, images):
    with torch.no_grad():
        return model.double().eval()(torch.from_numpy(images)).numpy()


def test_float_forward_equals_torch_in_float64():
    model = make_model()
    net = from_torch(model, INPUT)
    assert isinstance(net, xbarnet.Network)
    assert net.classes == 10
    assert tuple(net.input_shape) == INPUT
    # BN folded, ReLUs become activations, Dropout dropped, the residual's add after its body
    assert list(net.layer_names) == ["0", "3", "4", "7", "9_body_0", "9_body_3", "9", "10",
                                     "12", "13", "14"]
    images = random_images(32, 1)
    ref = torch_scores(model, images)
    got = net.float_forward(images)
    assert got.shape == (32, 10) and got.dtype == np.float64
    assert np.abs(got - ref).max() <= 1e-9 * np.abs(ref).max()


def test_more_layer_forms():
    """Named children, padding='same', stride-2 conv, adaptive pooling, a bias-free Linear, a
    conv left in training mode (the conversion uses its running statistics)."""
    torch.manual_seed(5)
    model = nn.Sequential(OrderedDict(
        features=nn.Sequential(
            nn.Conv2d(1, 4, 3, padding="same"), nn.BatchNorm2d(4, affine=False),
            nn.Identity(), nn.ReLU(),
            nn.Conv2d(4, 6, 3, stride=2, padding=1), nn.ReLU(),
            nn.MaxPool2d(kernel_size=(2, 2), stride=1),
            nn.AdaptiveAvgPool2d(1)),
        flat=nn.Flatten(),
        head=nn.Sequential(nn.Linear(6, 5), nn.ReLU(), nn.Dropout(), nn.Linear(5, 3, bias=False)),
    ))
    randomize_batch_norm(model, torch.Generator().manual_seed(6))
    with torch.no_grad():
        model.features[1].running_mean.copy_(torch.tensor([0.1, -0.2, 0.3, 0.0]))
        model.features[1].running_var.copy_(torch.tensor([0.5, 2.0, 1.0, 0.7]))
    model.train()
    net = from_torch(model, INPUT, name="my model")
    assert model.training  # not changed by the conversion
    assert net.name == "my_model"
    assert list(net.layer_names) == ["features_0", "features_4", "features_6", "features_7",
                                     "flat", "head_0", "head_3"]
    images = random_images(8, 2)
    ref = torch_scores(model, images)
    got = net.float_forward(images)
    assert np.abs(got - ref).max() <= 1e-9 * np.abs(ref).max()


def test_a_module_used_twice_runs_twice():
    torch.manual_seed(8)
    relu, pool = nn.ReLU(), nn.MaxPool2d(2)
    model = nn.Sequential(nn.Conv2d(1, 3, 3, padding=1), relu, pool, nn.Conv2d(3, 3, 3), relu,
                          pool, nn.Flatten(), nn.Linear(12, 4))
    net = from_torch(model, INPUT)
    assert list(net.layer_names) == ["0", "2", "3", "5", "6", "7"]
    images = random_images(4, 3)
    ref = torch_scores(model, images)
    assert np.abs(net.float_forward(images) - ref).max() <= 1e-9 * np.abs(ref).max()


def test_ideal_crossbars_give_torch_predictions():
    model = make_model()
    net = from_torch(model, INPUT)
    images = random_images(20, 7)
    ref = torch_scores(model, images)
    # calibrated on the evaluated images themselves, so that no input clips
    crossbars = net.prepare(images, ideal=True, device={"adc_bits": 0})
    scores = crossbars.forward(images)
    assert scores.shape == (20, 10)
    assert len(set(ref.argmax(1).tolist())) >= 4  # the check below means something
    np.testing.assert_array_equal(scores.argmax(1), ref.argmax(1))
    assert np.abs(scores - ref).max() <= 1e-9 * np.abs(ref).max()  # 1e-13 measured
    result = crossbars.evaluate(images, ref.argmax(1).astype(np.int64))
    assert result["accuracy"] == 1.0
    assert result["inputs_clipped"] == 0
    assert crossbars.arrays >= 6  # six weighted layers


def unsupported_message(model, shape=INPUT):
    with pytest.raises(ValueError) as info:
        from_torch(model, shape)
    assert isinstance(info.value, xbarnet.Error)
    return str(info.value)


def test_unsupported_modules_are_named():
    gelu = nn.Sequential(OrderedDict(
        features=nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Conv2d(4, 4, 3), nn.GELU())))
    msg = unsupported_message(gelu)
    assert "'features.3'" in msg and "GELU" in msg

    grouped = nn.Sequential(nn.Conv2d(1, 4, 3), nn.Conv2d(4, 4, 3, groups=2))
    msg = unsupported_message(grouped)
    assert "'1'" in msg and "groups = 2" in msg

    multiplier = nn.Sequential(nn.Conv2d(1, 4, 3), nn.Conv2d(4, 8, 3, groups=4))
    msg = unsupported_message(multiplier)
    assert "'1'" in msg and "groups = 4" in msg

    bn_after_linear = nn.Sequential(nn.Flatten(), nn.Linear(144, 10), nn.BatchNorm1d(10))
    msg = unsupported_message(bn_after_linear)
    assert "'2'" in msg and "BatchNorm1d" in msg

    bn_after_relu = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.BatchNorm2d(4))
    assert "'2'" in unsupported_message(bn_after_relu)

    # a batch norm may not fold into a conv outside its residual body
    bn_into_body = nn.Sequential(nn.Conv2d(1, 4, 3),
                                 Residual(nn.Sequential(nn.BatchNorm2d(4), nn.Conv2d(4, 4, 1))))
    assert "'1.body.0'" in unsupported_message(bn_into_body)

    dilated = nn.Sequential(nn.Conv2d(1, 4, 3, dilation=2))
    assert "'0'" in unsupported_message(dilated) and "dilation" in unsupported_message(dilated)

    rectangular = nn.Sequential(nn.Conv2d(1, 4, (3, 1)))
    assert "kernel_size" in unsupported_message(rectangular)

    reflect = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1, padding_mode="reflect"))
    assert "padding_mode" in unsupported_message(reflect)

    padded_pool = nn.Sequential(nn.MaxPool2d(2, padding=1))
    assert "'0'" in unsupported_message(padded_pool)

    ceil_pool = nn.Sequential(nn.AvgPool2d(5, ceil_mode=True))
    assert "ceil_mode" in unsupported_message(ceil_pool)

    first_residual = nn.Sequential(Residual(nn.Conv2d(1, 1, 3, padding=1)))
    assert "'0'" in unsupported_message(first_residual)

    inplace_on_skip = nn.Sequential(nn.Conv2d(1, 4, 3),
                                    Residual(nn.Sequential(nn.ReLU(inplace=True),
                                                           nn.Conv2d(4, 4, 1))))
    assert "'1.body.0'" in unsupported_message(inplace_on_skip)

    shape_changing = nn.Sequential(nn.Conv2d(1, 4, 3), Residual(nn.Conv2d(4, 8, 1)))
    assert "'1'" in unsupported_message(shape_changing)

    class Custom(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(1, 4, 3)

        def forward(self, x):
            return self.conv(x) * 2

    assert "Custom" in unsupported_message(Custom())
    assert "'block'" in unsupported_message(nn.Sequential(OrderedDict(block=Custom())))

    class MySequential(nn.Sequential):
        def forward(self, x):
            return super().forward(x) + 1

    assert "MySequential" in unsupported_message(MySequential(nn.Conv2d(1, 4, 3)))

    unflat = nn.Sequential(nn.Conv2d(1, 4, 3), nn.Linear(10, 10))
    assert "Flatten" in unsupported_message(unflat)


def test_evaluate_on_a_data_loader():
    model = make_model()
    images = torch.from_numpy(random_images(24, 11)).float()
    with torch.no_grad():
        labels = model.double()(images.double()).argmax(1)  # torch is right on every image
    model.float()
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(images, labels),
                                         batch_size=10)
    result = evaluate(model, loader, arrays=32,
                      parasitics={"r_source": 10.0, "r_wordline": 2.5, "r_bitline": 2.5,
                                  "r_neuron": 10.0},
                      device={"r_lrs": 100e3, "r_hrs": 1e6, "adc_bits": 0})
    assert set(result) == {"torch", "float", "ideal", "simulated", "images", "arrays",
                           "agreement"}
    assert result["images"] == 24
    assert result["torch"] == 1.0
    assert result["float"] == 1.0
    assert result["ideal"] == 1.0  # calibrated on these images: nothing clips
    assert 0.0 <= result["simulated"] <= 1.0
    assert result["agreement"] == result["simulated"]  # the labels are torch's predictions
    assert result["arrays"] >= 6
    assert model.training is False and next(model.parameters()).dtype == torch.float32

    with pytest.raises(TypeError, match="parasitic"):
        evaluate(model, loader, parasitic={})
