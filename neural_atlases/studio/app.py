"""``neural-atlases studio``: open a trained project's edit and serve the page until interrupted."""

from __future__ import annotations

from neural_atlases.errors import UserError
from neural_atlases.io.images import read_frames
from neural_atlases.io.project import Project
from neural_atlases.pipeline.trained import load_trained
from neural_atlases.studio.server import StudioServer
from neural_atlases.studio.session import StudioSession


def open_session(project: Project) -> StudioSession:
    """The studio session of a trained project (its baked maps, baked again when missing)."""
    baked = load_trained(project)
    frames = read_frames(project.frames_dir)
    if frames.shape[:3] != baked.shape:
        raise UserError(
            f"the frames of {project.root} are not the ones the model was trained on: train again"
        )
    return StudioSession(project, baked, frames, project.fps())


def check_port(port: int) -> int:
    if not 0 <= port <= 65535:
        raise UserError(f"--port {port}: give a port from 1 to 65535 (0: any free one)")
    return port


def serve(project: Project, host: str, port: int, verbose: bool = False) -> None:
    """Serve the studio of ``project`` on ``host:port`` until Ctrl-C."""
    server = StudioServer(open_session(project), host, check_port(port), verbose)
    print(f"studio of {project.root} at {server.url} (Ctrl-C stops it)", flush=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()
