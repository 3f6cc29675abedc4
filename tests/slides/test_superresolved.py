"""Low-resolution storage read at full magnification (SPEC E1, E8; issue 17, items 1, 4, 6):
the reduced pyramid keeps 1/64 of the pixels and says what it is, the reader gives back the
scan's geometry, and regions cut anywhere join into the same picture as one large one."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from pathodesk.analysis.superres_service import generator_enlarge
from pathodesk.ml.superres_nets import SuperResolutionNet
from pathodesk.slides import open_slide
from pathodesk.slides.downsampled import DownsampledReader
from pathodesk.slides.pyramid import write_pyramid
from pathodesk.slides.superresolved import SuperResolvedReader, bicubic_enlarge, stored_downsample


@pytest.fixture(scope="module")
def low_pyramid(samples: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("low") / "cmu-low8.tif"
    reader = open_slide(samples["svs"])
    try:
        width, height = reader.info.dimensions
        write_pyramid(
            DownsampledReader(reader, 8),
            target,
            describe={"stored_downsample": "8", "scan_size": f"{width}x{height}"},
        )
    finally:
        reader.close()
    return target


def _generator() -> SuperResolutionNet:
    torch.manual_seed(3)
    model = SuperResolutionNet(8, width=16, blocks=2)
    with torch.no_grad():
        for parameter in model.decoder[-2].parameters():
            parameter.normal_(0, 0.05)  # not bicubic: the test must see the network's reach
    return model.eval()


def test_the_reduced_pyramid_keeps_a_sixty_fourth_and_says_so(
    samples: dict[str, Path], low_pyramid: Path
) -> None:
    scan = open_slide(samples["svs"])
    stored = open_slide(low_pyramid)
    try:
        assert stored_downsample(stored.info) == 8 and stored_downsample(scan.info) == 1
        width, height = scan.info.dimensions
        assert stored.info.dimensions == (-(-width // 8), -(-height // 8))
        assert stored.info.mpp_x == pytest.approx(scan.info.mpp_x * 8)
        # the stored pixels are the scan's, area-averaged 8 × 8
        block = scan.read_region((800, 800), 0, (64, 64)).astype(float)
        expected = block.reshape(8, 8, 8, 8, 3).mean(axis=(1, 3))
        assert np.abs(stored.read_region((100, 100), 0, (8, 8)).astype(float) - expected).mean() < 4  # JPEG
    finally:
        scan.close()
        stored.close()


def test_the_reader_gives_back_the_scans_geometry(samples: dict[str, Path], low_pyramid: Path) -> None:
    scan = open_slide(samples["svs"])
    reader = SuperResolvedReader(open_slide(low_pyramid), bicubic_enlarge)
    try:
        assert reader.info.dimensions == scan.info.dimensions
        assert reader.info.mpp_x == pytest.approx(scan.info.mpp_x)
        assert reader.info.level_downsamples[:4] == (1.0, 2.0, 4.0, 8.0)
        assert [reader.is_generated(level) for level in range(4)] == [True, True, True, False]
        for level in (0, 1, 2):
            region = reader.read_region((1000, 1200), level, (64, 64))
            assert region.shape == (64, 64, 3)
        generated = reader.read_region((1000, 1200), 0, (256, 256)).astype(float)

        def softened_error(dx: int) -> float:
            """Mean difference to the scan ``dx`` px to the right, fine detail blurred away."""
            real = scan.read_region((1000 + dx, 1200), 0, (256, 256)).astype(float)
            return float(
                np.abs(cv2.GaussianBlur(generated, (0, 0), 6) - cv2.GaussianBlur(real, (0, 0), 6)).mean()
            )

        assert softened_error(0) < 4 < softened_error(4)  # the same tissue, in the same place
        shifted = reader.read_region((1000 + 64, 1200), 0, (256, 256)).astype(float)
        assert np.abs(shifted[:, :192] - generated[:, 64:]).max() <= 1  # level-0 coordinates line up
        edge = reader.read_region((scan.info.dimensions[0] - 100, 0), 0, (256, 64))
        assert (edge[:, 110:] == 255).all()  # beyond the slide: white, as stored levels are
    finally:
        scan.close()
        reader.close()


@pytest.mark.parametrize("level", [0, 1, 2])
def test_regions_cut_anywhere_join_without_seams(low_pyramid: Path, level: int) -> None:
    reader = SuperResolvedReader(open_slide(low_pyramid), generator_enlarge({8: _generator()}))
    try:
        origin, side = (640, 960), 192
        whole = reader.read_region(origin, level, (2 * side, 2 * side)).astype(int)
        step = side * 2**level  # a region's size in level-0 pixels
        for dy in (0, 1):
            for dx in (0, 1):
                part = reader.read_region(
                    (origin[0] + dx * step, origin[1] + dy * step), level, (side, side)
                ).astype(int)
                expected = whole[dy * side : (dy + 1) * side, dx * side : (dx + 1) * side]
                assert np.abs(part - expected).max() <= 2, (level, dx, dy)  # float rounding only
        seamless = SuperResolvedReader(open_slide(low_pyramid), generator_enlarge({8: _generator()}), 0)
        part = seamless.read_region((origin[0] + step, origin[1]), level, (side, side)).astype(int)
        assert np.abs(part - whole[:side, side:]).max() > 4  # without context the test sees seams
        seamless.close()
    finally:
        reader.close()
