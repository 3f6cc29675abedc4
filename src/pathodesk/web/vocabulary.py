"""Display names of the values people see in lists and badges, in each language.

The database keeps stable codes (``in_review``, ``needs_revision``); pages and the browser
code show these names instead (issue 21: display names rather than codes).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pathodesk.db.models import MODEL_ROLES
from pathodesk.i18n import DEFAULT_LOCALE, N_, translations

# Names PathoDesk itself gives disease types (the migrations, ``pathodesk demo``): stored as
# data, shown in the reader's language (``translated``; pages: ``term("disease_type", name)``);
# an administrator's own names are shown as typed.
SHIPPED_NAMES = (
    N_("Lung"),
    N_("Thyroid"),
    N_("Breast"),
    N_("Unclassified"),
    N_("Skin (sample)"),
    N_("Head and neck (sample)"),
    N_("Prostate (sample)"),
    N_("Kidney (sample)"),
    N_("Multiplex immunofluorescence (sample)"),
    N_("Ki-67 immunohistochemistry (sample)"),
    N_("Other tissue (sample)"),
    N_("Various organs (sample)"),
)

TERMS: dict[str, dict[str, str]] = {
    "status": {
        "uploaded": N_("uploaded"),
        "analyzed": N_("analysed"),
        "in_review": N_("in review"),
        "reviewed": N_("reviewed"),
    },
    "verdict": {
        "approved": N_("approved"),
        "needs_revision": N_("needs revision"),
        "rejected": N_("rejected"),
    },
    "job": {
        "queued": N_("queued"),
        "running": N_("running"),
        "succeeded": N_("finished"),
        "failed": N_("failed"),
        "cancelled": N_("cancelled"),
    },
    "role": {"admin": N_("administrator"), "expert": N_("expert")},
    "sex": {"female": N_("female"), "male": N_("male"), "other": N_("other"), "unknown": N_("unknown")},
    "qc": {
        "tissue_coverage": N_("tissue coverage"),
        "blur": N_("blur"),
        "colour": N_("colour"),
        "pen": N_("pen marks"),
        "folds": N_("folds"),
        "bubbles": N_("bubbles"),
        "exposure": N_("exposure"),
    },
    "stain": {
        "he": N_("H&E"),
        "ihc": N_("immunohistochemistry (DAB)"),
        "fluorescence": N_("fluorescence"),
    },
    "qc_detail": {
        "tiles": N_("tiles"),
        "median_sharpness": N_("median sharpness"),
        "median_high_frequency_share": N_("median high-frequency share"),
        "conditional_entropy": N_("conditional entropy"),
        "glass_brightness": N_("glass brightness"),
        "tissue_brightness": N_("tissue brightness"),
        "clipped_fraction": N_("clipped share"),
    },
    "source": {"ai": N_("AI"), "expert": N_("expert"), "registered": N_("from the reference section")},
    # the shipped disease types' classes; a class an administrator adds shows the display
    # names given with it (``class_names``), else its own name
    "class": {
        "lung_aca": N_("lung adenocarcinoma"),
        "lung_scc": N_("lung squamous cell carcinoma"),
        "lung_n": N_("benign lung tissue"),
        "normal": N_("normal"),
        "tumour": N_("tumour"),
        "lesion": N_("lesion"),  # the unclassified type's one class
        "BN": N_("benign thyroid tissue"),
        "FTC": N_("follicular thyroid carcinoma"),
        "PTC": N_("papillary thyroid carcinoma"),
        "her2_0": N_("HER2 0"),
        "her2_1": N_("HER2 1+"),
        "her2_2": N_("HER2 2+"),
        "her2_3": N_("HER2 3+"),
    },
    # the cascade's coarse grades (ml.grades; SPEC C1)
    "grade": {"benign": N_("benign"), "suspicious": N_("suspicious"), "malignant": N_("malignant")},
    "tier": {
        "recent": N_("recent"),
        "middle": N_("middle"),
        "long_term": N_("long-term"),
        "temporary": N_("temporary"),
    },
    "resolution": {"low": N_("low resolution"), "high": N_("full resolution")},
    "split": {"train": N_("training"), "validation": N_("validation"), "test": N_("test")},
    "associated": {"label": N_("label image"), "macro": N_("macro image"), "thumbnail": N_("thumbnail")},
    "sort": {
        "newest": N_("newest first"),
        "oldest": N_("oldest first"),
        "patient": N_("by patient ID"),
        "pathology_id": N_("by pathology ID"),
        "status": N_("by status"),
    },
    "model_role": MODEL_ROLES,
    "audit_action": {
        "create": N_("created"),
        "update": N_("changed"),
        "delete": N_("deleted"),
        "restore": N_("restored"),
        "login": N_("logged in"),
        "login_failed": N_("failed login"),
        "logout": N_("logged out"),
        "open": N_("opened"),
        "open-report": N_("opened the case report"),
        "assign": N_("assigned"),
        "unassign": N_("unassigned"),
        "review": N_("signed off"),
        "import": N_("imported"),
        "export": N_("exported"),
        "analyze": N_("analysis started"),
        "pregenerate": N_("full-resolution slide generated in advance"),
        "apply-policy": N_("storage policy applied"),
        "scrub": N_("mirror checked"),
        "backup": N_("database backup started"),
        "restore-database": N_("database restored from a backup"),
        "set-colour-reference": N_("made the lab's colour reference"),
        "clear-colour-reference": N_("built-in colour reference restored"),
        "assign-station": N_("reading station chosen"),
        "register": N_("registration started"),
        "classify": N_("classification started"),
        "count-nuclei": N_("nuclei counted (Ki-67)"),
        "cancel": N_("cancelled"),
        "retry": N_("retried"),
        "activate": N_("made active"),
        "deactivate": N_("deactivated"),
        "reset_password": N_("password reset"),
    },
    "audit_detail": {
        "fields": N_("fields changed"),
        "exam_id": N_("exam"),
        "patient_id": N_("patient"),
        "slide_id": N_("slide"),
        "job_id": N_("job"),
        "user_id": N_("account"),
        "sha256": N_("file checksum"),
        "cascade": N_("with all below it"),
        "count": N_("how many"),
        "slides": N_("slides"),
        "round": N_("round"),
        "verdict": N_("verdict"),
        "threshold": N_("positive threshold"),
        "version": N_("version"),
        "kind": N_("kind"),
        "disease_type": N_("disease type"),
        "role": N_("role"),
        "planned": N_("moves planned"),
        "station": N_("reading station"),
        "backup": N_("backup"),
        "undo": N_("backup of what it replaced"),
        "sessions_ended": N_("logins ended"),
        "slides_missing": N_("slides without their file"),
    },
    "record_type": {
        "patient": N_("patient"),
        "exam": N_("exam"),
        "slide": N_("slide"),
        "annotation": N_("annotation"),
        "job": N_("job"),
        "user": N_("user"),
        "disease_type": N_("disease type"),
        "model": N_("model"),
        "section_group": N_("group of serial sections"),
        "storage": N_("storage"),
        "database": N_("database"),
        "qc": N_("quality control"),
    },
}


def terms_in(locale: str) -> dict[str, dict[str, str]]:
    gettext = translations(locale).gettext
    return {kind: {code: gettext(name) for code, name in names.items()} for kind, names in TERMS.items()}


def term(locale: str, kind: str, code: str | None) -> str:
    """The display name of ``code``; an unknown code is shown as it is, never hidden."""
    if code is None:
        return "—"
    name = TERMS.get(kind, {}).get(code)
    return translations(locale).gettext(name) if name else code.replace("_", " ")


def class_names(label_sets: Iterable[list[dict[str, Any]]], locale: str) -> dict[str, str]:
    """Display names that administrators gave classes (a label's ``display`` per language).
    In ``locale`` first; then the shipped name's translation; then the administrator's English."""
    shipped = TERMS["class"]
    names: dict[str, str] = {}
    for labels in label_sets:
        for label in labels:
            display = label.get("display") or {}
            name = display.get(locale) or (None if label["name"] in shipped else display.get(DEFAULT_LOCALE))
            if name:
                names.setdefault(label["name"], name)
    return names


def translated(locale: str, name: str) -> str:
    """A name PathoDesk wrote into the data (``SHIPPED_NAMES``) in ``locale``; others as typed."""
    return translations(locale).gettext(name) if name in SHIPPED_NAMES else name
