"""The studio's server on a trained tiny project, over real HTTP: what it serves, what it refuses
(and that a refused request writes nothing), one edit session at a time, a saved edit that
survives a restart."""

from __future__ import annotations

import http.client
import io
import json
import shutil
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from neural_atlases.io.project import Project
from neural_atlases.studio.app import open_session
from neural_atlases.studio.server import StudioServer, upload_limit
from neural_atlases.studio.session import saved_atlas_paths


def png(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()


class Client:
    """Requests to one running server, as its own page would send them unless told otherwise."""

    def __init__(self, server: StudioServer):
        self.port = server.server_address[1]
        self.host = f"127.0.0.1:{self.port}"
        self.token = ""

    def request(self, method: str, path: str, body: bytes | None = None, **headers: str):
        base = {"Host": self.host, "X-Studio-Session": self.token}
        if method == "POST":
            base["Origin"] = f"http://{self.host}"
        base.update({k.replace("_", "-"): v for k, v in headers.items()})
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        connection.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
        for key, value in base.items():
            if value is not None:
                connection.putheader(key, value)
        if (body is not None or method == "POST") and "Content-Length" not in base:
            connection.putheader("Content-Length", str(len(body or b"")))
        connection.endheaders()
        if body:
            connection.send(body)
        response = connection.getresponse()
        data = response.read()
        connection.close()
        return response.status, data

    def post_json(self, path: str, value: dict | None = None, **headers: str):
        headers.setdefault("Content_Type", "application/json")
        return self.request("POST", path, json.dumps(value or {}).encode(), **headers)

    def claim(self) -> str:
        status, data = self.post_json("/api/session", {"token": self.token or None})
        assert status == 200, data
        self.token = json.loads(data)["token"]
        return self.token


def serve(project: Project) -> StudioServer:
    server = StudioServer(open_session(project), "127.0.0.1", 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture
def studio(tiny_trained, tmp_path):
    project = Project(shutil.copytree(tiny_trained, tmp_path / "clip"))
    server = serve(project)
    client = Client(server)
    client.claim()
    yield server, client, project
    server.shutdown()
    server.server_close()


def files_of(project: Project) -> dict[str, float]:
    return {str(p): p.stat().st_mtime_ns for p in project.root.rglob("*") if p.is_file()}


def assert_refused_and_nothing_written(studio, method, path, body=None, expect=None, **headers) -> bytes:
    server, client, project = studio
    before = files_of(project)
    version = server.session.version
    status, data = client.request(method, path, body, **headers)
    assert status == expect if expect else 400 <= status < 500, (status, data)
    assert files_of(project) == before
    assert server.session.version == version and not server.session.history.can_undo
    return data


def test_the_page_its_assets_and_the_api_are_served(studio):
    server, client, _ = studio
    status, page = client.request("GET", "/")
    assert status == 200 and b"/assets/studio.js" in page
    for asset in ("/assets/studio.js", "/assets/studio.css"):
        assert client.request("GET", asset)[0] == 200
    meta = json.loads(client.request("GET", "/api/meta")[1])
    t, h, w = server.session.baked.shape
    assert (meta["frames"], meta["height"], meta["width"]) == (t, h, w)
    assert len(meta["layers"]) == server.session.baked.num_layers
    status, block = client.request("GET", "/api/frame/2")
    assert status == 200 and len(block) == h * w * (4 + 8 + 4 * len(meta["layers"]))
    status, atlas = client.request("GET", "/api/atlas/1/current")
    assert status == 200 and atlas == server.session.baked.atlases[1].tobytes()


@pytest.mark.parametrize(
    "path",
    [
        "/../../../../etc/passwd",
        "/assets/../server.py",
        "/assets/%2e%2e/server.py",
        "/assets/..%2fserver.py",
        "//etc/passwd",
        "/etc/passwd",
        "/assets//etc/passwd",
        "/assets/studio.js/../../session.py",
        "/results/checkpoints/checkpoint.pt",
        "/frames/00000.png",
        "/api/frame/99",
        "/api/frame/-1",
        "/api/atlas/7/current",
        "/api/atlas/0/../../../etc/passwd",
    ],
)
def test_no_path_outside_the_studio_is_served(studio, path):
    data = assert_refused_and_nothing_written(studio, "GET", path)
    assert b"root:" not in data and b"import" not in data


def test_a_symlink_planted_in_the_project_is_not_followed(studio):
    _, client, project = studio
    (project.results_dir / "studio").mkdir(parents=True)
    (project.results_dir / "studio" / "passwd").symlink_to("/etc/passwd")
    for path in ("/results/studio/passwd", "/studio/passwd", "/assets/passwd"):
        status, data = client.request("GET", path)
        assert status == 404 and b"root:" not in data


def _overlay(session, alpha: int = 255) -> np.ndarray:
    _, h, w = session.baked.shape
    out = np.zeros((h, w, 4), np.uint8)
    out[10:20, 10:25] = (255, 0, 0, alpha)
    return out


def test_an_oversized_upload_is_refused_before_it_is_read(studio):
    server, client, _ = studio
    _, h, w = server.session.baked.shape
    too_many = str(upload_limit(w, h) + 1)  # said, not sent: the server answers before reading
    assert_refused_and_nothing_written(
        studio,
        "POST",
        "/api/stroke/frame/1",
        None,
        expect=413,
        Content_Type="image/png",
        Content_Length=too_many,
    )


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not an image at all",
        b"\x89PNG\r\n\x1a\n" + b"\x00garbage" * 50,
        b"\xff\xd8\xff\xe0 a jpeg header",
        "wrong size",
        "truncated",
    ],
)
def test_a_malformed_upload_is_refused(studio, body):
    server, _, _ = studio
    good = png(_overlay(server.session))
    if body == "wrong size":
        body = png(np.zeros((7, 9, 4), np.uint8))
    elif body == "truncated":
        body = good[: len(good) // 2]
    assert_refused_and_nothing_written(
        studio, "POST", "/api/stroke/frame/1", body, expect=400, Content_Type="image/png"
    )


@pytest.mark.parametrize(
    "kind", ["text/plain", "image/jpeg", "application/json", "multipart/form-data", None]
)
def test_a_wrong_content_type_is_refused(studio, kind):
    server, _, _ = studio
    body = png(_overlay(server.session))
    assert_refused_and_nothing_written(
        studio, "POST", "/api/stroke/frame/1", body, expect=415, Content_Type=kind
    )


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "http://evil.example"},
        {"Origin": "http://127.0.0.1:1"},
        {"Origin": "null"},
        {"Origin": None},  # a POST that does not say where it comes from
        {"Sec_Fetch_Site": "cross-site"},
        {"Host": "evil.example"},  # DNS rebinding
    ],
)
def test_a_request_from_another_origin_is_refused(studio, headers):
    server, _, _ = studio
    body = png(_overlay(server.session))
    assert_refused_and_nothing_written(
        studio, "POST", "/api/stroke/frame/1", body, expect=403, Content_Type="image/png", **headers
    )
    if "Host" in headers or headers.get("Origin"):
        assert_refused_and_nothing_written(studio, "GET", "/api/meta", expect=403, **headers)


def test_one_edit_session_at_a_time(studio):
    server, client, _ = studio
    other = Client(server)
    status, data = other.post_json("/api/session", {"token": None})
    assert status == 409, data
    body = png(_overlay(server.session))
    other.token = "guessed"
    assert other.request("POST", "/api/stroke/frame/1", body, Content_Type="image/png")[0] == 409
    assert not server.session.history.can_undo
    token = client.token
    assert client.claim() == token  # the page that holds it, reloaded, keeps it
    server.session.holder.seen = time.monotonic() - 3600  # a page gone for an hour
    assert other.post_json("/api/session", {"token": None})[0] == 200


def _wait_for_save(client: Client) -> dict:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        state = json.loads(client.request("GET", "/api/save")[1])
        if state["state"] != "saving":
            return state
        time.sleep(0.1)
    raise AssertionError("the save did not end")


def test_a_stroke_undo_redo_save_and_the_saved_edit_survives_a_restart(studio):
    server, client, project = studio
    session = server.session
    status, data = client.request(
        "POST", "/api/stroke/frame/2?mode=paint", png(_overlay(session)), Content_Type="image/png"
    )
    assert status == 200, data
    assert json.loads(data)["changed"] and session.history.can_undo
    painted = [a.copy() for a in session.history.current]
    assert json.loads(client.post_json("/api/undo")[1])["can_redo"]
    assert all(
        np.array_equal(a, b) for a, b in zip(session.history.current, session.baked.atlases, strict=True)
    )
    client.post_json("/api/redo")
    assert client.post_json("/api/layers", {"removed": [1]})[0] == 200
    assert client.post_json("/api/layers", {"removed": [0, 1]})[0] == 400  # not every layer
    assert client.post_json("/api/save")[0] == 200
    state = _wait_for_save(client)
    assert state["state"] == "done", state
    assert (project.studio_dir / "render.mp4").is_file()
    server.shutdown()
    server.server_close()
    again = open_session(project)  # the server started again
    assert again.removed == frozenset({1})
    for a, b in zip(again.history.current, painted, strict=True):
        np.testing.assert_array_equal(a, b)
    assert all(p.is_file() for p in saved_atlas_paths(project, again.baked.num_layers))


def test_bad_json_and_bad_layers_are_refused(studio):
    _, client, _ = studio
    for body in (b"{", b"[1, 2]", b'"text"'):
        status, _ = client.request("POST", "/api/layers", body, Content_Type="application/json")
        assert status == 400
    assert client.post_json("/api/layers", {"removed": ["sky"]})[0] == 400
    assert client.post_json("/api/layers", {"removed": [5]})[0] == 400
    assert client.request("POST", "/api/stroke/frame/1?mode=smudge", b"", Content_Type="image/png")[0] == 400


def test_the_server_binds_this_machine_only_by_default(tiny_trained):
    server = StudioServer(open_session(Project(tiny_trained)), port=0)
    try:
        assert server.server_address[0] == "127.0.0.1"
    finally:
        server.server_close()


def test_a_stroke_on_an_atlas(studio):
    server, client, _ = studio
    ah, aw = server.session.baked.atlases[0].shape[:2]
    overlay = np.zeros((ah, aw, 4), np.uint8)
    overlay[5:9, 5:9] = (0, 255, 0, 255)
    status, data = client.request("POST", "/api/stroke/atlas/0", png(overlay), Content_Type="image/png")
    assert status == 200 and json.loads(data)["changed"] == [0]
    assert (server.session.history.current[0][5:9, 5:9, :3] == (0, 255, 0)).all()
    wrong = png(np.zeros((ah + 1, aw, 4), np.uint8))
    assert client.request("POST", "/api/stroke/atlas/0", wrong, Content_Type="image/png")[0] == 400
    assert Path(server.session.project.studio_dir).exists() is False  # nothing saved until save
