"""Pictures of an analysis on any slide files (issue 7, item 4: "show the result"): the
thumbnail with the tumour probability heatmap and the outlines (hull in red, tile outline
in yellow), one PNG per slide, plus a JSON line per slide.

    .venv/bin/python scripts/analysis_pictures.py --disease-type lung --out bench-results/pictures SLIDE...
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import cv2
import numpy as np

from pathodesk.analysis.autoannotate import find_regions, slide_label
from pathodesk.analysis.params import params_from_record
from pathodesk.analysis.run import analyze_slide
from pathodesk.ml.model_file import load_model
from pathodesk.ml.registry import SHIPPED_DIR
from pathodesk.slides import open_slide, thumbnail


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("slides", nargs="+", type=Path)
    parser.add_argument("--disease-type", default="lung")
    parser.add_argument("--out", type=Path, default=Path("bench-results/analysis-pictures"))
    args = parser.parse_args()
    loaded = load_model(SHIPPED_DIR / args.disease_type / "model.pt")
    params = params_from_record(None, loaded.labels)  # background: the normal class
    args.out.mkdir(parents=True, exist_ok=True)
    for path in args.slides:
        reader = open_slide(path)
        outcome = analyze_slide(reader, loaded, params)
        picture = np.array(thumbnail(reader, 900))
        scale = reader.info.dimensions[0] / picture.shape[1]
        tumour = [i for i, name in enumerate(loaded.labels) if name not in params.background_labels]
        heat = np.zeros(picture.shape[:2], np.float32)
        for tile, row in zip(outcome.results.tiles, outcome.results.probabilities, strict=True):
            x0, y0 = int(tile.x / scale), int(tile.y / scale)
            x1, y1 = int((tile.x + tile.size) / scale), int((tile.y + tile.size) / scale)
            heat[y0:y1, x0:x1] = row[tumour].sum()
        tint = np.zeros_like(picture)
        tint[..., 0] = 255
        alpha = (heat * 0.45)[..., None]
        picture = (picture * (1 - alpha) + tint * alpha).astype(np.uint8)
        for kind, colour in (("hull", (255, 0, 0)), ("tiles", (255, 220, 0))):
            for region in find_regions(outcome.results, params, kind):  # type: ignore[arg-type]
                for part in getattr(region.outline, "geoms", [region.outline]):
                    ring = (np.asarray(part.exterior.coords) / scale).astype(np.int32)
                    cv2.polylines(picture, [ring], True, colour, 2)
        target = args.out / f"{path.stem}.png"
        cv2.imwrite(str(target), cv2.cvtColor(picture, cv2.COLOR_RGB2BGR))
        summary = {
            "slide": path.name,
            "tiles": len(outcome.results.tiles),
            "tile_px": outcome.results.tile_px,
            "slide_label": slide_label(outcome.regions, params, loaded.labels),
            "regions": [(r.label, round(r.probability, 3), r.tile_count) for r in outcome.regions],
            "picture": str(target),
        }
        print(json.dumps(summary))


if __name__ == "__main__":
    main()
