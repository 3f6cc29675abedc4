"""int8 and bf16 for the shipped lung tile model (issue 22, item 5): model-only throughput
of each variant against PathoDesk's engine (TorchScript, frozen, one batch per core), and
how often each agrees with it on the lung test split.

Variants: OpenVINO fp32 / bf16 / int8 (NNCF post-training quantisation) and ONNX Runtime
fp32 / int8 (static QDQ, per channel), calibrated on 300 training tiles. They run in a
virtual environment the bench makes once under ``bench-results/`` (never a project
dependency). Target: ≥ 1.8× the engine's throughput with ≥ 99.5 % argmax agreement.

    .venv/bin/python bench/quantize.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ROOT, result_line, side_venv
from analyze import model_only
from pathodesk.analysis.inference import BATCH_SIZE, to_batch
from pathodesk.ml.model_file import LoadedModel, load_model
from pathodesk.ml.model_folder import split_rows
from pathodesk.ml.registry import SHIPPED_DIR

PINS = (
    "torch==2.14.1",
    "torchvision==0.29.1",
    "timm==1.0.31",
    "openvino==2026.4.1",
    "nncf==3.4.0",
    "onnxruntime==1.30.0",
    "onnx==1.23.1",
    "onnxscript==0.7.2",
)
VARIANTS = Path(__file__).resolve().parent / "_quantize_variants.py"
TARGET_SPEED, TARGET_AGREEMENT = 1.8, 0.995
ENGINE = "PathoDesk engine (TorchScript fp32)"


def tiles(
    shared: Path, loaded: LoadedModel, split: str, limit: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Normalised NCHW tiles of one split of the model's card, and their class indices."""
    rows = split_rows(SHIPPED_DIR / "lung" / "splits.csv", shared, split)[:limit]
    side = loaded.image_px
    pixels = np.stack([np.asarray(Image.open(path).convert("RGB").resize((side, side))) for path, _ in rows])
    batch = to_batch(pixels, loaded.normalization).contiguous().numpy()
    return batch, np.array([loaded.labels.index(label) for _, label in rows])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    shared = Path(os.environ.get("PATHODESK_SHARED_DATA_DIR", ROOT.parent / "shared" / "data"))
    lung = shared / "lc25000-lung-224"
    if not lung.is_dir():
        raise SystemExit(f"needs {lung} (../shared/data)")
    loaded = load_model(SHIPPED_DIR / "lung" / "model.pt")
    calibration, _ = tiles(lung, loaded, "train", 300)
    test, truth = tiles(lung, loaded, "test")
    layout = torch.channels_last  # as the engine's batches are
    batches = [
        torch.from_numpy(test[i : i + BATCH_SIZE]).contiguous(memory_format=layout)
        for i in range(0, len(test), BATCH_SIZE)
    ]
    model_only(batches[:2], loaded)  # warm-up
    ours_rate, ours = 0.0, np.zeros(0)
    for _ in range(args.repeats):
        started = time.perf_counter()
        ours = model_only(batches, loaded)
        ours_rate = max(ours_rate, len(test) / (time.perf_counter() - started))
    python, cost = side_venv("quantize-venv", PINS)
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        np.save(folder / "calibration.npy", calibration)
        np.save(folder / "test.npy", test)
        torch.save(loaded.model.state_dict(), folder / "weights.pt")
        job = {
            "weights": str(folder / "weights.pt"),
            "arch": loaded.arch,
            "classes": len(loaded.labels),
            "calibration": str(folder / "calibration.npy"),
            "test": str(folder / "test.npy"),
            "batch": BATCH_SIZE,
            "threads": torch.get_num_threads(),
            "repeats": args.repeats,
            "out": str(folder / "logits.npz"),
            "scratch": scratch,
        }
        (folder / "job.json").write_text(json.dumps(job))
        ran = subprocess.run(
            [str(python), str(VARIANTS), str(folder / "job.json")], capture_output=True, text=True
        )
        if ran.returncode:
            raise SystemExit(ran.stderr[-3000:])
        rates = json.loads(ran.stdout.strip().splitlines()[-1])["tiles_per_s"]
        logits = dict(np.load(folder / "logits.npz"))
    ours_class = ours.argmax(1)
    ours_accuracy = round(float((ours_class == truth).mean()), 4)
    rows = {
        ENGINE: {
            "tiles_per_s": round(ours_rate, 1),
            "ratio": 1.0,
            "agreement": 1.0,
            "accuracy": ours_accuracy,
        }
    }
    print(json.dumps({"variant": ENGINE, **rows[ENGINE]}))
    for name, values in logits.items():
        rows[name] = {
            "tiles_per_s": round(rates[name], 1),
            "ratio": round(rates[name] / ours_rate, 2),
            "agreement": round(float((values.argmax(1) == ours_class).mean()), 4),
            "accuracy": round(float((values.argmax(1) == truth).mean()), 4),
        }
        print(json.dumps({"variant": name, **rows[name]}))
    meeting = [
        n for n, r in rows.items() if r["ratio"] >= TARGET_SPEED and r["agreement"] >= TARGET_AGREEMENT
    ]
    keepable = [n for n, r in rows.items() if r["agreement"] >= TARGET_AGREEMENT and n in logits]
    best = max(keepable, key=lambda n: rows[n]["tiles_per_s"]) if keepable else next(iter(rows))
    print(
        result_line(
            "quantize",
            rows[best]["tiles_per_s"],
            ours_rate,
            "tiles/s, model only, lung test split",
            "PathoDesk's engine: TorchScript fp32, one batch per core",
            best_variant_with_agreement=best,
            agreement=rows[best]["agreement"],
            meets_target=bool(meeting),
            test_tiles=len(test),
            **cost,
        )
    )


if __name__ == "__main__":
    main()
