"""Path traversal on tile and static routes (issue 3, item 7): nothing outside is served."""

from __future__ import annotations

import socket

import httpx
from fastapi.testclient import TestClient

from tests.support.http import login
from tests.support.server import LiveServer

ATTEMPTS = [
    "/static/../pathodesk.sqlite3",
    "/static/..%2f..%2fpathodesk.sqlite3",
    "/static/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
    "/static/....//....//etc/passwd",
    "/static/..\\..\\etc\\passwd",
    "/static/%252e%252e/%252e%252e/etc/passwd",
    "/static//etc/passwd",
    "/static/dist/../../app.py",
    "/static/dist/%2e%2e/%2e%2e/app.py",
    "/dzi/1_files/../../pathodesk.sqlite3",
    "/dzi/..%2f..%2fetc%2fpasswd.dzi",
    "/dzi/1_files/12/..%2f..%2f0_0.jpeg",
    "/dzi/1_files/12/0_0.jpeg%00.png",
    "/dzi/1_files/-1/0_0.jpeg",
    "/dzi/1_files/12/-3_0.jpeg",
    "/dzi/1_files/99999999999999999999999/0_0.jpeg",
    "/api/v1/slides/1/associated/..%2f..%2f..%2fetc%2fpasswd",
    "/api/v1/slides/1/associated/../../../../etc/passwd",
    "/api/v1/slides/1/qc/..%2f..%2f..%2fpathodesk.sqlite3",
    "/api/v1/slides/1/qc/../../../../etc/passwd",
    "/api/v1/slides/1/qc/%2e%2e%2f%2e%2e%2fslides",
]
SECRETS = (b"root:", b"SQLite format 3", b"create_app", b"import ")


def raw_get(server: LiveServer, url: str, cookie: str) -> bytes:
    """Sent byte-for-byte, so no client normalises the path first."""
    host, port = server.url.removeprefix("http://").split(":")
    request = f"GET {url} HTTP/1.1\r\nHost: x\r\nCookie: {cookie}\r\nConnection: close\r\n\r\n".encode()
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(request)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def test_raw_requests_never_leave_the_served_folders(live_server: LiveServer) -> None:
    with httpx.Client(base_url=live_server.url) as client:
        login(client, "expert-a")
        cookie = "; ".join(f"{k}={v}" for k, v in client.cookies.items())
    for url in ATTEMPTS:
        response = raw_get(live_server, url, cookie)
        status = int(response.split(b" ", 2)[1])
        assert status in (400, 404, 405, 422), (url, response[:200])
        assert not any(secret in response for secret in SECRETS), url


def test_static_assets_are_still_served(app_client: TestClient) -> None:
    assert app_client.get("/static/style.css").status_code == 200
    assert app_client.get("/static/dist/viewer.js").status_code == 200
