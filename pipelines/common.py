"""What every stage shares: the thin `main()` wrapper and stage logging.

Paths come from `augment.workspace.Workspace`; a stage function takes the workspace, the
names it works on and the parsed params, and returns a line to print.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable
from pathlib import Path

from augment.errors import AugmentError, ConfigError
from augment.workspace import PARAMS_FILE, Workspace, check_name
from pipelines.params import load_params

log = logging.getLogger("augment.pipelines")


def setup_logging() -> None:
    """INFO lines of the `augment` loggers on stderr (DVC and task logs show them)."""
    logger = logging.getLogger("augment")
    if not logger.handlers and not logging.getLogger().handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
        logger.addHandler(handler)
    if logger.level == logging.NOTSET:
        logger.setLevel(logging.INFO)


def add_workspace_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--workspace", default=".", help="folder holding params.yaml (default: here)")
    parser.add_argument("--params", help=f"parameter file (default: WORKSPACE/{PARAMS_FILE})")


def workspace_of(args: argparse.Namespace) -> tuple[Workspace, Path]:
    """The stage's Workspace and the parameter file it reads."""
    ws = Workspace(args.workspace)
    return ws, Path(args.params) if args.params else ws.params_file


def stage_main(description: str, run: Callable[..., object], argv: list[str] | None,
               with_generator: bool = True) -> int:
    """Parse --dataset [--generator] --params --workspace, call run(ws, dataset, [generator,]
    params); a user error prints one line and exits 2."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--dataset", required=True)
    if with_generator:
        parser.add_argument("--generator", required=True)
    add_workspace_args(parser)
    args = parser.parse_args(argv)
    setup_logging()
    ws, source = workspace_of(args)
    try:
        names = (check_name(args.dataset, "--dataset"),)
        if with_generator:
            names += (check_name(args.generator, "--generator"),)
        params = load_params(source)
    except AugmentError as err:
        print(f"{parser.prog}: error: {err}", file=sys.stderr)
        return 2
    try:
        log.info("%s: %s", parser.prog, " ".join(names))
        result = run(ws, *names, params)
    except ConfigError as err:  # a parameter: say which file it came from
        print(f"{parser.prog}: error: {source}: {err}", file=sys.stderr)
        return 2
    except AugmentError as err:
        print(f"{parser.prog}: error: {err}", file=sys.stderr)
        return 2
    if result is not None:
        print(result)
    return 0
