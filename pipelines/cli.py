"""The ``lockgate`` command. Imports stay light until a subcommand needs more."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from datetime import date
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
    run.add_argument("--date", type=_span_of_date, metavar="YYYY-MM-DD", dest="date_span",
                     help="read the span of this day (an input with {YYYY}{MM}{DD}), as a "
                     "scheduled Airflow run of that day does")
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
    pupdates.add_argument("--spans", type=int, default=1, help="how many spans (days)")
    pupdates.add_argument("--start-date", type=_date, metavar="YYYY-MM-DD",
                          help="write daily spans day=YYYY-MM-DD/ from this day on, instead of "
                          "span-N/")
    pupdates.add_argument("--days", type=int, dest="spans", help="the same as --spans")
    pupdates.add_argument("--seed", type=int, default=0)
    pupdates.add_argument("--drift", choices=["none", "breed", "country"], default="none",
                          help="shift this distribution in spans after the first")
    pupdates.add_argument("--missing-fraction", type=float, default=0.0,
                          help="fraction of cells left empty")
    pupdates.add_argument("--bad-row-fraction", type=float, default=0.0,
                          help="fraction of malformed rows (wrong column count, text in numbers)")
    pupdates.set_defaults(handler=_datagen_pupdates)
    numeric = datasets.add_parser(
        "numeric", help="30 float features and a binary label, one CSV (span-1/numeric.csv)"
    )
    numeric.add_argument("--out", type=Path, required=True)
    numeric.add_argument("--rows", type=int, required=True)
    numeric.add_argument("--seed", type=int, default=0)
    numeric.set_defaults(handler=_datagen_numeric)

    gc = commands.add_parser(
        "gc", help="delete artifacts outside a retention policy (never what serving, the "
        "baseline or the reference set depends on)")
    gc.add_argument("config", type=Path)
    gc.add_argument("--keep-spans", type=int, required=True, metavar="N",
                    help="keep the Examples of the newest N spans, and what was made from them")
    gc.add_argument("--keep-models", type=int, required=True, metavar="M",
                    help="keep the newest M models, and what was made from them")
    gc.add_argument("--dry-run", action="store_true", help="list what would go; delete nothing")
    gc.set_defaults(handler=_gc)

    rollback = commands.add_parser(
        "rollback", help="serve an earlier blessed model again, as a new version"
    )
    rollback.add_argument("config", type=Path)
    rollback.add_argument("--to", type=int, metavar="VERSION",
                          help="the pushed version to restore (default: the one before current)")
    rollback.add_argument("--keep-baseline", action="store_true",
                          help="leave the next Evaluator's baseline alone (by default it "
                          "becomes the restored model)")
    _audit_arguments(rollback, "why the older model is served again")
    rollback.set_defaults(handler=_rollback)
    report = commands.add_parser("report", help="write a run's offline HTML reports; print "
                                 "the index path")
    report.add_argument("run_id", metavar="RUN_ID")
    report.add_argument("--pipeline", metavar="P",
                        help="the pipeline's config file or name (default: the config in "
                        "$LOCKGATE_CONFIG_DIR or configs/ that has RUN_ID)")
    report.add_argument("--open", action="store_true", help="open the index in a browser")
    report.set_defaults(handler=_report)
    _override_parsers(commands)
    _lineage_parsers(commands)
    return parser


def _lineage_parsers(commands: argparse._SubParsersAction) -> None:
    """Questions about past runs, answered from ML Metadata (pipelines/lineage/)."""
    runs = commands.add_parser("runs", help="recent runs, newest first, with their status")
    runs.add_argument("target", nargs="?", metavar="CONFIG|PIPELINE",
                      help="one pipeline (default: every pipeline in $LOCKGATE_HOME)")
    runs.add_argument("--limit", type=int, default=20, metavar="N")
    runs.add_argument("--json", action="store_true")
    runs.set_defaults(handler=_runs)
    show = commands.add_parser("show", help="one run, node by node: status, blessing, "
                               "anomalies, reports, logs")
    show.add_argument("run_id", metavar="RUN_ID")
    show.add_argument("--pipeline", metavar="CONFIG|PIPELINE",
                      help="the pipeline (needed when two have a run of that id)")
    show.add_argument("--json", action="store_true")
    show.set_defaults(handler=_show)
    lineage = commands.add_parser(
        "lineage", help="what made an artifact or the serving model, and what came of it",
        description="lockgate lineage serving CONFIG|PIPELINE [--model NAME] [--version N]; "
        "lockgate lineage impact CONFIG|PIPELINE --span N | --artifact ID | --file PATH; "
        "lockgate lineage ARTIFACT_ID [--depth N]")
    lineage.add_argument("subject", metavar="serving|impact|ARTIFACT_ID")
    lineage.add_argument("target", nargs="?", metavar="CONFIG|PIPELINE")
    lineage.add_argument("--model", metavar="NAME", help="serving: the served model's name")
    lineage.add_argument("--version", type=int, metavar="N",
                         help="serving: this version, not the one serving now")
    chosen = lineage.add_mutually_exclusive_group()
    chosen.add_argument("--span", type=int, metavar="N", help="impact: of this data span")
    chosen.add_argument("--artifact", type=int, metavar="ID", help="impact: of this artifact")
    chosen.add_argument("--file", metavar="PATH", help="impact: of this input file")
    lineage.add_argument("--depth", type=int, default=50, metavar="N",
                         help="ARTIFACT_ID: how many artifacts deep to walk each way")
    lineage.add_argument("--json", action="store_true")
    lineage.set_defaults(handler=_lineage)


def _audit_arguments(command: argparse.ArgumentParser, why: str) -> None:
    command.add_argument("--reason", help=f"{why} (required; recorded in ML Metadata)")
    command.add_argument("--by", metavar="NAME", help="who decides it (default: the OS user)")


def _override_parsers(commands: argparse._SubParsersAction) -> None:
    """The audited overrides (pipelines/override_commands.py); each needs --reason."""
    def audit(command: argparse.ArgumentParser) -> None:
        _audit_arguments(command, "why the gate is overridden")

    bless = commands.add_parser("bless", help="bless a model the Evaluator refused (audited)")
    bless.add_argument("config", type=Path)
    bless.add_argument("model_id", type=int, metavar="MODEL_ID")
    audit(bless)
    bless.set_defaults(handler=_bless)
    accept = commands.add_parser(
        "accept-anomalies", help="let a run the ExampleValidator halted continue (audited)"
    )
    accept.add_argument("config", type=Path)
    accept.add_argument("run_id", metavar="RUN_ID")
    audit(accept)
    accept.set_defaults(handler=_accept_anomalies)
    baseline = commands.add_parser(
        "baseline", help="choose what the next Evaluator compares with (audited)"
    )
    baseline.add_argument("config", type=Path)
    actions = baseline.add_subparsers(required=True, dest="action", metavar="ACTION")
    chosen = actions.add_parser("set", help="compare with MODEL_ID")
    chosen.add_argument("model_id", type=int, metavar="MODEL_ID")
    audit(chosen)
    reset = actions.add_parser("reset", help="compare with the latest blessed model again")
    audit(reset)
    reset.set_defaults(model_id=None)
    baseline.set_defaults(handler=_baseline)


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

    if sum(x is not None for x in (args.span, args.spans, args.resume, args.date_span)) > 1:
        print("lockgate run: --span, --spans, --date and --resume go alone", file=sys.stderr)
        return EXIT_INVALID
    span = args.span if args.date_span is None else args.date_span
    return run_with_console(args.config, run_id=args.resume or args.run_id,
                            resume=args.resume is not None, use_cache=not args.no_cache,
                            span=span, spans=args.spans)


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date; write YYYY-MM-DD") from None


def _span_of_date(text: str) -> int:
    from pipelines.span_dates import span_of_date

    return span_of_date(_date(text))


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
        start_date=args.start_date,
    )
    for path in files:
        print(f"wrote {path}")
    return 0


def _datagen_numeric(args: argparse.Namespace) -> int:
    from pipelines.datagen.numeric import generate

    print(f"wrote {generate(args.out, args.rows, args.seed)}")
    return 0


def _gc(args: argparse.Namespace) -> int:
    from pipelines.retention import gc

    if args.keep_spans < 1 or args.keep_models < 1:
        print("lockgate gc: keep at least one span and one model", file=sys.stderr)
        return EXIT_INVALID
    return gc(args.config, args.keep_spans, args.keep_models, args.dry_run)


def _rollback(args: argparse.Namespace) -> int:
    from pipelines.rollback import rollback

    return rollback(args.config, to_version=args.to, keep_baseline=args.keep_baseline,
                    reason=args.reason, by=args.by)


def _bless(args: argparse.Namespace) -> int:
    from pipelines.override_commands import bless

    return bless(args.config, args.model_id, args.reason, args.by)


def _accept_anomalies(args: argparse.Namespace) -> int:
    from pipelines.override_commands import accept_anomalies

    return accept_anomalies(args.config, args.run_id, args.reason, args.by)


def _baseline(args: argparse.Namespace) -> int:
    from pipelines.override_commands import baseline

    return baseline(args.config, args.action, args.model_id, args.reason, args.by)


def _report(args: argparse.Namespace) -> int:
    from pipelines.reports.command import report

    return report(args.run_id, args.pipeline, args.open)


def _runs(args: argparse.Namespace) -> int:
    from pipelines.lineage import commands

    return commands.runs(args.target, args.limit, args.json)


def _show(args: argparse.Namespace) -> int:
    from pipelines.lineage import commands

    return commands.show(args.run_id, args.pipeline, args.json)


def _lineage(args: argparse.Namespace) -> int:
    from pipelines.lineage import commands

    if args.subject in ("serving", "impact") and not args.target:
        print(f"lockgate lineage {args.subject}: name the CONFIG or PIPELINE", file=sys.stderr)
        return EXIT_INVALID
    if args.subject == "serving":
        return commands.serving(args.target, args.model, args.version, args.json)
    if args.subject == "impact":
        if args.span is None and args.artifact is None and args.file is None:
            print("lockgate lineage impact: pass --span N, --artifact ID or --file PATH",
                  file=sys.stderr)
            return EXIT_INVALID
        return commands.impact_of(args.target, args.span, args.artifact, args.file, args.json)
    if not args.subject.isdigit():
        print(f"lockgate lineage: {args.subject!r} is not serving, impact or an artifact id",
              file=sys.stderr)
        return EXIT_INVALID
    return commands.artifact(int(args.subject), args.target, args.depth, args.json)


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    sys.exit(main())
