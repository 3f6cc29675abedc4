"""Make a model folder's int8 variant and record it in the model card (issue 22, item 5).

Post-training quantisation with NNCF (OpenVINO's tool, the `dev` extra) calibrated on 300
training tiles of the folder's own ``splits.csv``; the variant is kept only if it agrees
with the fp32 model on at least 99.5 % of the test tiles. The card's ``int8`` entry says how
it was made, its agreement and accuracy on the test split and its model-only speed against
the fp32 engine on this machine. Analyses use it with ``PATHODESK_INT8=1`` (``analysis.int8``).

    .venv/bin/python scripts/quantize_model.py src/pathodesk/shipped_models/lung \
        ../shared/data/lc25000-lung-224
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from pathodesk.analysis.inference import BATCH_SIZE, inference_model, model_threads, predict, to_batch
from pathodesk.analysis.int8 import Int8Model
from pathodesk.ml.model_file import LoadedModel, load_model
from pathodesk.ml.model_folder import CARD_FILE, INT8_FILES, MODEL_FILE, split_rows

CALIBRATION_TILES = 300
MIN_AGREEMENT = 0.995


def split_batches(
    folder: Path, tiles: Path, loaded: LoadedModel, split: str, limit: int | None = None
) -> tuple[list[torch.Tensor], np.ndarray]:
    """Normalised channels-last batches of one split, and the class index of each tile."""
    rows = split_rows(folder / "splits.csv", tiles, split)[:limit]
    side = loaded.image_px
    pixels = np.stack([np.asarray(Image.open(path).convert("RGB").resize((side, side))) for path, _ in rows])
    batches = [
        to_batch(pixels[i : i + BATCH_SIZE], loaded.normalization) for i in range(0, len(pixels), BATCH_SIZE)
    ]
    return batches, np.array([loaded.labels.index(label) for _, label in rows])


def run(
    model: Callable[[torch.Tensor], torch.Tensor], batches: list[torch.Tensor]
) -> tuple[np.ndarray, float]:
    """Probabilities and tiles/s (best of 3), one batch per core as the engine runs."""
    with model_threads(torch.get_num_threads()) as pool:
        list(pool.map(lambda b: predict(model, b), batches[:4]))  # each thread's first call
        best, out = 0.0, []
        for _ in range(3):
            started = time.perf_counter()
            out = list(pool.map(lambda b: predict(model, b), batches))
            best = max(best, sum(len(b) for b in batches) / (time.perf_counter() - started))
    return np.concatenate(out), best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, help="model folder (model.pt, card.json, splits.csv)")
    parser.add_argument("tiles", type=Path, help="the folder the splits' paths are relative to")
    args = parser.parse_args()
    import nncf
    import openvino as ov

    loaded = load_model(args.folder / MODEL_FILE)
    calibration, _ = split_batches(args.folder, args.tiles, loaded, "train", CALIBRATION_TILES)
    test, truth = split_batches(args.folder, args.tiles, loaded, "test")
    side = loaded.image_px
    converted = ov.convert_model(loaded.model.eval(), example_input=torch.zeros(1, 3, side, side))
    samples = [b[i : i + 1].contiguous().numpy() for b in calibration for i in range(len(b))]
    preset = nncf.QuantizationPreset.MIXED  # asymmetric activations: hard-swish outputs are not centred
    quantised = nncf.quantize(converted, nncf.Dataset(samples), subset_size=len(samples), preset=preset)
    steps = ov.preprocess.PrePostProcessor(quantised)  # take channels-last batches as they are
    steps.input().tensor().set_layout(ov.Layout("NHWC"))
    steps.input().model().set_layout(ov.Layout("NCHW"))
    staging = args.folder / "int8.partial.xml"
    ov.save_model(steps.build(), str(staging))

    fp32, fp32_rate = run(inference_model(loaded), test)
    int8, int8_rate = run(Int8Model(staging, torch.get_num_threads()), test)
    agreement = float((fp32.argmax(1) == int8.argmax(1)).mean())
    record = {
        "runtime": f"OpenVINO {ov.get_version().split('-')[0]}",
        "quantisation": f"NNCF {nncf.__version__} post-training, {len(samples)} training tiles",
        "test_tiles": len(truth),
        "test_agreement_with_fp32": round(agreement, 4),
        "test_accuracy": {
            "fp32": round(float((fp32.argmax(1) == truth).mean()), 4),
            "int8": round(float((int8.argmax(1) == truth).mean()), 4),
        },
        "model_only_tiles_per_s": {"fp32": round(fp32_rate, 1), "int8": round(int8_rate, 1)},
        "speed_ratio": round(int8_rate / fp32_rate, 2),
        "made": datetime.now(UTC).date().isoformat(),
    }
    print(json.dumps(record))
    if agreement < MIN_AGREEMENT:
        for name in ("int8.partial.xml", "int8.partial.bin"):
            (args.folder / name).unlink(missing_ok=True)
        sys.exit(
            f"int8 agrees with fp32 on {agreement:.2%} of the test tiles (< {MIN_AGREEMENT:.1%}): not kept"
        )
    for final, name in zip(INT8_FILES, ("int8.partial.xml", "int8.partial.bin"), strict=True):
        (args.folder / name).replace(args.folder / final)
    card_path = args.folder / CARD_FILE
    card = json.loads(card_path.read_text())
    record["rests_on"] = (
        f"{len(truth)} test tiles in {card['splits']['test']['groups']} groups (the card's test split; "
        "its notes say what a group is and whether patients are known)"
    )
    card["int8"] = record
    card_path.write_text(json.dumps(card, indent=2) + "\n")


if __name__ == "__main__":
    main()
