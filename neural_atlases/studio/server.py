"""The studio's HTTP server (standard library only): one page, its assets, and a small API.

It serves this project only. It binds 127.0.0.1 unless told otherwise; it serves its own assets
by name (a fixed list: no path from a request ever reaches the file system) and the project's
frames and atlases through the API; it refuses a request whose Host is not the server's own
(DNS rebinding) or that comes from another origin (``Origin``, ``Sec-Fetch-Site``); every upload
is a PNG of the exact size it edits, under a byte limit, sent with ``Content-Type: image/png`` by
the page that holds the edit session (``X-Studio-Session``). What is refused writes nothing.

API (JSON unless said)::

    GET  /api/meta                   sizes, layers, map encodings, depth order, edit state
    GET  /api/frame/T                frame T's block (``studio.frames``), bytes
    GET  /api/atlas/L/original|current   layer L's atlas, raw RGBA bytes
    GET  /api/save                   where a save stands
    POST /api/session                claim the edit session: {"token": ...} (409 while another page holds it)
    POST /api/stroke/frame/T?mode=paint|erase   a PNG overlay of frame T's size
    POST /api/stroke/atlas/L?mode=paint|erase   a PNG overlay of layer L's atlas size
    POST /api/undo  /api/redo  /api/save
    POST /api/layers                 {"removed": [layer, ...]}
"""

from __future__ import annotations

import io
import json
import re
import warnings
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from urllib.parse import parse_qs, urlsplit

import numpy as np
from PIL import Image

from neural_atlases.errors import UserError
from neural_atlases.studio.session import StudioSession

ASSETS = {
    "/": ("index.html", "text/html; charset=utf-8"),
    "/assets/studio.js": ("studio.js", "text/javascript; charset=utf-8"),
    "/assets/studio.css": ("studio.css", "text/css; charset=utf-8"),
}
"""Every path the server answers with a file, and the file (in ``studio/assets``)."""

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
JSON_LIMIT = 4096
"""Bytes of a JSON request body at most."""


class Refused(Exception):
    """A request the server will not serve: its status and one line saying why."""

    def __init__(self, status: HTTPStatus, message: str):
        super().__init__(message)
        self.status = status


def upload_limit(width: int, height: int) -> int:
    """The most bytes a PNG overlay of ``width x height`` may take: the raw RGBA pixels, a filter
    byte a row and room for PNG's chunks (a PNG stored without compression fits)."""
    return 4 * width * height + height + 64 * 1024


def decode_overlay(body: bytes, width: int, height: int) -> np.ndarray:
    """A PNG upload as ``[height, width, 4]`` uint8 RGBA; ``Refused`` unless it is a well-formed
    PNG of exactly that size (checked from its header before any pixel is decoded)."""
    if not body.startswith(PNG_SIGNATURE):
        raise Refused(HTTPStatus.BAD_REQUEST, "the upload is not a PNG image")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(body), formats=["PNG"])
            if image.size != (width, height):
                raise Refused(
                    HTTPStatus.BAD_REQUEST,
                    f"the upload is {image.size[0]}x{image.size[1]}, expected {width}x{height}",
                )
            pixels = np.asarray(image.convert("RGBA"), np.uint8).copy()
    except Refused:
        raise
    except Exception as exc:  # noqa: BLE001 - whatever PIL makes of a broken file: refuse it
        raise Refused(
            HTTPStatus.BAD_REQUEST, f"the upload is not a readable PNG ({type(exc).__name__})"
        ) from None
    return pixels


def allowed_hosts(host: str, port: int) -> set[str] | None:
    """The Host headers the server answers to (None: any, for a server bound to every address)."""
    if host in ("", "0.0.0.0", "::"):
        return None
    names = {host, "127.0.0.1", "localhost"} if host in ("127.0.0.1", "localhost") else {host}
    return {f"{n}:{port}" for n in names}


def check_origin(headers, hosts: set[str] | None, method: str) -> None:
    """``Refused`` for a request to another host or from another origin (its ``Origin`` is not
    ``http://`` + its ``Host``). A POST must say its origin (browsers always do for ``fetch``)."""
    host = headers.get("Host", "")
    if not host or (hosts is not None and host not in hosts):
        raise Refused(HTTPStatus.FORBIDDEN, f"wrong Host {host!r}")
    site = headers.get("Sec-Fetch-Site")
    if site is not None and site not in ("same-origin", "none"):
        raise Refused(HTTPStatus.FORBIDDEN, f"a {site} request")
    origin = headers.get("Origin")
    if origin is None:
        if method == "POST":
            raise Refused(HTTPStatus.FORBIDDEN, "a POST without Origin")
        return
    if origin != f"http://{host}":
        raise Refused(HTTPStatus.FORBIDDEN, f"another origin {origin!r}")


class StudioHandler(BaseHTTPRequestHandler):
    """One request. ``server.session`` is the ``StudioSession``; ``server.hosts`` its hosts."""

    server: StudioServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base's name
        if self.server.verbose:
            super().log_message(format, *args)

    # -- dispatch ---------------------------------------------------------------------------
    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def _serve(self, method: str) -> None:
        self._read_already = False
        try:
            check_origin(self.headers, self.server.hosts, method)
            url = urlsplit(self.path)
            if method == "GET":
                self._get(url.path)
            else:
                self._post(url.path, parse_qs(url.query))
        except Refused as exc:
            self._drain()
            self._json({"error": str(exc)}, exc.status)
        except UserError as exc:
            self._drain()
            self._json({"error": str(exc)}, HTTPStatus.BAD_REQUEST)

    def _get(self, path: str) -> None:
        session = self.server.session
        if path in ASSETS:
            name, kind = ASSETS[path]
            self._send(
                resources.files("neural_atlases.studio").joinpath("assets").joinpath(name).read_bytes(), kind
            )
            return
        if path == "/api/meta":
            self._json(session.meta())
            return
        if path == "/api/save":
            self._json(session.save_status())
            return
        if m := re.fullmatch(r"/api/frame/(\d{1,6})", path):
            self._send(session.frame_block(int(m[1])), "application/octet-stream")
            return
        if m := re.fullmatch(r"/api/atlas/(\d)/(original|current)", path):
            self._send(
                np.ascontiguousarray(session.atlas(int(m[1]), m[2])).tobytes(), "application/octet-stream"
            )
            return
        raise Refused(HTTPStatus.NOT_FOUND, "not found")

    def _post(self, path: str, query: dict[str, list[str]]) -> None:
        session = self.server.session
        if path == "/api/session":
            body = self._json_body()
            token = session.claim(body.get("token") if isinstance(body.get("token"), str) else None)
            if token is None:
                raise Refused(HTTPStatus.CONFLICT, "another studio page holds the edit session")
            self._json({"token": token})
            return
        if not session.holds(self.headers.get("X-Studio-Session")):
            raise Refused(HTTPStatus.CONFLICT, "this page does not hold the edit session: reload it")
        mode = query.get("mode", ["paint"])[0]
        if mode not in ("paint", "erase"):
            raise Refused(HTTPStatus.BAD_REQUEST, f"mode {mode!r}: paint or erase")
        if m := re.fullmatch(r"/api/stroke/frame/(\d{1,6})", path):
            t = int(m[1])
            _, h, w = session.baked.shape
            session.check_frame(t)
            overlay = decode_overlay(self._upload(w, h), w, h)
            self._json(session.frame_stroke(t, overlay, mode == "erase"))
            return
        if m := re.fullmatch(r"/api/stroke/atlas/(\d)", path):
            layer = int(m[1])
            session.check_layer(layer)
            ah, aw = session.baked.atlases[layer].shape[:2]
            overlay = decode_overlay(self._upload(aw, ah), aw, ah)
            self._json(session.atlas_stroke(layer, overlay, mode == "erase"))
            return
        if path in ("/api/undo", "/api/redo", "/api/save"):
            self._drain()
            if path == "/api/save":
                if not session.start_save():
                    raise Refused(HTTPStatus.CONFLICT, "a save is running")
                self._json(session.save_status())
            else:
                self._json(session.undo() if path == "/api/undo" else session.redo())
            return
        if path == "/api/layers":
            removed = self._json_body().get("removed")
            if not isinstance(removed, list) or not all(isinstance(k, int) for k in removed):
                raise Refused(HTTPStatus.BAD_REQUEST, "removed: a list of layer numbers")
            self._json(session.set_removed(removed))
            return
        raise Refused(HTTPStatus.NOT_FOUND, "not found")

    # -- bodies -----------------------------------------------------------------------------
    def _length(self, limit: int) -> int:
        text = self.headers.get("Content-Length")
        if text is None or not text.isdigit():
            raise Refused(HTTPStatus.LENGTH_REQUIRED, "Content-Length is required")
        length = int(text)
        if length > limit:
            self.close_connection = True  # the body is not read
            raise Refused(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, f"{length} bytes is more than {limit}")
        return length

    def _body(self, kind: str, limit: int) -> bytes:
        given = self.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if given != kind:
            self.close_connection = True
            raise Refused(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, f"Content-Type {given!r}, expected {kind}")
        length = self._length(limit)
        self._read_already = True
        return self.rfile.read(length)

    def _upload(self, width: int, height: int) -> bytes:
        return self._body("image/png", upload_limit(width, height))

    def _json_body(self) -> dict:
        body = self._body("application/json", JSON_LIMIT)
        try:
            value = json.loads(body or b"{}")
        except (ValueError, UnicodeDecodeError):
            raise Refused(HTTPStatus.BAD_REQUEST, "the body is not JSON") from None
        if not isinstance(value, dict):
            raise Refused(HTTPStatus.BAD_REQUEST, "the body is not a JSON object")
        return value

    def _drain(self) -> None:
        """Read a small unread body so the connection stays usable; close it otherwise."""
        if getattr(self, "_read_already", False) or self.command != "POST":
            return
        self._read_already = True
        text = self.headers.get("Content-Length", "0")
        if text.isdigit() and int(text) <= JSON_LIMIT:
            self.rfile.read(int(text))
        else:
            self.close_connection = True

    # -- answers ----------------------------------------------------------------------------
    def _json(self, value: dict, status: HTTPStatus = HTTPStatus.OK) -> None:
        self._send(json.dumps(value).encode(), "application/json", status)

    def _send(self, body: bytes, kind: str, status: HTTPStatus = HTTPStatus.OK) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Content-Security-Policy", "default-src 'self'; img-src 'self' data: blob:")
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)


class StudioServer(ThreadingHTTPServer):
    """The server of one ``StudioSession``."""

    daemon_threads = True

    def __init__(
        self, session: StudioSession, host: str = "127.0.0.1", port: int = 8765, verbose: bool = False
    ):
        try:
            super().__init__((host, port), StudioHandler)
        except OSError as exc:
            raise UserError(f"cannot serve on {host}:{port}: {exc.strerror or exc}") from None
        self.session = session
        self.host = host
        self.verbose = verbose
        self.hosts = allowed_hosts(host, self.server_address[1])

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.server_address[1]}/"
