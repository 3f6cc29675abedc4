"""IIPImage as the production baseline for Deep Zoom tiles (issue 22): Debian's
``iipimage-server`` (iipsrv 1.1) as FastCGI behind lighttpd, four processes, JPEG quality 80,
configured in a temporary folder and stopped with everything it started; and the images
both servers are measured on, made by the tools that make them in the field (libvips).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import httpx

IIPSRV = Path("/usr/lib/iipimage-server/iipsrv.fcgi")
FASTCGI_PATH = "/fcgi-bin/iipsrv.fcgi"
PROCESSES = 4

CONFIG = """\
server.document-root = "{root}"
server.port = {port}
server.bind = "127.0.0.1"
server.modules = ("mod_fastcgi")
server.errorlog = "{root}/lighttpd-error.log"
server.max-keep-alive-requests = 1000000
server.max-keep-alive-idle = 120
fastcgi.server = ( "{fastcgi_path}" =>
  (( "socket" => "{root}/iipsrv.sock",
     "check-local" => "disable",
     "min-procs" => {processes},
     "max-procs" => {processes},
     "bin-path" => "{iipsrv}",
     "bin-environment" => (
        "JPEG_QUALITY" => "{quality}",
        "FILESYSTEM_PREFIX" => "{images}/",
        "VERBOSITY" => "0"
      )
  ))
)
"""


def missing_programs() -> list[str]:
    """What ``make setup`` installs for this baseline and is not here."""
    missing = [name for name in ("lighttpd", "vips") if shutil.which(name) is None]
    return missing + ([] if IIPSRV.is_file() else [str(IIPSRV)])


def iipsrv_version() -> str:
    """The Debian package's version, e.g. "1.1-3+b2": iipsrv itself has no --version."""
    shown = subprocess.run(
        ["dpkg-query", "-W", "-f=${Version}", "iipimage-server"], capture_output=True, text=True, check=False
    )
    return shown.stdout.strip() or "unknown"


class IipServer:
    """lighttpd + ``PROCESSES`` iipsrv processes serving the files of ``images``."""

    def __init__(self, images: Path, scratch: Path, port: int, quality: int = 80) -> None:
        self.images = images
        self.root = scratch / "lighttpd"
        self.port = port
        self.quality = quality
        self.process: subprocess.Popen[bytes] | None = None

    def url(self, name: str, suffix: str) -> str:
        return f"{FASTCGI_PATH}?DeepZoom={name}{suffix}"

    def start(self) -> None:
        """Fresh processes: iipsrv's own tile cache starts empty."""
        self.stop()
        self.root.mkdir(parents=True, exist_ok=True)
        config = self.root / "lighttpd.conf"
        config.write_text(
            CONFIG.format(
                root=self.root,
                port=self.port,
                fastcgi_path=FASTCGI_PATH,
                processes=PROCESSES,
                iipsrv=IIPSRV,
                quality=self.quality,
                images=self.images,
            )
        )
        # its own session: stopping it stops the FastCGI processes it spawned
        self.process = subprocess.Popen(
            ["lighttpd", "-D", "-f", str(config)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                httpx.get(f"http://127.0.0.1:{self.port}/", timeout=1)
                return
            except httpx.TransportError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError("lighttpd with iipsrv did not come up")

    def stop(self) -> None:
        if self.process is None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=10)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
        subprocess.run(["pkill", "-f", str(IIPSRV)], check=False)  # FastCGI children outliving it
        self.process = None


def vips_mosaic_pyramid(source: Path, out: Path, across: int = 4, quality: int = 80) -> Path:
    """``across`` × ``across`` copies of ``source`` as the pyramidal JPEG TIFF ``vips
    tiffsave`` writes (256-px tiles, JPEGTables, every 2× level): what most converters give."""
    if out.is_file():
        return out
    joined = out.with_suffix(".v")
    subprocess.run(
        [
            "vips",
            "arrayjoin",
            " ".join([str(source)] * across * across),
            str(joined),
            "--across",
            str(across),
        ],
        check=True,
    )
    partial = out.with_name(out.name + ".partial.tif")
    subprocess.run(
        [
            *("vips", "tiffsave", str(joined), str(partial), "--tile", "--pyramid", "--compression", "jpeg"),
            *("--Q", str(quality), "--tile-width", "256", "--tile-height", "256"),
        ],
        check=True,
    )
    joined.unlink()
    partial.rename(out)
    return out


def pathodesk_pyramid(source: Path, out: Path, quality: int = 80) -> Path:
    """The same pixels as the pyramid ``pathodesk ingest`` writes (self-contained JPEG tiles)."""
    if out.is_file():
        return out
    from pathodesk.slides import open_slide
    from pathodesk.slides.pyramid import write_pyramid

    reader = open_slide(source)
    try:
        write_pyramid(reader, out, quality=quality, mpp=reader.info.mpp_x)
    finally:
        reader.close()
    return out


def drop_page_cache() -> bool:
    """Cold means from disk for both servers: the kernel's page cache is emptied when this
    process may (root), else the files stay cached for both alike."""
    os.sync()
    try:
        Path("/proc/sys/vm/drop_caches").write_text("1\n")
    except OSError:
        return False
    return True
