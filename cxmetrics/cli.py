"""``python -m cxmetrics``: generate the sample, create the schema, print the overview.

Every failure a user can cause ends with one clear line on stderr and a non-zero exit.
"""

from __future__ import annotations

import argparse
import datetime as dt
import getpass
import json
import os
import sys
from pathlib import Path

import sqlalchemy as sa

from cxmetrics.contract import (
    access,
    comment_analysis,
    importer,
    journey_import,
    mapping,
    migrate,
    sample,
    schema,
    store,
)
from cxmetrics.contract import settings as company
from cxmetrics.contract.journey import JourneyError
from cxmetrics.contract.mapping import MappingError
from cxmetrics.contract.periods import DEFAULT_PRESET, PRESETS, preset_range
from cxmetrics.contract.registry import METRICS, MIN_N
from cxmetrics.contract.text import shortened
from cxmetrics.reports import alert_log, alerts, briefing, briefing_mail, delivery, exports
from cxmetrics.stats import dataset, scope
from cxmetrics.stats.filters import FilterError, Filters
from cxmetrics.views import finder, overview

EXIT_USAGE = 2
EXIT_DATA = 1
EXIT_UNEXPECTED = 70  # sysexits' EX_SOFTWARE: a fault of the program, not of the input
EXIT_INTERRUPTED = 130
#: Set to any value to see the traceback of an unexpected error instead of one line.
TRACEBACK_ENV = "CX_TRACEBACK"


class CliError(Exception):
    """A problem the user can fix; printed as one line."""


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date in YYYY-MM-DD form") from exc


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from exc
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text} must be at least 1")
    return value


def _values(items: list[str] | None) -> tuple[str, ...]:
    """Repeated and comma-separated values, in order, without duplicates."""
    out: list[str] = []
    for item in items or []:
        for part in item.split(","):
            part = part.strip()
            if part and part not in out:
                out.append(part)
    return tuple(out)


def _progress(fraction: float, message: str) -> None:
    print(f"[{fraction * 100:5.1f}%] {message}", file=sys.stderr, flush=True)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m cxmetrics", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("sample", help="generate the sample insurance company's data")
    p.add_argument("--customers", type=_positive, default=sample.DEFAULT_CUSTOMERS)
    p.add_argument("--seed", type=int, default=sample.DEFAULT_SEED)
    p.add_argument(
        "--end",
        type=_date,
        default=sample.DEFAULT_END,
        help="last day of the two years generated (default %(default)s)",
    )
    p.add_argument(
        "--url", help="target database URL (default: CX_DATABASE_URL or the sample SQLite file)"
    )
    p.add_argument("--replace", action="store_true", help="overwrite existing data")
    p.add_argument(
        "--no-stories",
        action="store_true",
        help="the same company with none of the planted stories (for calibration)",
    )

    p = sub.add_parser(
        "init-db",
        help="create the data contract's tables on a database, or upgrade an older one",
    )
    p.add_argument("--url", help="database URL (default: CX_DATABASE_URL)")

    p = sub.add_parser(
        "analyse-comments",
        help="find the sentiment and theme of the comments not analysed yet (stored once)",
    )
    p.add_argument(
        "--all",
        action="store_true",
        help="fit the themes anew on every comment and analyse every comment again",
    )
    p.add_argument("--url", help="database URL (default: CX_DATABASE_URL or the sample file)")

    p = sub.add_parser(
        "import",
        help="import a CSV, TSV, XLSX or Parquet file into one table through a column mapping",
        description="Import a CSV, TSV, XLSX or Parquet file into one table through a column\n"
        "mapping. The format of the mapping file follows the options.",
        epilog=mapping.reference(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("table", choices=schema.IMPORTABLE)
    p.add_argument("file", type=Path)
    p.add_argument("--mapping", type=Path, help="TOML or YAML column mapping (default: none)")
    p.add_argument("--dry-run", action="store_true", help="check every row, write nothing")
    p.add_argument(
        "--accept-valid",
        action="store_true",
        help="write the valid rows and report the rest (default: all or nothing)",
    )
    p.add_argument("--report-dir", type=Path, help="where the report goes (default: beside FILE)")
    p.add_argument("--url", help="database URL (default: CX_DATABASE_URL or the sample file)")

    p = sub.add_parser(
        "import-journey", help="import a journey definition (a folder of CSV files or a YAML file)"
    )
    p.add_argument("path", type=Path)
    p.add_argument("--url", help="database URL (default: CX_DATABASE_URL or the sample file)")

    p = sub.add_parser(
        "briefing",
        help="write the executive briefing (PPTX and PDF) of a view, or one per department",
    )
    p.add_argument("--out", type=Path, required=True, help="folder the files are written to")
    p.add_argument(
        "--format", default="pptx,pdf", help="pptx, pdf or both, comma-separated (default both)"
    )
    p.add_argument(
        "--period",
        choices=[k for k in PRESETS if k != "custom"],
        default=DEFAULT_PRESET,
        help="period preset, anchored on the latest day with data (default %(default)s); "
        "--start/--end override it",
    )
    p.add_argument("--start", type=_date)
    p.add_argument("--end", type=_date)
    for name in ("stage", "department", "channel", "segment", "region"):
        p.add_argument(f"--{name}", action="append", metavar="X")
    p.add_argument(
        "--per",
        choices=["department"],
        help="one briefing per department, each filtered to the stages it affects",
    )
    p.add_argument(
        "--send",
        action="store_true",
        help="also e-mail them (CX_SMTP_URL): each manager their departments' briefing, "
        "executives the company's (with --per department) or the view's",
    )
    p.add_argument("--users", type=Path, help="the users file (default: CX_USERS_FILE)")
    p.add_argument("--url", help="database URL (default: CX_DATABASE_URL or the sample file)")

    p = sub.add_parser(
        "alerts",
        help="send each finding of the latest complete week to the managers of the departments "
        "that own it, and a digest to executives",
    )
    p.add_argument(
        "--send",
        action="store_true",
        help="send by e-mail (CX_SMTP_URL) and webhook (CX_ALERT_WEBHOOK); without it, print "
        "what would be sent and send nothing",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument(
        "--since",
        type=_date,
        help="the findings from this day to the data's last day (default: the latest "
        "complete week, Monday to Sunday)",
    )
    p.add_argument("--users", type=Path, help="the users file (default: CX_USERS_FILE)")
    p.add_argument("--url", help="database URL (default: CX_DATABASE_URL or the sample file)")

    p = sub.add_parser(
        "user", help="add (or change) a person in the sign-in users file, remove one, or list it"
    )
    p.add_argument("action", choices=["add", "remove", "list"])
    p.add_argument("email", nargs="?", help="the person's e-mail address (for add, remove)")
    p.add_argument("--file", type=Path, help="the users file (default: CX_USERS_FILE)")
    p.add_argument("--role", choices=access.ROLES, help="executive, manager or analyst")
    p.add_argument(
        "--department", action="append", metavar="ID", help="a manager's department (repeat)"
    )
    p.add_argument("--name", default="", help="the name shown when they are signed in")
    p.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from standard input instead of asking twice",
    )
    p.add_argument(
        "--no-password",
        action="store_true",
        help="no password (people who sign in through an SSO proxy or identity provider)",
    )

    p = sub.add_parser(
        "settings",
        help="show or change the company's settings (name, currency, default period, churn)",
    )
    p.add_argument("action", choices=["show", "set", "unset"])
    p.add_argument("key", nargs="?", choices=company.KEYS, help="the setting (for set, unset)")
    p.add_argument("value", nargs="?", help="its new value (for set)")
    p.add_argument("--url", help="database URL (default: CX_DATABASE_URL or the sample file)")

    p = sub.add_parser(
        "export-parquet",
        help="write every table as FOLDER/table.parquet: a lake for DuckDB and Spark",
    )
    p.add_argument("folder", type=Path)
    p.add_argument("--replace", action="store_true", help="overwrite a folder that holds files")
    p.add_argument("--url", help="database URL (default: CX_DATABASE_URL or the sample file)")

    for command, text in (
        ("summary", "print the executive overview's numbers"),
        ("findings", "print every finding the view supports, with its test and q-value"),
    ):
        p = sub.add_parser(command, help=text)
        p.add_argument("--json", action="store_true", help="print one JSON object")
        p.add_argument("--start", type=_date)
        p.add_argument("--end", type=_date)
        for name in ("stage", "department", "channel", "segment", "region"):
            p.add_argument(
                f"--{name}",
                action="append",
                metavar="X",
                help=f"keep only this {name} (repeat or comma-separate for several)",
            )
        p.add_argument(
            "--min-n",
            type=_positive,
            default=MIN_N,
            help="fewest answers a score needs to be shown (default %(default)s)",
        )
        p.add_argument("--url", help="database URL (default: CX_DATABASE_URL or the sample file)")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "sample":
            return _sample(args)
        if args.command == "init-db":
            return _init_db(args)
        if args.command == "import":
            return _import(args)
        if args.command == "analyse-comments":
            return _analyse_comments(args)
        if args.command == "import-journey":
            return _import_journey(args)
        if args.command == "briefing":
            return _briefing(args)
        if args.command == "alerts":
            return _alerts(args)
        if args.command == "user":
            return _user(args)
        if args.command == "findings":
            return _findings(args)
        if args.command == "settings":
            return _settings(args)
        if args.command == "export-parquet":
            return _export_parquet(args)
        return _summary(args)
    except (
        CliError,
        store.StoreError,
        FilterError,
        MappingError,
        importer.ImportError_,
        JourneyError,
        access.AccessError,
        company.SettingsError,
        delivery.SettingsError,
    ) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_DATA
    except sa.exc.SQLAlchemyError as exc:  # a database down, a refused password, a lost table
        url = store.safe_url(getattr(args, "url", None) or store.database_url())
        print(f"error: the database {url} failed: {store.describe_error(exc)}", file=sys.stderr)
        return EXIT_DATA
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:
        if os.environ.get(TRACEBACK_ENV):
            raise
        print(
            f"error: unexpected {type(exc).__name__} in '{args.command or 'summary'}': "
            f"{str(exc).splitlines()[0] if str(exc) else 'no message'} "
            f"(set {TRACEBACK_ENV}=1 to see where; please report it)",
            file=sys.stderr,
        )
        return EXIT_UNEXPECTED


def _settings(args) -> int:
    url = args.url or store.database_url()
    engine = store.make_engine(url)
    try:
        if args.action != "show":
            if not args.key or (args.action == "set" and args.value is None):
                raise CliError(
                    f"settings {args.action} needs a key"
                    + (" and a value" if args.action == "set" else "")
                )
            company.save(engine, args.key, args.value if args.action == "set" else None)
        values = company.read(engine)
        current = company.parse(values)
    finally:
        engine.dispose()
    for key in company.KEYS:
        value = getattr(current, key)
        shown = "(chosen from the data)" if value is None else value
        if isinstance(value, bool):
            shown = "true" if value else "false"
        origin = "" if key in values else "  # default"
        print(f"{key} = {shown}{origin}")
    return 0


def _export_parquet(args) -> int:
    url = args.url or store.database_url()
    store.ensure_sample_database(url, progress=_progress)
    engine = store.make_engine(url)
    try:
        written = store.export_parquet(engine, args.folder, replace=args.replace)
    finally:
        engine.dispose()
    print(
        f"wrote {len(written)} tables ({', '.join(written)}) from {store.safe_url(url)} "
        f"to {args.folder.resolve()}"
    )
    return 0


def _user(args) -> int:
    path = args.file or access.users_file()
    if path is None:
        raise CliError("name the users file with --file or CX_USERS_FILE")
    if args.action == "list":
        for u in access.load_users(path).values():
            print(f"{u.email}\t{u.role}\t{','.join(u.departments) or 'all departments'}")
        return 0
    if args.action == "remove":
        if not args.email:
            raise CliError("user remove needs an e-mail address")
        gone = access.remove_user(path, args.email)
        print(
            f"{gone.email}: removed from {path}; signed in, they are signed out at their next click"
        )
        return 0
    if not args.email or not args.role:
        raise CliError("user add needs an e-mail address and --role")
    password = None
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    elif not args.no_password:
        try:
            password = getpass.getpass(f"Password for {args.email}: ")
            again = getpass.getpass("The same password again: ")
        except EOFError:  # no terminal, and nothing on standard input
            raise CliError(
                "no password was typed (no terminal to ask on); give it on standard input "
                "with --password-stdin; nothing was written"
            ) from None
        if again != password:
            raise CliError("the two passwords differ; nothing was written")
    user = access.add_user(
        path, args.email, args.role, password, tuple(_values(args.department)), args.name
    )
    scope = ", ".join(user.departments) or "every department"
    print(f"{user.email}: {user.role}, {scope}, written to {path}")
    _warn_unknown_departments(user.departments)
    return 0


def _warn_unknown_departments(departments: tuple[str, ...]) -> None:
    """Say on stderr which of a manager's departments the database does not know: signed
    in, they would see nothing. Silent when the database cannot be read (it may not be
    set up yet)."""
    if not departments:
        return
    url = store.database_url()
    path = store.sqlite_path(url)
    if path is not None and not path.exists():
        return  # not set up yet (the sample's too): connecting would make an empty file
    try:
        engine = store.make_engine(url)
    except store.StoreError:
        return
    try:
        known = sorted(store.load_journey(engine).departments["department_id"].to_list())
    except (store.StoreError, sa.exc.SQLAlchemyError):
        return
    finally:
        engine.dispose()
    unknown = [d for d in departments if d not in known]
    if unknown:
        print(
            f"warning: {store.safe_url(url)} has no department {', '.join(unknown)} "
            f"(its departments: {', '.join(known) or 'none'}); until it has, this person "
            "sees nothing when signed in",
            file=sys.stderr,
        )


def _sample(args) -> int:
    url = args.url or store.database_url()
    store.make_engine(url).dispose()  # a malformed URL fails here, before any work
    data = sample.generate(
        args.customers,
        args.seed,
        args.end,
        progress=lambda f, m: _progress(0.6 * f, f"Generating {m}"),
        stories=not args.no_stories,
    )
    store.write_tables(
        url, data.tables(), replace=args.replace, progress=lambda f, m: _progress(0.6 + 0.4 * f, m)
    )
    print(
        f"wrote {data.responses.height:,} responses from {data.customers.height:,} customers "
        f"to {store.safe_url(url)}"
    )
    return 0


def _init_db(args) -> int:
    url = args.url or store.database_url()
    engine = store.make_engine(url)
    store.require_writable(engine, "the tables")
    try:
        changes = migrate.upgrade(engine)
    except Exception as exc:
        raise CliError(
            f"cannot create or upgrade the tables on {store.safe_url(url)} (nothing was "
            f"changed): {store.describe_error(exc)}"
        ) from exc
    finally:
        engine.dispose()
    for change in changes:
        if change.what == "new table":
            print(f"created table {change.table}")
        else:
            print(f"upgraded {change}")
    made = {c.table for c in changes if c.what == "new table"}
    # comments to analyse only where responses were there before (an upgrade), not in a
    # database made just now
    if "responses" not in made and any(t.startswith("comment_") for t in made):
        print("fill the comment analysis with `python3 -m cxmetrics analyse-comments`")
    print(f"the data contract's tables are ready on {store.safe_url(url)}")
    return 0


def _import(args) -> int:
    url = args.url or store.database_url()
    engine = store.make_engine(url)
    try:
        store.check(engine)
        m = mapping.load(args.mapping, args.table) if args.mapping else None
        report = importer.run(
            engine,
            args.table,
            args.file,
            m,
            dry_run=args.dry_run,
            accept_valid=args.accept_valid,
            report_dir=args.report_dir,
            report_name=args.mapping.stem if args.mapping else None,
            progress=_progress,
        )
    finally:
        engine.dispose()
    print(report.summary())
    for warning in report.warnings:
        print(f"warning: {warning}")
    if report.report_path:
        print(f"report written to {report.report_path.resolve()}")
    if report.rejected_path:
        print(f"rejected rows written to {report.rejected_path.resolve()}")
        print("problems, by the file's line (row 1 is the header):")
        for r in report.problems.head(10).iter_rows(named=True):
            print(f"  row {r['row']}, {r['column']} = {shortened(r['value'])!r}: {r['reason']}")
        if report.problems.height > 10:
            print(f"  … and {report.problems.height - 10:,} more in the report")
    return 0 if report.ok else EXIT_DATA


def _analyse_comments(args) -> int:
    url = args.url or store.database_url()
    engine = store.make_engine(url)
    try:
        store.check(engine)
        outcome = comment_analysis.analyse(engine, everything=args.all, progress=_progress)
    except store.StoreError:
        raise
    except Exception as exc:
        raise CliError(
            f"cannot analyse the comments on {store.safe_url(url)} (nothing was changed): "
            f"{store.describe_error(exc)}"
        ) from exc
    finally:
        engine.dispose()
    print(outcome.summary())
    return 0


def _import_journey(args) -> int:
    url = args.url or store.database_url()
    engine = store.make_engine(url)
    try:
        # the file (or folder) by its name, as a data import logs it: "." has none
        name = args.path.resolve().name
        counts = journey_import.write(engine, journey_import.read(args.path), name)
    finally:
        engine.dispose()
    print(
        f"imported the journey from {args.path} into {store.safe_url(url)}: "
        + journey_import.described(counts)
    )
    return 0


def _briefing(args) -> int:
    formats = _values([args.format])
    unknown = [f for f in formats if f not in briefing.FORMATS]
    if unknown or not formats:
        raise CliError(f"unknown format {', '.join(unknown) or '(none)'}; use pptx, pdf or both")
    mailing = _mail_settings(args) if args.send else None  # checked before any work
    url = args.url or store.database_url()
    store.ensure_sample_database(url, progress=_progress)
    engine = store.make_engine(url)
    try:
        inputs = briefing.load_inputs(engine, _progress)
    finally:
        engine.dispose()
    ds = inputs["ds"]
    start, end = preset_range(args.period, ds.first_day, ds.last_day)
    base = _filters(args, args.start or start, args.end or end)
    _check_known(ds, base)
    views = briefing_views(inputs, base, args.per)
    owners: list[str | None] = [v.departments[0] if args.per else None for _d, v in views]
    if mailing is not None and args.per:  # executives receive the company's
        views.append((inputs, base))
        owners.append(None)
    written: list[briefing_mail.Built] = []
    try:
        built = [briefing.build(**data, f=view) for data, view in views]
        briefing.check_distinct(built, formats)  # before any file is written
        for b, owner, (_data, view) in zip(built, owners, views, strict=True):
            paths = briefing.write(b, args.out, formats)
            for path in paths:
                print(f"wrote {path}")
            name = ds.journey.department_name(owner) if owner else "the company"
            title = f"{name}, {b.period}" if args.per else f"{b.filters}, {b.period}"
            written.append(briefing_mail.Built(owner, view, title, tuple(paths)))
    except exports.ExportError as exc:
        raise CliError(str(exc)) from exc
    except OSError as exc:
        raise CliError(f"cannot write to {args.out}: {exc.strerror or exc}") from exc
    if mailing is None:
        return 0
    return _mail_briefings(mailing, written, ds.settings.company_name or "CX dashboard")


def _mail_settings(args) -> dict:
    path = args.users or access.users_file()
    if path is None:
        raise CliError("briefings go to the people in the users file: set CX_USERS_FILE")
    smtp = delivery.smtp_settings()
    if smtp is None:
        raise CliError("--send needs an SMTP server: set CX_SMTP_URL")
    return {
        "users": access.load_users(path),
        "smtp": smtp,
        "retry": delivery.retry_settings(),
        "limit": briefing_mail.max_bytes(),
        "public": os.environ.get("CX_PUBLIC_URL", "").strip() or alerts.DEFAULT_PUBLIC_URL,
    }


def _mail_briefings(m: dict, written: list, company_name: str) -> int:
    failed = 0
    for to, mine in briefing_mail.recipients(m["users"], written):
        msg = briefing_mail.message(m["smtp"], to, mine, m["limit"], m["public"], company_name)
        attempts, error = delivery.with_retries(
            lambda msg=msg: delivery.send_mail(m["smtp"], msg), m["retry"]
        )
        if error:
            failed += 1
            print(
                f"error: could not mail the briefing to {to} after {attempts} attempt(s): {error}",
                file=sys.stderr,
            )
        else:
            how = "attached" if any(True for _ in msg.iter_attachments()) else "as a link"
            print(f"mailed {', '.join(b.title for b in mine)} to {to} ({how})")
    return EXIT_DATA if failed else 0


def _load_findings_inputs(url: str):
    """The dataset and the detectors' other inputs (contacts, cases, KPIs)."""
    store.ensure_sample_database(url, progress=_progress)
    engine = store.make_engine(url)
    try:
        ds = dataset.load(engine)
        inputs = finder.Inputs.read(engine, ds)
    finally:
        engine.dispose()
    return ds, inputs


def _alerts(args) -> int:
    path = args.users or access.users_file()
    if path is None:
        raise CliError("alerts go to the people in the users file: set CX_USERS_FILE or --users")
    users = access.load_users(path)
    smtp = delivery.smtp_settings()
    hook = delivery.webhook_url()
    retry = delivery.retry_settings()
    if args.send and smtp is None and hook is None:
        raise CliError("nothing to send with: set CX_SMTP_URL and/or CX_ALERT_WEBHOOK")
    public = os.environ.get("CX_PUBLIC_URL", "").strip() or alerts.DEFAULT_PUBLIC_URL
    url = args.url or store.database_url()
    ds, inputs = _load_findings_inputs(url)
    try:
        start, end = alerts.period(ds, args.since)
    except ValueError as exc:
        raise CliError(str(exc)) from exc
    found = alerts.week_findings(ds, start, end, inputs)
    routed = alerts.route(
        found,
        start,
        end,
        ds.journey,
        users,
        public,
        delivery.webhook_name(hook) if hook else None,
    )
    channels = {c for c, on in (("email", smtp), ("webhook", hook)) if on or not args.send}
    engine = store.make_engine(url)
    try:
        if args.send:
            alert_log.record_owed(engine, [d for d in routed if d.channel in channels])
            pending = alert_log.owed(engine)
        else:
            recorded = alert_log.known(engine)
            pending = alert_log.owed(engine) + [d for d in routed if d.key not in recorded]
        skipped = [d for d in pending if d.channel not in channels]
        pending = [d for d in pending if d.channel in channels]
        msgs = alerts.messages(pending, ds.settings.company_name or "CX dashboard")
        results = {}
        if args.send:
            for m in msgs:
                results[(m.recipient, m.channel)] = _deliver(m, smtp, hook, retry, engine)
    finally:
        engine.dispose()
    if skipped:
        print(
            f"note: {len(skipped)} owed alert(s) wait for a channel that is not set up "
            f"({', '.join(sorted({d.channel for d in skipped}))})",
            file=sys.stderr,
        )
    failed = [k for k, (_n, error) in results.items() if error]
    if args.json:
        data = {
            "period": {"start": start.isoformat(), "end": end.isoformat()},
            "findings": len(found),
            "sent": args.send,
            **alerts.as_json(pending, msgs),
        }
        for item in data["messages"]:
            if args.send:
                attempts, error = results[(item["recipient"], item["channel"])]
                item |= {"status": "owed" if error else "sent", "attempts": attempts}
                item |= {"error": error} if error else {}
        print(json.dumps(data, indent=2))
    else:
        verb = "sent" if args.send else "would send"
        print(f"Findings {start} to {end}: {len(found)} kept by the findings engine.")
        for m in msgs:
            error = results.get((m.recipient, m.channel), (0, None))[1]
            state = "NOT sent (owed)" if error else verb
            print(f"  {state} to {m.recipient} by {m.channel}: {m.subject}")
        if not msgs:
            print("  Nothing new to send.")
    for recipient, channel in failed:
        attempts, error = results[(recipient, channel)]
        print(
            f"error: could not deliver to {recipient} by {channel} after {attempts} attempt(s): "
            f"{error}; kept as owed, the next run tries again",
            file=sys.stderr,
        )
    return EXIT_DATA if failed else 0


def _deliver(m, smtp, hook, retry, engine) -> tuple[int, str | None]:
    """Send one message with retries and record the outcome on every delivery it carries."""
    if m.channel == "email":
        msg = delivery.mail(smtp, m.recipient, m.subject, m.text, m.html)
        attempts, error = delivery.with_retries(lambda: delivery.send_mail(smtp, msg), retry)
    else:
        attempts, error = delivery.with_retries(lambda: delivery.post_webhook(hook, m.text), retry)
    alert_log.mark(engine, m.keys, attempts, error)
    return attempts, error


def briefing_views(inputs: dict, base: Filters, per: str | None) -> list[tuple[dict, Filters]]:
    """The briefings to make: the view itself, or with ``per="department"`` one per
    department, each holding only its department's data, as its manager sees it. A
    department with no responses on the stages it affects (or no stage at all) has no
    briefing; it is named on stderr."""
    if per != "department":
        return [(inputs, base)]
    ds = inputs["ds"]
    wanted = base.departments or tuple(ds.journey.departments["department_id"].to_list())
    views = []
    for d in wanted:
        data = scope.inputs(inputs, (d,))
        if data["ds"].n_responses == 0:
            print(f"skipped {d}: no responses on the stages it affects", file=sys.stderr)
            continue
        views.append((data, base.with_departments((d,))))
    return views


def _view(args, with_inputs: bool = False):
    """The dataset and the checked filters of a summary or findings command (and, for
    findings, the contacts, cases and KPIs some detectors read)."""
    url = args.url or store.database_url()
    if with_inputs:
        ds, inputs = _load_findings_inputs(url)
    else:
        store.ensure_sample_database(url, progress=_progress)
        engine = store.make_engine(url)
        try:
            ds = dataset.load(engine)
        finally:
            engine.dispose()
    start, end = args.start, args.end
    # one date given: the other is the data's, as the dashboard's would be (a date outside
    # the data is left alone, for _check_not_empty to say so)
    if start and not end and start <= ds.last_day:
        end = ds.last_day
    if end and not start and end >= ds.first_day:
        start = ds.first_day
    filters = _filters(args, start, end)
    _check_known(ds, filters)
    _check_not_empty(ds, filters, args.min_n)
    return (ds, filters, inputs) if with_inputs else (ds, filters)


def _findings(args) -> int:
    ds, filters, inputs = _view(args, with_inputs=True)
    report = finder.find(ds, filters, inputs, min_n=args.min_n)
    if args.json:
        print(json.dumps(report.as_dict(), indent=2))
        return 0
    print(f"Period {report.start} to {report.end}")
    tested = ", ".join(f"{k} {v}" for k, v in report.tested.items())
    print(f"Tests made: {tested}; false discovery rate 5% per family.")
    for item in report.findings:
        print(f"  [{item.kind}] {item.text} (q = {item.q:.3g})")
    if not report.findings:
        print("  Nothing in this view passes its test.")
    return 0


def _summary(args) -> int:
    ds, filters = _view(args)
    ov = overview.compute(ds, filters, min_n=args.min_n)
    data = overview.summary_dict(ov)
    if args.json:
        print(json.dumps(data, indent=2))
    else:
        print(_text(data, ov, ds.journey.labels))
    return 0


def _filters(args, start, end) -> Filters:
    return Filters(
        start=start,
        end=end,
        stages=_values(args.stage),
        departments=_values(args.department),
        channels=_values(args.channel),
        segments=_values(args.segment),
        regions=_values(args.region),
    )


def _check_not_empty(ds: dataset.Dataset, f: Filters, min_n: int) -> None:
    """A view without responses is refused, as the dashboard refuses to draw it: no zero
    for a cost nothing measured, no finding of another period."""
    if f.start is not None and f.start > ds.last_day:
        raise CliError(f"--start {f.start} is after the data's last day ({ds.last_day})")
    if f.end is not None and f.end < ds.first_day:
        raise CliError(f"--end {f.end} is before the data's first day ({ds.first_day})")
    stage_ids = ds.stage_ids(f)
    if stage_ids is not None and not stage_ids:
        names = ", ".join(ds.journey.department_name(d) for d in f.departments)
        why = f": {names} does not affect the chosen stage(s)" if names else ""
        raise CliError(f"no stage matches these filters{why}; leave out --stage or --department")
    if overview.compute(ds, f, min_n=min_n).empty:  # kept by the dataset for the command
        raise CliError(
            f"no responses between {f.start or ds.first_day} and {f.end or ds.last_day} for "
            f"these filters; the data covers {ds.first_day} to {ds.last_day}"
        )


def _check_known(ds: dataset.Dataset, f: Filters) -> None:
    known = {
        "stage": (f.stages, ds.journey.stage_order),
        "department": (f.departments, ds.journey.departments["department_id"].to_list()),
        "channel": (f.channels, ds.options("channel")),
        "segment": (f.segments, ds.options("segment")),
        "region": (f.regions, ds.options("region")),
    }
    for name, (chosen, allowed) in known.items():
        unknown = [v for v in chosen if v not in allowed]
        if unknown:
            raise CliError(
                f"unknown {name} {', '.join(map(repr, unknown))}; known: {', '.join(allowed)}"
            )


def _text(data: dict, ov: overview.Overview, labels: dict[str, str]) -> str:
    def fmt(key: str, score: dict) -> str:
        if key in data["not_measured"]:  # never asked, in any period: not "no data"
            return "not measured"
        if score["n"] == 0:
            return "no data"
        if score["value"] is None:
            return f"too few responses (n = {score['n']:,})"
        text = METRICS[key].format(score["value"])
        if score.get("moe") is not None:
            text += f" ± {score['moe']:.1f}"
        return f"{text} (n = {score['n']:,})"

    o = data["overall"]
    churn_unknown = ov.tiles["churn"].unknown
    risk_unknown = ov.tiles["revenue_at_risk"].unknown
    churn = "not recorded" if churn_unknown else f"{fmt('churn', o['churn'])} left in the period"
    risk = (
        f"unknown ({risk_unknown})"
        if risk_unknown
        else METRICS["revenue_at_risk"].format(o["revenue_at_risk"], ov.symbol)
    )
    lines = [
        f"Period {data['period']['start']} to {data['period']['end']} · "
        f"{ov.filters.describe(labels, with_period=False)}",
        f"  NPS      {fmt('nps', o['nps'])}",
        f"  CSAT     {fmt('csat', o['csat'])}",
        f"  CES      {fmt('ces', o['ces'])}",
        f"  Responses {o['responses']:,}",
        f"  Churn    {churn}",
        f"  Revenue at risk {risk}",
        "",
        "Journey:",
    ]
    for s, row in zip(data["stages"], ov.stages, strict=True):
        lines.append(
            f"  {s['position']}. {s['name']:<16} NPS {fmt('nps', s['nps'])}; "
            f"CSAT {fmt('csat', s['csat'])}; CES {fmt('ces', s['ces'])} "
            f"[{row.status_words}]"  # the metric a status is about, as the briefing says
        )
    lines += ["", "What changed:", *[f"  - {c}" for c in data["changes"]]]
    return "\n".join(lines)
