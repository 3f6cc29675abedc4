"""TIAToolbox's PatchPredictor on the tiles PathoDesk classified (issue 22, item 4).

Runs in the bench's own virtual environment (TIAToolbox 2.1.3 needs torch < 2.13), so it
imports nothing of PathoDesk: the weights come as a state dict of the same timm network,
the tiles as a mask with one pixel per tile cell, so that TIAToolbox's own patch extraction
(with its OpenSlide reader, stride = patch) picks exactly the same tiles.

    python _tiatoolbox_predict.py JOB.json   ->   one JSON line; probabilities in JOB's "out"
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np
import timm
import torch
import zarr
from tiatoolbox.models.engine.patch_predictor import PatchPredictor
from tiatoolbox.models.models_abc import ModelABC
from tiatoolbox.wsicore.wsireader import OpenSlideWSIReader


class Classifier(ModelABC):
    """The timm network with PathoDesk's normalisation in front and softmax behind."""

    def __init__(self, arch: str, classes: int, mean: list[float], std: list[float]) -> None:
        super().__init__()
        self.net = timm.create_model(arch, pretrained=False, num_classes=classes)
        self.register_buffer("mean", torch.tensor(mean).view(1, 3, 1, 1) * 255)
        self.register_buffer("std", torch.tensor(std).view(1, 3, 1, 1) * 255)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.net((images - self.mean) / self.std), dim=1)

    @staticmethod
    def infer_batch(model: torch.nn.Module, batch_data: torch.Tensor, *, device: str = "cpu") -> np.ndarray:
        images = batch_data.to(device=device, dtype=torch.float32).permute(0, 3, 1, 2).contiguous()
        model.eval()
        with torch.inference_mode():
            return model(images).cpu().numpy()


def main() -> None:
    job = json.loads(Path(sys.argv[1]).read_text())
    torch.set_num_threads(job["threads"])
    model = Classifier(job["arch"], job["classes"], job["mean"], job["std"])
    model.net.load_state_dict(torch.load(job["weights"], map_location="cpu"))
    mask = np.load(job["mask"])
    predictor = PatchPredictor(model=model, batch_size=job["batch"], num_workers=0, verbose=False)
    tile = job["tile_px"]
    started = time.perf_counter()
    output = predictor.run(
        images=[OpenSlideWSIReader(job["slide"])],
        masks=[mask],
        patch_mode=False,
        patch_input_shape=(tile, tile),
        stride_shape=(tile, tile),
        input_resolutions=[{"units": "baseline", "resolution": 1.0}],
        return_probabilities=True,
        output_type="dict",
        save_dir=Path(job["scratch"]) / "tiatoolbox-output",
        overwrite=True,
        auto_get_mask=False,
    )
    seconds = time.perf_counter() - started
    saved = zarr.open(str(next(iter(output.values()))), mode="r")  # a whole slide's output: zarr
    probabilities, coordinates = np.asarray(saved["probabilities"]), np.asarray(saved["coordinates"])
    np.savez(job["out"], probabilities=probabilities, coordinates=coordinates)
    print(json.dumps({"seconds": seconds, "patches": len(probabilities), "torch": torch.__version__}))


if __name__ == "__main__":
    main()
