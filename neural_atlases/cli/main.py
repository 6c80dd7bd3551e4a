"""``neural-atlases``: the command line. Each command is a thin call into the pipeline.

Bad input never gets a traceback: a ``UserError`` is printed as one line on stderr and the exit
status is 2. Every check that needs no model runs before torch is imported (the commands import
the pipeline inside themselves, after their checks): ``--help`` and a misspelt flag, config key,
mask count or output folder are answered in a fraction of a second.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from neural_atlases.cli.parser import build_parser
from neural_atlases.errors import UserError, user_error_from_os_error


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        return COMMANDS[args.command](args) or 0
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # a full disk, no permission, a read-only project: one line, status 2
        error = user_error_from_os_error(exc)
        if error is None:
            raise
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130


def _open(arg: str):
    from neural_atlases.io.files import list_frame_files
    from neural_atlases.io.project import Project, resolve_project

    project = Project(resolve_project(arg))
    if not project.frames_dir.is_dir() or not list_frame_files(project.frames_dir):
        raise UserError(f"project {project.root} has no frames in {project.frames_dir} (fill it with `init`)")
    return project


def cmd_init(args: argparse.Namespace) -> int:
    from neural_atlases.io.importing import check_replaceable, read_clip, shot_project_dir, write_project
    from neural_atlases.io.project import Project, resolve_project
    from neural_atlases.io.video import parse_frame_range, parse_size
    from neural_atlases.progress import Progress

    size = parse_size(args.size) if args.size else None
    frames = parse_frame_range(args.frames) if args.frames else None
    every = args.shot == "all"
    shot = parse_shot(args.shot) if args.shot and not every else None
    root = resolve_project(args.project, must_exist=False)
    if not every:
        check_replaceable(Project(root), args.overwrite)  # before the video is read
    with Progress(None, "reading video", unit="frame") as bar:
        clip = read_clip(Path(args.video), size, frames, None if size else args.max_side, bar.callback())
    print(clip.describe())
    if every:
        shots: list[int | None] = list(range(1, len(clip.shots) + 1))
        targets = [shot_project_dir(root, k) for k in range(1, len(clip.shots) + 1)]
    else:
        if shot is not None:
            clip.check_shot(shot)
        shots, targets = [shot], [root]
    for target in targets:  # every one, before any is written
        check_replaceable(Project(target), args.overwrite)
    for target, k in zip(targets, shots, strict=True):
        with Progress(None, "writing frames", unit="frame") as bar:
            project = write_project(target, clip, k, args.overwrite, bar.callback())
        print(f"{len(project.frame_files())} frames in {project.frames_dir}")
    if shot is None and not every and clip.cuts:
        print("train takes one shot: run init again with --shot K, or --shot all for a project of each")
    return 0


def parse_shot(text: str) -> int:
    """``--shot K``: a shot number from 1."""
    if not text.isdigit() or int(text) < 1:
        raise UserError(f"--shot {text}: give a shot number from 1, or all")
    return int(text)


def cmd_train(args: argparse.Namespace) -> int:
    from neural_atlases.config import load_config
    from neural_atlases.io.project import check_inputs, check_single_shot
    from neural_atlases.pipeline.request import TrainRequest, check_request
    from neural_atlases.preprocess.mask_names import check_foreground_class

    project = _open(args.project)
    snapshots = parse_minutes(args.snapshots, "--snapshots") if args.snapshots else ()
    request = TrainRequest(
        args.config, args.steps, args.max_minutes, args.device, args.seed, args.restart, snapshots
    )
    check_request(request)  # the checks that need no torch, before it is imported
    if args.config is not None:
        check_foreground_class(load_config(args.config).preprocess.foreground_class)
    check_inputs(project)
    if not args.ignore_cuts:
        check_single_shot(project)
    from neural_atlases.pipeline.train import train_project

    train_project(project, request)
    print(f"atlases in {project.atlases_dir}")
    print(f"report in {project.report_path}")
    return 0


def parse_minutes(text: str, option: str) -> tuple[float, ...]:
    """``"1,2,5"`` -> ``(1.0, 2.0, 5.0)``: minutes >= 0, comma-separated."""
    try:
        minutes = tuple(float(part) for part in text.split(","))
    except ValueError:
        raise UserError(f"{option} {text}: give minutes separated by commas, e.g. 1,2,5") from None
    if not all(m >= 0 for m in minutes):  # also refuses nan
        raise UserError(f"{option} {text}: minutes must be >= 0")
    return minutes


def cmd_evaluate(args: argparse.Namespace) -> int:
    from neural_atlases.evaluation.evaluate import evaluate
    from neural_atlases.pipeline.report import build_report
    from neural_atlases.pipeline.trained import frames_for, load_trained

    project = _open(args.project)
    baked = load_trained(project)
    frames = frames_for(project, baked)
    result = evaluate(baked, frames, project.evaluation_dir, project.fps())
    print(f"PSNR {result.psnr:.2f} dB")
    print(f"report in {build_report(project)}")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from neural_atlases.pipeline.report import build_report

    project = _open(args.project)
    print(build_report(project))
    return 0


def _check_output(project, out: Path) -> None:
    """Refuse to write into the user's input folders, or where nothing can be written."""
    from neural_atlases.io.files import check_writable

    target = out.resolve()
    for folder in (project.frames_dir, project.masks_dir, project.scribbles_dir):
        base = folder.resolve()
        if target == base or base in target.parents:
            raise UserError(f"-o {out}: refusing to write into the project's input folder {folder}")
    check_writable(out.parent if out.suffix else out, f"-o {out}")


def cmd_atlases(args: argparse.Namespace) -> int:
    project = _open(args.project)
    if args.animated:
        if args.edited_frame is not None or args.frame is not None:
            raise UserError("-a writes the atlases of every frame: give it without -cf or --frame")
        out = args.out or project.animated_atlases_dir
        _check_output(project, out)
        paths = _animated_atlases(project, out)
    elif args.edited_frame is None:
        if args.frame is not None:
            raise UserError("--frame needs -cf EDITED_FRAME")
        out = args.out or project.atlases_dir
        _check_output(project, out)
        from neural_atlases.pipeline.trained import load_trained, write_atlases

        baked = load_trained(project)
        paths = write_atlases(baked, out)
    else:
        out = args.out or project.edited_atlases_dir
        _check_output(project, out)
        from neural_atlases.io.project import check_edited_frame

        check_edited_frame(project, args.edited_frame, args.frame)  # from headers, before torch
        from neural_atlases.pipeline.edits import atlases_from_frame

        paths = atlases_from_frame(project, args.edited_frame, args.frame, out)
    for path in paths:
        print(path)
    return 0


def _animated_atlases(project, out: Path) -> list[Path]:
    from neural_atlases.pipeline.edits import write_animated_atlases
    from neural_atlases.pipeline.trained import frames_for, load_trained
    from neural_atlases.progress import Progress

    baked = load_trained(project)
    frames = frames_for(project, baked)
    with Progress(frames.shape[0] * baked.num_layers, "animated atlases", unit="atlas") as bar:
        return write_animated_atlases(baked, frames, out, progress=bar.callback())


def parse_layer(name: str, num_layers: int | None) -> list[int]:
    """``background``, ``foreground`` (all foreground layers) or ``foreground_K`` to layer indices;
    with ``num_layers=None`` only the name's form is checked (before the model is read)."""
    if name == "background":
        return [0]
    if name == "foreground":
        return list(range(1, num_layers or 1))
    if name.startswith("foreground_") and name[len("foreground_") :].isdigit():
        k = int(name[len("foreground_") :])
        if num_layers is None or k + 1 < num_layers:
            return [k + 1]
        raise UserError(f"-r {name}: the project has {num_layers - 1} foreground layer(s)")
    raise UserError(f"-r {name}: use background, foreground or foreground_K")


def cmd_render(args: argparse.Namespace) -> int:
    project = _open(args.project)
    out = args.out
    if out.suffix not in ("", ".mp4"):
        raise UserError(f"-o {out}: give a .mp4 file or a folder (no suffix)")
    _check_output(project, out)  # before torch is imported and any frame is rendered
    for name in args.remove:
        parse_layer(name, num_layers=None)
    for path in [args.background, *args.foreground]:
        if path is not None and not path.exists():
            raise UserError(f"atlas not found: {path}")
    from neural_atlases.editing.render import RenderOptions
    from neural_atlases.io.images import write_frames
    from neural_atlases.io.video import write_video
    from neural_atlases.pipeline.edits import atlas_renderer, render_all
    from neural_atlases.pipeline.report import try_record_render
    from neural_atlases.pipeline.trained import frames_for, load_trained
    from neural_atlases.progress import Progress

    baked = load_trained(project)
    n = baked.num_layers
    if len(args.foreground) > n - 1:
        raise UserError(
            f"{len(args.foreground)} -f atlases given but the project has {n - 1} foreground layer(s)"
        )
    given = [args.background, *args.foreground] + [None] * (n - 1 - len(args.foreground))
    frames = frames_for(project, baked)
    remove = frozenset(k for name in args.remove for k in parse_layer(name, n))
    options = RenderOptions(remove=remove, reconstruct=args.reconstruct)
    renderer = atlas_renderer(baked, frames, given, options)
    with Progress(frames.shape[0], "rendering", unit="frame") as bar:
        rendered = render_all(renderer, frames, progress=bar.callback())
    if out.suffix == ".mp4":
        write_video(out, rendered, project.fps())
    else:
        write_frames(out, rendered)
    try_record_render(project, out, describe_render(args))
    print(out if out.suffix else out / "NNNNN.png")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    project = _open(args.project)
    out = args.out
    if out.exists() and not out.is_dir():
        raise UserError(f"-o {out}: exists and is not a folder")
    _check_output(project, out)
    from neural_atlases.export.compositing import export_project
    from neural_atlases.pipeline.trained import frames_for, load_trained
    from neural_atlases.progress import Progress

    baked = load_trained(project)
    frames = frames_for(project, baked)
    with Progress(frames.shape[0], "exporting", unit="frame") as bar:
        export_project(baked, frames, out, project.fps(), progress=bar.callback())
    print(out / "manifest.json")
    return 0


def describe_render(args: argparse.Namespace) -> str:
    """What a ``render`` made, in words, for the report: ``"edited background; foreground removed"``."""
    parts = []
    if args.background is not None:
        parts.append(f"edited background ({args.background.name})")
    parts += [f"edited foreground ({path.name})" for path in args.foreground]
    parts += [f"{name} removed" for name in args.remove]
    if args.reconstruct:
        parts.append("from the atlases alone")
    return "; ".join(parts) or "the original video"


def cmd_studio(args: argparse.Namespace) -> int:
    from neural_atlases.studio.app import check_port, serve

    check_port(args.port)  # before anything is loaded
    project = _open(args.project)
    try:
        serve(project, args.host, args.port, args.verbose)
    except KeyboardInterrupt:
        print("studio stopped", file=sys.stderr)
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from neural_atlases.pipeline.demo import run_demo

    if not args.minutes > 0:  # before the demo replaces anything
        raise UserError(f"--minutes must be positive, got {args.minutes}")
    run_demo(args.project, args.minutes)
    return 0


def cmd_models(args: argparse.Namespace) -> int:
    from neural_atlases.preprocess.models import MODELS, fetch_model, model_path

    if args.action == "list":
        for name, model in MODELS.items():
            path = model_path(name, args.cache)
            state = "present" if path.is_file() else "missing"
            source = f"{model.registry} {model.package}"
            print(f"{name}: {state} at {path} (licence {model.licence}; from {source})")
        return 0
    if not args.names:
        raise UserError(f"models fetch: name a model: {', '.join(MODELS)}")
    unknown = [name for name in args.names if name not in MODELS]
    if unknown:  # every name checked before any download
        raise UserError(f"unknown model {unknown[0]!r}; known: {', '.join(MODELS)}")
    for name in args.names:
        print(fetch_model(name, args.cache))
    return 0


COMMANDS = {
    "init": cmd_init,
    "train": cmd_train,
    "evaluate": cmd_evaluate,
    "atlases": cmd_atlases,
    "render": cmd_render,
    "export": cmd_export,
    "report": cmd_report,
    "models": cmd_models,
    "studio": cmd_studio,
    "demo": cmd_demo,
}


if __name__ == "__main__":
    sys.exit(main())
