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
        return getattr(exc, "exit_code", EXIT_FAILED)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lockgate", description=__doc__)
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    validate = commands.add_parser("validate", help="check configs; report every error at once")
    validate.add_argument("configs", nargs="+", type=Path, metavar="CONFIG")
    validate.add_argument("--require-data", action="store_true",
                          help="missing input data is an error, as for `lockgate run`, "
                          "not a warning")
    validate.set_defaults(handler=_validate)

    run = commands.add_parser("run", help="run a pipeline locally, node by node")
    run.add_argument("config", type=Path)
    run.add_argument("--run-id", help="name the run (default: local-<time>-<random>)")
    run.add_argument("--resume", metavar="RUN_ID",
                     help="re-run only the nodes of RUN_ID that did not complete")
    run.add_argument("--span", type=int, metavar="N",
                     help="read span N instead of the latest (overrides the config's span)")
    run.add_argument("--spans", type=_span_range, metavar="A..B",
                     help="one run per span from A to B, oldest first (a backfill)")
    run.add_argument("--no-cache", action="store_true",
                     help="recompute every node even where a cached result exists")
    run.set_defaults(handler=_run)

    schema = commands.add_parser("schema", help="write the config JSON Schema for editors")
    schema.add_argument("--out", type=Path, default=Path("configs/config.schema.json"))
    schema.set_defaults(handler=_schema)

    datagen = commands.add_parser("datagen", help="write the example pipelines' data")
    datasets = datagen.add_subparsers(required=True, metavar="DATASET")
    penguin = datasets.add_parser("penguin", help="the prepared Palmer penguins CSV")
    penguin.add_argument("--out", type=Path, required=True)
    penguin.set_defaults(handler=_datagen_penguin)
    species = datasets.add_parser(
        "penguin-species", help="Palmer penguins with string species and island columns"
    )
    species.add_argument("--out", type=Path, required=True)
    species.set_defaults(handler=_datagen_penguin_species)
    pupdates = datasets.add_parser("pupdates", help="Pooch Predictor posts, one CSV per span")
    pupdates.add_argument("--out", type=Path, required=True)
    pupdates.add_argument("--rows", type=int, default=10_000, help="rows per span")
    pupdates.add_argument("--spans", type=int, default=1)
    pupdates.add_argument("--seed", type=int, default=0)
    pupdates.add_argument("--drift", choices=["none", "breed", "country"], default="none",
                          help="shift this distribution in spans after the first")
    pupdates.add_argument("--missing-fraction", type=float, default=0.0,
                          help="fraction of cells left empty")
    pupdates.add_argument("--bad-row-fraction", type=float, default=0.0,
                          help="fraction of malformed rows (wrong column count, text in numbers)")
    pupdates.set_defaults(handler=_datagen_pupdates)

    rollback = commands.add_parser(
        "rollback", help="serve an earlier blessed model again, as a new version"
    )
    rollback.add_argument("config", type=Path)
    rollback.add_argument("--to", type=int, metavar="VERSION",
                          help="the pushed version to restore (default: the one before current)")
    rollback.set_defaults(handler=_rollback)
    return parser


def _validate(args: argparse.Namespace) -> int:
    from pipelines.loading import check_config

    failed = False
    for path in args.configs:
        try:
            _, warnings = check_config(path, require_data=args.require_data)
            for issue in warnings:
                print(issue, file=sys.stderr)
            print(f"{path}: ok" + (", but data it reads is missing (see above): `lockgate run` "
                                   "fails until it is there" if warnings else ""))
        except ConfigError as exc:
            failed = True
            for issue in exc.issues:
                print(issue, file=sys.stderr)
    return EXIT_INVALID if failed else 0


def _run(args: argparse.Namespace) -> int:
    from pipelines.console import run_with_console

    if sum(x is not None for x in (args.span, args.spans, args.resume)) > 1:
        print("lockgate run: --span, --spans and --resume go alone", file=sys.stderr)
        return EXIT_INVALID
    return run_with_console(args.config, run_id=args.resume or args.run_id,
                            resume=args.resume is not None, use_cache=not args.no_cache,
                            span=args.span, spans=args.spans)


def _span_range(text: str) -> tuple[int, int]:
    first, sep, last = text.partition("..")
    if not sep or not first.isdigit() or not last.isdigit() or int(first) > int(last):
        raise argparse.ArgumentTypeError(f"{text!r} is not a span range; write A..B, e.g. 1..3")
    return int(first), int(last)


def _schema(args: argparse.Namespace) -> int:
    from pipelines.config.models import json_schema

    args.out.write_text(json.dumps(json_schema(), indent=2, sort_keys=True) + "\n")
    print(f"wrote {args.out}")
    return 0


def _datagen_penguin(args: argparse.Namespace) -> int:
    from pipelines.datagen.penguin import write_processed_csv

    print(f"wrote {write_processed_csv(args.out)}")
    return 0


def _datagen_penguin_species(args: argparse.Namespace) -> int:
    from pipelines.datagen.penguin import write_species_csv

    print(f"wrote {write_species_csv(args.out)}")
    return 0


def _datagen_pupdates(args: argparse.Namespace) -> int:
    from pipelines.datagen.pupdates import generate

    files = generate(
        args.out,
        rows=args.rows,
        spans=args.spans,
        seed=args.seed,
        drift=args.drift,
        missing_fraction=args.missing_fraction,
        bad_row_fraction=args.bad_row_fraction,
    )
    for path in files:
        print(f"wrote {path}")
    return 0


def _rollback(args: argparse.Namespace) -> int:
    from pipelines.rollback import rollback

    return rollback(args.config, to_version=args.to)


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    sys.exit(main())
