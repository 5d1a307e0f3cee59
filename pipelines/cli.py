"""The ``lockgate`` command. Imports stay light until a subcommand needs more."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from pipelines.errors import ConfigError, LockgateError

EXIT_FAILED = 1
EXIT_INVALID = 2


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args))
    except ConfigError as exc:
        for issue in exc.issues:
            print(issue, file=sys.stderr)
        return EXIT_INVALID
    except LockgateError as exc:
        print(f"lockgate: {exc}", file=sys.stderr)
        return EXIT_FAILED


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lockgate", description=__doc__)
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    validate = commands.add_parser("validate", help="check configs; report every error at once")
    validate.add_argument("configs", nargs="+", type=Path, metavar="CONFIG")
    validate.set_defaults(handler=_validate)

    run = commands.add_parser("run", help="run a pipeline locally, node by node")
    run.add_argument("config", type=Path)
    run.add_argument("--run-id", help="name the run (default: local-<time>-<random>)")
    run.add_argument("--resume", metavar="RUN_ID",
                     help="re-run only the nodes of RUN_ID that did not complete")
    run.set_defaults(handler=_run)

    schema = commands.add_parser("schema", help="write the config JSON Schema for editors")
    schema.add_argument("--out", type=Path, default=Path("configs/config.schema.json"))
    schema.set_defaults(handler=_schema)

    datagen = commands.add_parser("datagen", help="write the example pipelines' data")
    datagen.add_argument("dataset", choices=["penguin"])
    datagen.add_argument("--out", type=Path, required=True)
    datagen.set_defaults(handler=_datagen)
    return parser


def _validate(args: argparse.Namespace) -> int:
    from pipelines.config import load_config

    failed = False
    for path in args.configs:
        try:
            load_config(path)
            print(f"{path}: ok")
        except ConfigError as exc:
            failed = True
            for issue in exc.issues:
                print(issue, file=sys.stderr)
    return EXIT_INVALID if failed else 0


def _run(args: argparse.Namespace) -> int:
    from pipelines.console import run_with_console

    return run_with_console(args.config, run_id=args.resume or args.run_id,
                            resume=args.resume is not None)


def _schema(args: argparse.Namespace) -> int:
    from pipelines.config.models import json_schema

    args.out.write_text(json.dumps(json_schema(), indent=2, sort_keys=True) + "\n")
    print(f"wrote {args.out}")
    return 0


def _datagen(args: argparse.Namespace) -> int:
    from pipelines.examples.penguin.data import write_processed_csv

    print(f"wrote {write_processed_csv(args.out)}")
    return 0


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    sys.exit(main())
