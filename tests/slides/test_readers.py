"""Readers on real slides: the CMU SVS from PyPI, our pyramid, and the shared formats."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import openslide
import pytest
import tifffile
from fastapi.testclient import TestClient

from pathodesk.errors import UnsupportedSlideError
from pathodesk.slides import open_slide, thumbnail
from pathodesk.slides.openslide_backend import OpenSlideReader
from pathodesk.slides.raster_backend import RasterSlideReader, build_pyramid
from pathodesk.slides.tiff_backend import TiffSlideReader
from tests.support.accounts import Accounts
from tests.support.http import login


def test_svs_metadata_comes_from_openslide(samples: dict[str, Path]) -> None:
    reader = open_slide(samples["svs"])
    assert isinstance(reader, OpenSlideReader)
    info = reader.info
    assert info.dimensions == (2220, 2967)
    assert info.vendor == "aperio"
    assert info.mpp_x == pytest.approx(0.499, abs=1e-3)
    assert info.objective_power == 20
    assert {"label", "macro"} <= set(info.associated_images)
    assert reader.associated_image("label").size[0] > 0


def test_svs_read_region_matches_openslide_pixels(samples: dict[str, Path]) -> None:
    reader = open_slide(samples["svs"])
    ours = reader.read_region((1000, 1200), 0, (300, 200))
    theirs = np.asarray(openslide.OpenSlide(str(samples["svs"])).read_region((1000, 1200), 0, (300, 200)))[
        ..., :3
    ]
    assert ours.shape == (200, 300, 3)
    assert np.array_equal(ours, theirs)
    # H&E tissue: pink/purple, not blank
    assert ours.std() > 10 and ours[..., 0].mean() > ours[..., 1].mean()


def test_outside_the_image_is_white_glass(samples: dict[str, Path]) -> None:
    reader = open_slide(samples["pyramid"])
    width, height = reader.info.dimensions
    region = reader.read_region((width - 10, height - 10), 0, (40, 40))
    assert (region[20:, :] == 255).all() and (region[:, 20:] == 255).all()
    assert region[:10, :10].std() > 0 or region[:10, :10].mean() < 255


def test_pyramid_regions_match_tifffile_whole_level(samples: dict[str, Path]) -> None:
    """Tiles copied straight onto the canvas: inside, across tile seams and over the edge,
    every pixel is the one tifffile decodes for the whole level."""
    import tifffile

    reader = open_slide(samples["pyramid"])
    level = 2
    whole = tifffile.imread(samples["pyramid"], key=level)
    height, width = whole.shape[:2]
    downsample = int(reader.info.level_downsamples[level])
    for x, y, w, h in ((250, 250, 300, 20), (0, 0, 1, 1), (width - 30, height - 40, 64, 64)):
        region = reader.read_region((x * downsample, y * downsample), level, (w, h))
        inside = whole[y : y + h, x : x + w]
        assert np.array_equal(region[: inside.shape[0], : inside.shape[1]], inside)
        assert (region[inside.shape[0] :] == 255).all() and (region[:, inside.shape[1] :] == 255).all()


def test_pyramid_levels_and_native_tiles(samples: dict[str, Path]) -> None:
    reader = open_slide(samples["pyramid"])
    assert isinstance(reader, TiffSlideReader)
    info = reader.info
    assert info.format == "pathodesk-pyramid"
    assert info.level_count >= 5
    assert info.level_downsamples[:4] == (1.0, 2.0, 4.0, 8.0)
    assert info.mpp_x == pytest.approx(0.2495, abs=1e-4)
    assert reader.native_tile_size(0) == (256, 256)
    jpeg = reader.native_jpeg_tile(0, 3, 4)
    assert jpeg is not None and jpeg[:2] == b"\xff\xd8"


def test_pyramid_levels_agree_with_each_other(samples: dict[str, Path]) -> None:
    """Level 2 is level 0 reduced 4x: same picture within JPEG noise."""
    reader = open_slide(samples["pyramid"])
    fine = reader.read_region((1024, 1024), 0, (1024, 1024)).astype(np.float32)
    coarse = reader.read_region((1024, 1024), 2, (256, 256)).astype(np.float32)
    reduced = fine.reshape(256, 4, 256, 4, 3).mean(axis=(1, 3))
    assert np.abs(reduced - coarse).mean() < 6


def test_openslide_reads_our_pyramid_too(samples: dict[str, Path]) -> None:
    """The pyramids we write are plain tiled TIFF: other tools (OpenSlide, QuPath) read them."""
    slide = openslide.OpenSlide(str(samples["pyramid"]))
    ours = open_slide(samples["pyramid"])
    assert slide.level_dimensions == ours.info.level_dimensions
    theirs = np.asarray(slide.read_region((512, 512), 1, (256, 256)))[..., :3].astype(int)
    mine = ours.read_region((512, 512), 1, (256, 256)).astype(int)
    assert np.abs(theirs - mine).mean() < 2


def test_raster_pyramid_has_deep_zoom_geometry() -> None:
    image = np.random.default_rng(1).integers(0, 255, (1001, 1535, 3), dtype=np.uint8)
    levels = build_pyramid(image, smallest_px=200)
    assert [lv.shape[:2] for lv in levels] == [(1001, 1535), (501, 768), (251, 384), (126, 192)]
    reader = RasterSlideReader.from_array(image)
    assert reader.info.level_downsamples[1] == 2.0


def test_png_opens_as_raster(tmp_path: Path, samples: dict[str, Path]) -> None:
    from PIL import Image

    region = open_slide(samples["svs"]).read_region((0, 0), 0, (700, 500))
    Image.fromarray(region).save(tmp_path / "tile.png")
    reader = open_slide(tmp_path / "tile.png")
    assert isinstance(reader, RasterSlideReader)
    assert np.array_equal(reader.read_region((0, 0), 0, (700, 500)), region)


@pytest.mark.parametrize(
    ("content", "message"),
    [(b"", "empty"), (b"hello, this is not a slide" * 10, "not a readable image")],
)
def test_non_slides_are_rejected_with_a_reason(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "bad.svs"
    path.write_bytes(content)
    with pytest.raises(UnsupportedSlideError, match=message):
        open_slide(path)


def test_truncated_svs_is_rejected(tmp_path: Path, samples: dict[str, Path]) -> None:
    data = samples["svs"].read_bytes()
    path = tmp_path / "truncated.svs"
    path.write_bytes(data[: len(data) // 3])
    with pytest.raises(UnsupportedSlideError):
        open_slide(path)


def test_truncated_pyramid_is_rejected(tmp_path: Path, samples: dict[str, Path]) -> None:
    data = samples["pyramid"].read_bytes()
    path = tmp_path / "truncated.tiff"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(UnsupportedSlideError):
        open_slide(path)


def test_thumbnail_is_bounded_and_coloured(samples: dict[str, Path]) -> None:
    image = thumbnail(open_slide(samples["pyramid"]), 256)
    assert max(image.size) == 256
    pixels = np.asarray(image)
    assert pixels.std() > 10


# ---- ../shared/data formats ------------------------------------------------------------


def test_shared_jpeg2000_svs_has_two_levels(shared_data: Path) -> None:
    reader = open_slide(shared_data / "wsi-samples" / "TCGA-CR-7395-01A-01-TS1.svs")
    assert reader.info.level_dimensions == ((4443, 3567), (2221, 1783))
    assert reader.info.mpp_x is None
    assert reader.read_region((2000, 1500), 1, (64, 64)).std() > 5


def test_shared_dicom_is_read_in_its_real_frame_order(shared_data: Path) -> None:
    """The non-conformant DICOM stores frames column by column; reading them row-major would
    put black padding frames inside the tissue."""
    reader = open_slide(shared_data / "wsi-samples" / "TCGA-XK-AAJU-01A-01-TS1_small_wsi.dcm")
    assert reader.info.dimensions == (3236, 2638)
    assert "column-major" in reader.info.properties["dicom.conformance"]
    whole = reader.read_region((0, 0), 0, reader.info.dimensions)
    black = (whole.sum(axis=2) < 40).mean()
    assert black < 0.01
    assert whole.std() > 20


def test_shared_strip_tiff_and_qptiff_and_ome(shared_data: Path) -> None:
    kidney = open_slide(shared_data / "wsi-samples" / "kidney-48-5_ihc.tif")
    assert kidney.info.dimensions == (1493, 901)
    qptiff = open_slide(shared_data / "wsi-samples" / "small_vectra_multiplex_fluorescence.qptiff")
    assert qptiff.info.format == "qptiff" and qptiff.info.mpp_x == pytest.approx(0.4965, abs=1e-3)
    fluorescence = qptiff.read_region((0, 0), 0, (1920, 1440))
    assert fluorescence.mean() < 60  # dark background, bright nuclei
    ome = open_slide(shared_data / "openslide-os-crops-ometiff" / "OS-2-vsi.ome.tif")
    assert ome.info.format == "ome-tiff" and ome.info.mpp_x == pytest.approx(0.346, abs=1e-3)


def test_ome_pixels_need_not_be_square(tmp_path: Path) -> None:
    """Issue 20, interop 6: PhysicalSizeY was ignored and mpp_y copied X."""
    path = tmp_path / "tall-pixels.ome.tif"
    pixels = np.full((64, 96, 3), 200, np.uint8)
    tifffile.imwrite(path, pixels, photometric="rgb", metadata={"PhysicalSizeX": 0.25, "PhysicalSizeY": 0.5})
    info = open_slide(path).info
    assert (info.mpp_x, info.mpp_y) == (pytest.approx(0.25), pytest.approx(0.5))


def test_qptiff_objective_and_channel_colours_come_from_the_file(shared_data: Path) -> None:
    path = shared_data / "wsi-samples" / "small_vectra_multiplex_fluorescence.qptiff"
    reader = open_slide(path)
    assert reader.info.objective_power == 10  # <Objective>10x</Objective>
    # each channel in the colour the scanner gives it: DAPI 0,0,255, FITC 0,255,0, the third
    # 255,255,0, so green carries FITC *and* the third channel (fixed colours gave it FITC only)
    pages = tifffile.TiffFile(path).pages
    assert "<Color>255,255,0</Color>" in (pages[2].description or "")
    dapi, fitc, third = (pages[i].asarray().astype(float) for i in range(3))
    rgb = reader.read_region((0, 0), 0, reader.info.dimensions).astype(float)

    def correlation(a: np.ndarray, b: np.ndarray) -> float:
        return float(np.corrcoef(a.ravel(), b.ravel())[0, 1])

    assert correlation(rgb[..., 2], dapi) > 0.99 and correlation(rgb[..., 0], third) > 0.99
    assert correlation(rgb[..., 1], fitc + third) > 0.999 > correlation(rgb[..., 1], fitc)


def test_the_slide_row_counts_the_levels_the_api_lists(
    app_client: TestClient, accounts: Accounts, samples: dict[str, Path]
) -> None:
    """Issue 20, interop 6: level_count said 1 for CMU while levels listed 4."""
    login(app_client, "expert-a")
    detail = app_client.post(
        "/api/v1/slides",
        files={"file": ("cmu.svs", samples["svs"].read_bytes())},
        data={"exam_id": str(accounts.exam_a_id)},
    ).json()
    listed = next(s for s in app_client.get("/api/v1/slides").json() if s["id"] == detail["id"])
    assert listed["level_count"] == detail["level_count"] == len(detail["levels"]) > 1


@pytest.mark.parametrize("slide", ["svs", "labelled_pyramid"])
def test_label_and_macro_read_at_once_from_one_open_tiff_are_whole(
    slide: str, samples: dict[str, Path], request: pytest.FixtureRequest
) -> None:
    """Two viewers asking for a slide's label and macro at the same moment (no browser caches
    them, they show the patient's name) read through one open reader: each gets its own bytes."""
    path = samples["svs"] if slide == "svs" else request.getfixturevalue(slide)
    reader = TiffSlideReader(path)
    expected = {name: np.asarray(reader.associated_image(name)) for name in ("label", "macro")}
    failures: list[str] = []

    def read(start: int) -> None:
        for k in range(20):
            name = ("label", "macro")[(start + k) % 2]
            try:
                if not np.array_equal(np.asarray(reader.associated_image(name)), expected[name]):
                    failures.append(f"{name}: other pixels")
            except Exception as exc:  # a torn read fails to decode
                failures.append(f"{name}: {exc!r}")

    threads = [threading.Thread(target=read, args=(i,)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
