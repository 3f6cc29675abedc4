"""Reading low-resolution slides at full magnification (SPEC E8): which generator enlarges a
slide's pixels, and the slide readers that use it.

A slide's disease type picks its active super-resolution models (one per scale, E6); a type
without its own uses the general ones (registered under "unclassified": the shipped
generators learnt tissue of eight organs, not one disease). A
×8 level uses the ×8 model, ×4 the ×4 model, ×2 the ×4 model's output reduced by half; a
missing scale falls back to the other one, and with none the pixels are enlarged by bicubic
interpolation (and the viewer is told, through ``tag``, that nothing is generated).
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING

import cv2
import numpy as np

from pathodesk.config import Settings
from pathodesk.db.session import Database
from pathodesk.ml.registry import GENERAL_TYPE, active_model, load_superres
from pathodesk.ml.superres_arch import SUPERRES_SCALES
from pathodesk.slides.base import SlideReader
from pathodesk.slides.superresolved import Enlarge, SuperResolvedReader, bicubic_enlarge, stored_downsample

if TYPE_CHECKING:  # torch comes with the first generator, not with the server's start
    from pathodesk.ml.superres_nets import SuperResolutionNet

MODELS_TTL_SECONDS = 10.0  # activating another model reaches the viewer within this
BICUBIC = "bicubic"


def _reduced(image: np.ndarray, factor: int) -> np.ndarray:
    return cv2.resize(
        image, (image.shape[1] // factor, image.shape[0] // factor), interpolation=cv2.INTER_AREA
    )


def generator_enlarge(models: dict[int, SuperResolutionNet]) -> Enlarge:
    """An ``Enlarge`` from the generators at hand (by scale); bicubic when there are none."""

    def enlarge(low: np.ndarray, factor: int) -> np.ndarray:
        if not models:
            return bicubic_enlarge(low, factor)
        # the smallest generator scale that reaches the factor, else the largest there is
        scale = min((s for s in models if s >= factor), default=max(models))
        from pathodesk.ml.superres_model import super_resolve

        high = super_resolve(models[scale], low)
        if scale > factor:
            return _reduced(high, scale // factor)
        if scale < factor:
            return bicubic_enlarge(high, factor // scale)
        return high

    return enlarge


class SuperResolution:
    """The active generators per disease type, looked up every few seconds, loaded once."""

    def __init__(self, settings: Settings, db: Database) -> None:
        self.settings, self.db = settings, db
        self._lock = threading.Lock()
        self._looked_up: dict[str, tuple[float, dict[int, SuperResolutionNet], str]] = {}

    def _models(self, disease_type: str) -> tuple[dict[int, SuperResolutionNet], str]:
        now = time.monotonic()
        with self._lock:
            found = self._looked_up.get(disease_type)
        if found is not None and found[0] > now:
            return found[1], found[2]
        models: dict[int, SuperResolutionNet] = {}
        tags = []
        with self.db.session() as session:
            for scale in SUPERRES_SCALES:
                record = active_model(session, disease_type, "superres", scale) or active_model(
                    session, GENERAL_TYPE, "superres", scale
                )  # a type without its own generator of this scale uses the general one
                if record is not None:
                    models[scale] = load_superres(self.settings, record).model
                    tags.append(f"x{scale}:{record.sha256[:12]}")
        tag = ",".join(tags) or BICUBIC
        with self._lock:
            self._looked_up[disease_type] = (now + MODELS_TTL_SECONDS, models, tag)
        return models, tag

    def tag(self, disease_type: str) -> str:
        """Which generators enlarge this type's slides now (part of every generated tile's
        cache key, so activating another model never serves the old one's pixels)."""
        return self._models(disease_type)[1]

    def enlarger(self, disease_type: str) -> Enlarge:
        return generator_enlarge(self._models(disease_type)[0])

    def reader(self, stored: SlideReader, disease_type: str, stored_pixels: bool = False) -> SlideReader:
        """``stored`` at the scan's resolution when it is a low-resolution pyramid (E8);
        ``stored_pixels``: enlarged without generating (what the viewer's switch shows)."""
        if stored_downsample(stored.info) == 1:
            return stored
        enlarge = bicubic_enlarge if stored_pixels else self.enlarger(disease_type)
        return SuperResolvedReader(stored, enlarge)
