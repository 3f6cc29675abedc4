"""Three interchange round trips through the real API (issue 20): ASAP XML with a hole,
QuPath GeoJSON with properties and string classes, and every MoNuSeg ImageScope file.
Prints, for each, the objects and area (px²) in the file and in PathoDesk's export.

    .venv/bin/python scripts/round_trips.py
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

from fastapi.testclient import TestClient
from shapely import make_valid
from shapely.geometry import shape

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.support.accounts import make_accounts
from tests.support.http import login, upload_slide
from tests.support.paths import SAMPLE_DIR, SHARED_DATA

from pathodesk.annotations.formats import FileRegion, asap_xml, read_annotation_file
from pathodesk.config import Settings
from pathodesk.sampledata import ensure_samples
from pathodesk.web.app import create_app


def area(regions: list[FileRegion]) -> float:
    return sum(make_valid(shape(r.geometry)).area for r in regions)


def trip(
    client: TestClient, exam_id: int, slide: Path, name: str, body: bytes, params: dict[str, str]
) -> None:
    slide_id = int(upload_slide(client, slide, exam_id)["id"])  # type: ignore[call-overload]
    url = f"/api/v1/slides/{slide_id}/annotations"
    given = read_annotation_file(body).regions
    response = client.post(f"{url}/import", params=params, content=body)
    response.raise_for_status()
    suffix = "geojson" if body.lstrip().startswith(b"{") else "xml"
    back = read_annotation_file(client.get(f"{url}.{suffix}").content).regions
    print(
        json.dumps(
            {
                "trip": name,
                "objects_in": len(given),
                "created": response.json()["created"],
                "skipped": response.json()["skipped"],
                "objects_out": len(back),
                "area_in_px2": round(area(given), 1),
                "area_out_px2": round(area(back), 1),
            }
        )
    )
    client.delete(f"/api/v1/slides/{slide_id}")


def main() -> None:
    svs, _ = ensure_samples(SAMPLE_DIR)
    with tempfile.TemporaryDirectory() as folder:
        settings = Settings(data_dir=Path(folder) / "data", sample_dir=SAMPLE_DIR)
        settings.ensure_dirs()
        accounts = make_accounts(settings)
        with TestClient(create_app(settings)) as client:
            login(client, "expert-a")
            outer = [[0, 0], [600, 0], [600, 500], [0, 500], [0, 0]]
            hole = [[100, 100], [400, 100], [400, 300], [100, 300], [100, 100]]
            holed = FileRegion("lung_aca", {"type": "Polygon", "coordinates": [outer, hole]})
            trip(client, accounts.exam_a_id, svs, "ASAP XML with a hole", asap_xml.write([holed], {}), {})
            features = [
                {
                    "type": "Feature",
                    "geometry": {"type": "Polygon", "coordinates": [outer]},
                    "properties": {
                        "objectType": "annotation",
                        "classification": "lung_n",
                        "name": "string class",
                    },
                },
                {
                    "type": "Feature",
                    "geometry": {
                        "type": "Polygon",
                        "coordinates": [[[700, 0], [900, 0], [900, 200], [700, 0]]],
                    },
                    "properties": {
                        "objectType": "annotation",
                        "isLocked": True,
                        "measurements": {"a": 1},
                        "classification": {"names": ["lung_scc", "Positive"]},
                    },
                },
                {
                    "type": "Feature",
                    "geometry": {
                        "type": "Polygon",
                        "coordinates": [[[1000, 0], [1020, 0], [1020, 20], [1000, 20], [1000, 0]]],
                    },
                    "properties": {"objectType": "detection", "classification": {"name": "lung_aca"}},
                },
            ]
            body = json.dumps({"type": "FeatureCollection", "features": features}).encode()
            trip(client, accounts.exam_a_id, svs, "QuPath GeoJSON, properties and string classes", body, {})
            for xml in sorted((SHARED_DATA / "monuseg-nuclei-xml" / "annotations").glob("*.xml")):
                trip(
                    client,
                    accounts.exam_a_id,
                    svs,
                    f"MoNuSeg ImageScope {xml.stem}",
                    xml.read_bytes(),
                    {"label": "lung_n"},
                )


if __name__ == "__main__":
    main()
