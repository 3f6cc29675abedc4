"""Training and inference throughput: PathoDesk's pipeline + model against a naive per-image
loop, same model (the seed ShortcutConcatNet unless --arch), same images, same batch size.

Ours: every image decoded once into one uint8 tensor (ImageBank), crops and normalisation
done per batch in torch, channels-last memory, torch.inference_mode for inference.
Baseline: what a first script does: each step opens every image with PIL, applies
torchvision's PIL transforms (RandomResizedCrop, ToTensor, Normalize) one by one and stacks
them; inference runs one image at a time under torch.no_grad. Decoding is counted for both.

    .venv/bin/python bench/train.py [--images 480] [--epochs 2] [--data DIR]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import torch
from PIL import Image
from torchvision import transforms

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import result_line
from pathodesk.ml.data import LabelledSet, scan_class_folders
from pathodesk.ml.nets import build_model
from pathodesk.ml.pipeline import CROP_RATIO, CROP_SCALE, Batches, ImageBank

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("PATHODESK_SHARED_DATA_DIR", ROOT.parent / "shared" / "data"))
BATCH = 32


def subset(data: LabelledSet, count: int) -> LabelledSet:
    per_class = count // len(data.labels)
    chosen = [
        s
        for label in range(len(data.labels))
        for s in [x for x in data.samples if x.label == label][:per_class]
    ]
    return LabelledSet(data.labels, chosen)


def train_steps(model: torch.nn.Module, batches: object) -> int:
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    seen = 0
    model.train()
    for images, labels in batches:  # type: ignore[attr-defined]
        optimizer.zero_grad(set_to_none=True)
        torch.nn.functional.cross_entropy(model(images), labels).backward()
        optimizer.step()
        seen += len(labels)
    return seen


def naive_batches(data: LabelledSet, epochs: int, px: int, mean: list[float], std: list[float]):  # type: ignore[no-untyped-def]
    augment = transforms.Compose(
        [
            transforms.RandomResizedCrop(px, scale=CROP_SCALE, ratio=CROP_RATIO),
            transforms.ToTensor(),
            transforms.Normalize(mean, std),
        ]
    )
    for _ in range(epochs):
        order = torch.randperm(len(data.samples)).tolist()
        for start in range(0, len(order), BATCH):
            chosen = [data.samples[i] for i in order[start : start + BATCH]]
            images = torch.stack(
                [augment(Image.open(s.path).convert("RGB").resize((px, px))) for s in chosen]
            )
            yield images, torch.tensor([s.label for s in chosen])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=SHARED / "lc25000-lung-224")
    parser.add_argument("--images", type=int, default=480)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--arch", default="shortcut-concat")
    parser.add_argument("--px", type=int, default=224)
    args = parser.parse_args()
    torch.set_num_threads(2)
    data = subset(scan_class_folders(args.data), args.images)
    n = len(data.samples)

    torch.manual_seed(0)
    model = build_model(args.arch, len(data.labels)).to(memory_format=torch.channels_last)
    started = time.perf_counter()
    bank = ImageBank(data.samples, args.px)
    normalization = bank.normalization(data.samples)
    seen = sum(
        train_steps(model, Batches(bank, data.samples, normalization, BATCH, train=True, seed=e))
        for e in range(args.epochs)
    )
    ours_train = seen / (time.perf_counter() - started)

    torch.manual_seed(0)
    naive_model = build_model(args.arch, len(data.labels))
    mean, std = list(normalization.mean), list(normalization.std)
    started = time.perf_counter()
    seen = train_steps(naive_model, naive_batches(data, args.epochs, args.px, mean, std))
    naive_train = seen / (time.perf_counter() - started)

    model.eval()
    started = time.perf_counter()
    bank = ImageBank(data.samples, args.px)  # decoding counted again
    with torch.inference_mode():
        for images, _ in Batches(bank, data.samples, normalization, 64, train=False):
            model(images).softmax(1)
    ours_infer = n / (time.perf_counter() - started)

    naive_model.eval()
    plain = transforms.Compose([transforms.ToTensor(), transforms.Normalize(mean, std)])
    started = time.perf_counter()
    with torch.no_grad():
        for sample in data.samples:
            image = Image.open(sample.path).convert("RGB").resize((args.px, args.px))
            naive_model(plain(image).unsqueeze(0)).softmax(1)
    naive_infer = n / (time.perf_counter() - started)

    print(
        result_line(
            "train",
            ours_train,
            naive_train,
            "training images/s (2 CPU threads)",
            "per-image PIL loop + torchvision transforms, same model",
            inference_ours=round(ours_infer, 1),
            inference_baseline=round(naive_infer, 1),
            inference_ratio=round(ours_infer / naive_infer, 2),
            arch=args.arch,
            images=n,
            epochs=args.epochs,
        )
    )


if __name__ == "__main__":
    main()
