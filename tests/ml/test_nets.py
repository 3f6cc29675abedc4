"""The seed network of SPEC B5 and the timm backbones (issue 6, item 2)."""

from __future__ import annotations

import torch
from torch import nn

from pathodesk.ml.nets import POOLED_SIZE, TAP_LAYERS, ShortcutConcatNet, build_model


def test_shortcut_concat_net_has_33_convolutions_and_taps_layers_1_10_15_33() -> None:
    model = ShortcutConcatNet(num_classes=3).eval()
    convolutions = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    assert len(convolutions) == 33
    executed = 0
    seen_at: dict[str, int] = {}

    def count(_module: nn.Module, _inputs: object, _output: object) -> None:
        nonlocal executed
        executed += 1

    for conv in convolutions:
        conv.register_forward_hook(count)
    for name in ("stem", "stage10", "stage15", "stage33"):
        getattr(model, name).register_forward_hook(lambda *_a, name=name: seen_at.__setitem__(name, executed))
    with torch.no_grad():
        taps = model.taps(torch.randn(2, 3, 224, 224))
    assert tuple(seen_at.values()) == TAP_LAYERS == (1, 10, 15, 33)
    # residual shortcuts: every block adds its input back
    assert sum(1 for m in model.modules() if type(m).__name__ == "ResidualBlock") == 14
    # the taps are pooled to one size and concatenated on channels before the head
    first_linear = next(m for m in model.head if isinstance(m, nn.Linear))
    assert first_linear.in_features == sum(t.shape[1] for t in taps) * POOLED_SIZE**2
    assert any(isinstance(m, nn.LeakyReLU) for m in model.modules())
    assert any(isinstance(m, nn.MaxPool2d) for m in model.modules())
    assert sum(isinstance(m, nn.Linear) for m in model.modules()) == 2


def test_softmax_output_and_timm_backbone_from_scratch() -> None:
    images = torch.randn(2, 3, 224, 224)
    for arch in ("shortcut-concat", "mobilenetv3_small_050", "resnet10t"):
        model = build_model(arch, num_classes=3).eval()
        with torch.inference_mode():
            probabilities = model(images).softmax(dim=1)
        assert probabilities.shape == (2, 3)
        assert torch.allclose(probabilities.sum(dim=1), torch.ones(2))
