"""A lesion classified from all its stains (SPEC D4–D6; issue 16, items 1, 5 and 6): patches
cut through the stored transform land on the same tissue in every stain, and the classify
job answers with a class, its probabilities and the weight of each stain — or says at once
why it cannot."""

from __future__ import annotations

from itertools import pairwise
from typing import Any

import numpy as np
from fastapi.testclient import TestClient

from pathodesk.analysis.section_patches import Section, lesion_stacks
from pathodesk.config import Settings
from pathodesk.db.models import SectionGroup, SectionMember, Slide, SlideTransform
from pathodesk.db.session import Database
from pathodesk.registration import Transform
from pathodesk.web.app import create_app
from tests.analysis.test_section_groups import LESION, sections
from tests.registration.test_register import he_image, restained
from tests.support.accounts import Accounts
from tests.support.fusion import install_fusion_model
from tests.support.http import login
from tests.support.jobs import finished, wait_for

__all__ = ["he_image", "sections"]

GEOMETRY = {"type": "Polygon", "coordinates": [LESION]}


def registered_group(
    settings: Settings, accounts: Accounts, he: int, ihc: int, truth: Transform, stain: str = "HER2"
) -> int:
    """A group of the two sections whose other section carries the true transform."""
    db = Database(settings.resolved_database_url())
    try:
        with db.session() as session:
            group = SectionGroup(exam_id=accounts.exam_a_id, name="block", reference_slide_id=he)
            group.members = [
                SectionMember(slide_id=he, stain="H&E", position=0),
                SectionMember(slide_id=ihc, stain=stain, position=1),
            ]
            session.add(group)
            session.flush()
            session.add(
                SlideTransform(
                    group_id=group.id,
                    slide_id=ihc,
                    reference_slide_id=he,
                    version=1,
                    data=truth.to_bytes(),
                    error_px=0.0,
                    summary={},
                )
            )
            session.commit()
            return group.id
    finally:
        db.dispose()


def test_patches_land_on_the_same_tissue_in_every_stain(
    settings: Settings, sections: tuple[int, int, Transform]
) -> None:
    he, ihc, truth = sections
    db = Database(settings.resolved_database_url())
    try:
        with db.session() as session:
            slides = [session.get_one(Slide, he), session.get_one(Slide, ihc)]
            for slide in slides:
                session.expunge(slide)
    finally:
        db.dispose()
    stacks, centres = lesion_stacks(
        settings, [Section(slides[0], None), Section(slides[1], truth)], GEOMETRY, 28, None
    )
    assert len(stacks) > 20 and len(centres) == len(stacks)
    xs, ys = zip(*LESION, strict=True)
    assert min(xs) <= centres[:, 0].min() and centres[:, 0].max() <= max(xs)
    assert min(ys) <= centres[:, 1].min() and centres[:, 1].max() <= max(ys)

    def correlation(first: np.ndarray, second: np.ndarray) -> float:
        """Of the grey of the H&E window restained as the other section was, and the other's."""
        a = restained(first).astype(float).mean(axis=2).ravel()
        b = second.astype(float).mean(axis=2).ravel()
        return float(np.corrcoef(a, b)[0, 1])

    same = [correlation(stack.windows[0], stack.windows[1]) for stack in stacks]
    neighbours = [correlation(a.windows[0], b.windows[1]) for a, b in pairwise(stacks)]
    assert np.median(same) > 0.7 and np.median(neighbours) < 0.4, (np.median(same), np.median(neighbours))


def test_the_lesion_is_classified_from_both_stains(
    settings: Settings, accounts: Accounts, sections: tuple[int, int, Transform], he_image: np.ndarray
) -> None:
    he, ihc, truth = sections
    install_fusion_model(settings, (he_image, restained(he_image)), "lung", ("lung_n", "lung_aca"))
    group_id = registered_group(settings, accounts, he, ihc, truth)
    with TestClient(create_app(settings)) as client:
        login(client, "expert-a")
        drawn = client.post(
            f"/api/v1/slides/{he}/annotations",
            json={"label": "lung_aca", "geometry": GEOMETRY, "name": "lesion"},
        ).json()
        job = client.post(f"/api/v1/section-groups/{group_id}/classify")
        assert job.status_code == 202, job.text
        done = wait_for(finished(client, job.json()["id"]), timeout=120)
        assert done["state"] == "succeeded", done
        (lesion,) = done["result"]["lesions"]
        assert lesion["annotation_id"] == drawn["id"] and lesion["patches"] > 20
        assert lesion["label"] in ("lung_n", "lung_aca")
        assert abs(sum(lesion["probabilities"].values()) - 1) < 1e-3
        assert set(lesion["stain_weights"]) == {"H&E", "HER2"}
        assert all(0 < w < 1 for w in lesion["stain_weights"].values())


def problem(client: TestClient, group_id: int) -> dict[str, Any]:
    response = client.post(f"/api/v1/section-groups/{group_id}/classify")
    body: dict[str, Any] = response.json()
    body["status"] = response.status_code
    return body


def test_classifying_says_at_once_why_it_cannot(
    settings: Settings, accounts: Accounts, sections: tuple[int, int, Transform], he_image: np.ndarray
) -> None:
    he, ihc, truth = sections
    with TestClient(create_app(settings)) as client:
        login(client, "expert-a")
        first = registered_group(settings, accounts, he, ihc, truth)
        no_model = problem(client, first)
        assert no_model["status"] == 404 and "no active model" in no_model["detail"]
        assert client.delete(f"/api/v1/section-groups/{first}").status_code == 204
        install_fusion_model(settings, (he_image, restained(he_image)), "lung", ("lung_n", "lung_aca"))
        # the same slides again, the other one now called PAS: the model reads H&E and HER2
        wrong_stain = problem(client, registered_group(settings, accounts, he, ihc, truth, stain="PAS"))
        assert wrong_stain["status"] == 422 and "no HER2 section" in wrong_stain["detail"]
