"""Annotation files (A7, A13): ASAP XML (read and write), QuPath GeoJSON (read and write),
Aperio ImageScope XML (read). One module per format; files are told apart by content.

A new format: a module here with ``read(data) -> ParsedFile`` (and ``write`` if it can be
exported), added to ``read_annotation_file`` and ``WRITERS``.
"""

from __future__ import annotations

from collections.abc import Callable

from pathodesk.annotations.formats import asap_xml, imagescope_xml, qupath_geojson
from pathodesk.annotations.formats.types import MAX_FILE_BYTES, FileRegion, ParsedFile
from pathodesk.errors import ValidationFailedError

Writer = Callable[[list[FileRegion], dict[str, str]], bytes]
WRITERS: dict[str, Writer] = {"xml": asap_xml.write, "geojson": qupath_geojson.write}

__all__ = ["MAX_FILE_BYTES", "WRITERS", "FileRegion", "ParsedFile", "read_annotation_file"]


def read_annotation_file(data: bytes) -> ParsedFile:
    """ASAP XML, Aperio ImageScope XML or (QuPath) GeoJSON, told apart by their first bytes."""
    if len(data) > MAX_FILE_BYTES:
        raise ValidationFailedError(
            "annotation files are limited to %(value)s MiB", value=MAX_FILE_BYTES // 2**20
        )
    head = data.lstrip()[:512]
    if head.startswith((b"{", b"[")):
        return qupath_geojson.read(data)
    if head.startswith(b"<"):
        if b"ASAP_Annotations" in data[:4096]:
            return asap_xml.read(data)
        return imagescope_xml.read(data)
    raise ValidationFailedError("not an annotation file: expected ASAP XML, ImageScope XML or GeoJSON")
