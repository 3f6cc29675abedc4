"""Super-resolution quality on held-out patients (SPEC E6; issue 17, item 3).

The four test patients of ``scripts/train_superres.py``'s 6:2:2 patient split of the native
40× MoNuSeg tiles (never seen in training or model choice): each tile is degraded as
low-resolution storage does (area downsampling, JPEG 90) by ×4 and ×8 and enlarged back by
bicubic interpolation (the baseline), the shipped L1 generator and the shipped GAN
generator. Against the real 40× tile:

- PSNR and SSIM, mean over the test patients, with each patient's value (four patients: no
  interval is honest; the spread is shown instead);
- a task check: the shipped lung tile classifier's class on 500-px fields (four per tile)
  of the enlarged and of the real tile — agreement;
- a nucleus count (hematoxylin channel, Otsu threshold, distance-transform watershed) on the
  enlarged and the real tile — mean relative error.

Side-by-side crops (real / bicubic / L1 / GAN) are written to ``test-artifacts/superres``.
The last line is API.md's result line: ×4 GAN PSNR against bicubic.

    .venv/bin/python bench/superres_quality.py
"""

from __future__ import annotations

import statistics
import sys
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from scipy import ndimage
from skimage.color import rgb2hed
from skimage.feature import peak_local_max
from skimage.filters import threshold_otsu
from skimage.metrics import peak_signal_noise_ratio, structural_similarity
from skimage.segmentation import watershed

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ROOT, result_line
from pathodesk.analysis.superres import super_resolve_tiled
from pathodesk.ml.model_file import load_model
from pathodesk.ml.superres_data import bicubic, cropped_to_multiple, degrade
from pathodesk.ml.superres_model import load_superres_model

sys.path.insert(0, str(ROOT / "scripts"))
from train_superres import SHARED_DATA, SOURCE, monuseg_tiles, patient_splits

SHIPPED = ROOT / "src" / "pathodesk" / "shipped_models"
OUT = ROOT / "test-artifacts" / "superres"
FIELD_PX = 500  # task check: fields of the tile the lung classifier sees (resized to its input)
CROP_PX = 192  # side-by-side picture: a crop this size of each test tile


def nuclei(image: np.ndarray) -> int:
    """Nuclei in an H&E image: Otsu on the hematoxylin channel, watershed on distance peaks."""
    hematoxylin = rgb2hed(image)[..., 0]
    mask = hematoxylin > threshold_otsu(hematoxylin)
    mask = ndimage.binary_opening(mask, iterations=2)
    distance = ndimage.distance_transform_edt(mask)
    peaks = peak_local_max(distance, min_distance=7, labels=ndimage.label(mask)[0], exclude_border=False)
    markers = np.zeros(mask.shape, np.int32)
    markers[tuple(peaks.T)] = np.arange(1, len(peaks) + 1)
    labels = watershed(-distance, markers, mask=mask)
    sizes = np.bincount(labels.ravel())[1:]
    return int((sizes >= 30).sum())  # at 40×, a nucleus is ≥ 30 px


class LungClassifier:
    def __init__(self) -> None:
        loaded = load_model(SHIPPED / "lung" / "model.pt")
        self.model, self.side = loaded.model, loaded.image_px
        self.mean = torch.tensor(loaded.normalization.mean).view(1, 3, 1, 1)
        self.std = torch.tensor(loaded.normalization.std).view(1, 3, 1, 1)

    @torch.inference_mode()
    def classes(self, image: np.ndarray) -> list[int]:
        fields = [
            np.asarray(
                Image.fromarray(image[y : y + FIELD_PX, x : x + FIELD_PX]).resize(
                    (self.side, self.side), Image.Resampling.BILINEAR
                )
            )
            for y in range(0, image.shape[0] - FIELD_PX + 1, FIELD_PX)
            for x in range(0, image.shape[1] - FIELD_PX + 1, FIELD_PX)
        ]
        batch = torch.from_numpy(np.stack(fields)).permute(0, 3, 1, 2).float() / 255
        return self.model((batch - self.mean) / self.std).argmax(1).tolist()


def main() -> None:
    root = SHARED_DATA / SOURCE
    if not root.is_dir():
        sys.exit(f"needs {root} (PATHODESK_SHARED_DATA_DIR)")
    test = patient_splits(monuseg_tiles(root))["test"]
    classifier = LungClassifier()
    OUT.mkdir(parents=True, exist_ok=True)
    patients = ", ".join(image.group for image in test)
    print(f"{SOURCE}: {len(test)} test patients ({patients}), never trained on\n")
    print("| scale | method | PSNR dB, mean (per patient) | SSIM | lung classifier agrees | nuclei error |")
    print("|---|---|---|---|---|---|")
    summary: dict[tuple[int, str], float] = {}
    for scale in (4, 8):
        generators = {
            "L1 generator": load_superres_model(SHIPPED / f"superres-x{scale}-l1" / "model.pt").model,
            "GAN generator": load_superres_model(SHIPPED / f"superres-x{scale}" / "model.pt").model,
        }
        rows: dict[str, dict[str, list[float]]] = {}
        crops: list[list[np.ndarray]] = []
        for image in test:
            real = cropped_to_multiple(image.pixels, scale)
            low = degrade(real, scale)
            outputs = {"bicubic": bicubic(low, scale)}
            outputs |= {name: super_resolve_tiled(model, low) for name, model in generators.items()}
            truth_classes, truth_nuclei = classifier.classes(real), nuclei(real)
            centre = (real.shape[0] - CROP_PX) // 2
            window = np.s_[centre : centre + CROP_PX, centre : centre + CROP_PX]
            crops.append([real[window], *(output[window] for output in outputs.values())])
            for name, output in outputs.items():
                row = rows.setdefault(name, {"psnr": [], "ssim": [], "agree": [], "nuclei": []})
                row["psnr"].append(peak_signal_noise_ratio(real, output, data_range=255))
                row["ssim"].append(structural_similarity(real, output, channel_axis=2, data_range=255))
                classes = classifier.classes(output)
                row["agree"] += [float(a == b) for a, b in zip(classes, truth_classes, strict=True)]
                row["nuclei"].append(abs(nuclei(output) - truth_nuclei) / max(truth_nuclei, 1))
        for name, row in rows.items():
            per_patient = ", ".join(f"{value:.1f}" for value in row["psnr"])
            psnr = statistics.mean(row["psnr"])
            summary[(scale, name)] = psnr
            print(
                f"| ×{scale} | {name} | {psnr:.2f} ({per_patient}) | {statistics.mean(row['ssim']):.3f}"
                f" | {statistics.mean(row['agree']):.0%} of {len(row['agree'])} fields"
                f" | {statistics.mean(row['nuclei']):.1%} |"
            )
        picture = np.concatenate([np.concatenate(row, axis=1) for row in crops], axis=0)
        Image.fromarray(picture).save(OUT / f"x{scale}-real-bicubic-l1-gan.png")
    for scale in (4, 8):
        gain = summary[(scale, "GAN generator")] - summary[(scale, "bicubic")]
        l1_gain = summary[(scale, "L1 generator")] - summary[(scale, "bicubic")]
        print(f"×{scale}: GAN {gain:+.2f} dB, L1 {l1_gain:+.2f} dB over bicubic")
    print(f"pictures (columns real, bicubic, L1, GAN; one row a test patient): {OUT}")
    print(
        result_line(
            "superres_quality",
            summary[(4, "GAN generator")],
            summary[(4, "bicubic")],
            "PSNR dB",
            "bicubic (x4, same degraded input)",
            patients=len(test),
            x8_ours=round(summary[(8, "GAN generator")], 3),
            x8_bicubic=round(summary[(8, "bicubic")], 3),
        )
    )


if __name__ == "__main__":
    main()
