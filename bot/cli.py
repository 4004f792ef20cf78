"""`relaydesk` command line: run the assistant, train, seed the store, test, evaluate."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from dotenv import load_dotenv

from bot.settings import Settings


def _say(text: str) -> None:
    print(f"relaydesk | {text}", flush=True)


def prepare_store(settings: Settings, *, seed_demo: bool | None = None) -> None:
    """Migrate the store and load the demo shop the first time (idempotent). By default the
    demo shop is loaded unless a real shop is connected (Shopify configured): its data comes
    from `relaydesk connect shopify`, and demo orders must not mix with it."""
    if seed_demo is None:
        seed_demo = not settings.shopify.configured
    from bot.store.database import Database
    from bot.store.repository import StoreRepository
    from bot.store.seed import load_export

    settings.tracker_db_path.parent.mkdir(parents=True, exist_ok=True)
    database = Database(settings.database_url)
    try:
        database.migrate()
        if seed_demo and StoreRepository(database).is_empty():
            report = load_export(settings.demo_store_path, database, rebase_dates=True)
            _say(f"loaded the demo store from {settings.demo_store_path.name}: {report}")
    finally:
        database.dispose()


def _stop_on_sigterm(signum: int, _frame: object) -> None:
    raise KeyboardInterrupt  # the same clean stop as Ctrl-C


def _configuration_problem(settings: Settings) -> str | None:
    from channels.webchat.embedding import parse_embed_origins

    try:
        parse_embed_origins(settings.webchat.embed_origins)
    except ValueError as error:
        return str(error)
    return None


def cmd_run(args: argparse.Namespace) -> int:
    import signal

    from bot.processes.stack import stack_specs, train, with_token
    from bot.processes.supervisor import ProcessFailed, Supervisor

    signal.signal(signal.SIGTERM, _stop_on_sigterm)  # until wait() installs its own
    configured = Settings.from_env()
    settings = with_token(configured)
    problem = _configuration_problem(settings)
    if problem:
        # Rasa would refuse it too, but only after a minute of loading, deep in its log.
        _say(f"cannot start: {problem}")
        return 2
    _say(f"store: {settings.database_url}")
    prepare_store(settings)
    if not args.no_train:
        _say("training the model if data or config changed (Rasa fingerprints them)")
        train(settings, echo=print)
    root = settings.repo_root
    status_file = Path(args.status_file) if args.status_file else root / "var" / "status.json"
    supervisor = Supervisor(
        stack_specs(settings), log_dir=str(root / "var" / "logs"), status_file=status_file
    )
    try:
        supervisor.start()
        supervisor.wait_until_ready(progress=_say)
        # A token made up for this run is printed (on the console only: the supervisor's
        # log and the status file under var/ never hold it): nobody could use Rasa's API
        # otherwise. One the operator chose in RASA_TOKEN they know, and it is not repeated.
        token = (
            f"{settings.rasa_token}  (made up for this run; set RASA_TOKEN to choose one)"
            if not configured.rasa_token
            else "from RASA_TOKEN"
        )
        banner = (
            f"\n  relaydesk is ready.\n\n  Chat with it:   {settings.webchat_url}\n"
            f"  Rasa API token: {token}\n"
            f"  Status:         relaydesk status{_status_option(status_file, root)}\n"
            "  Stop with Ctrl-C.\n"
        )
        print(banner, flush=True)
        code = supervisor.wait()
        if code:
            _say("a process failed for good; see var/logs/ (supervisor.log and its own log)")
        return code
    except ProcessFailed as failure:
        _say(f"could not start: {failure}; see var/logs/")
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a second SIGTERM must not cut stop()
        _say("stopping all processes")
        supervisor.stop()


def _status_option(status_file: Path, root: Path) -> str:
    default = root / "var" / "status.json"
    return "" if status_file.resolve() == default.resolve() else f" --file {status_file}"


def cmd_status(args: argparse.Namespace) -> int:
    from bot.processes.status import report

    settings = Settings.from_env()
    path = Path(args.file) if args.file else settings.repo_root / "var" / "status.json"
    if args.json:
        print(path.read_text() if path.exists() else "{}", end="")
        return 0
    code, text = report(path)
    print(text)
    return code


def cmd_exec(args: argparse.Namespace) -> int:
    """Become one process of the stack (what the systemd units and supervisord run)."""
    from bot.processes.stack import stack_specs

    if args.env_file:
        load_dotenv(args.env_file, override=False)
    settings = Settings.from_env()
    if not settings.rasa_token:
        print(
            "relaydesk exec: RASA_TOKEN is not set. Rasa and the bridge must share one token: "
            "put RASA_TOKEN=<openssl rand -hex 32> in the environment file.",
            file=sys.stderr,
        )
        return 2
    specs = {spec.name: spec for spec in stack_specs(settings)}
    spec = specs.get(args.name)
    if spec is None:
        print(f"relaydesk exec: no process {args.name!r} ({', '.join(specs)})", file=sys.stderr)
        return 2
    if spec.cwd:
        os.chdir(spec.cwd)
    env = {**os.environ, **spec.env, "PYTHONUNBUFFERED": "1"}
    os.execve(spec.argv[0], list(spec.argv), env)
    return 0  # not reached


def cmd_units(args: argparse.Namespace) -> int:
    from bot.processes.units import Install, supervisord_config, systemd_units

    install = Install(root=Path(args.root), user=args.user, env_file=Path(args.env_file))
    settings = Settings.from_env()
    if args.supervisord:
        files = {"relaydesk.conf": supervisord_config(install, settings)}
    else:
        files = systemd_units(install, settings)
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        for name, text in files.items():
            (out / name).write_text(text)
            print(out / name)
        return 0
    for name, text in files.items():
        print(f"# ---- {name}\n{text}")
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from bot.processes.stack import train

    path = train(Settings.from_env(), force=args.force)
    _say(f"model: {path}")
    return 0


def cmd_seed(args: argparse.Namespace) -> int:
    from bot.store.database import Database
    from bot.store.seed import StoreExportError, load_export

    settings = Settings.from_env()
    database = Database(settings.database_url)
    try:
        database.migrate()
        report = load_export(Path(args.path), database, rebase_dates=args.rebase_dates)
    except StoreExportError as error:
        print(f"relaydesk seed: {args.path} was not loaded:\n{error}", file=sys.stderr)
        return 2
    finally:
        database.dispose()
    _say(f"loaded {args.path}: {report}")
    return 0


def cmd_db_upgrade(_args: argparse.Namespace) -> int:
    from bot.store.database import Database

    database = Database(Settings.from_env().database_url)
    database.migrate()
    database.dispose()
    _say("store schema is up to date")
    return 0


def cmd_bridge(_args: argparse.Namespace) -> int:
    from handoff.bridge.app import serve

    serve(Settings.from_env())
    return 0


def cmd_test(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    argv = [sys.executable, "-m", "pytest", *args.pytest_args]
    return subprocess.call(argv, cwd=settings.repo_root)


def cmd_eval_nlu(args: argparse.Namespace) -> int:
    from bot.nlu_eval import format_report, run_nlu_eval
    from bot.processes.stack import model_path

    settings = Settings.from_env()
    model = Path(args.model) if args.model else model_path(settings)
    if not model.exists():
        print(f"no model at {model}: run `relaydesk train` first", file=sys.stderr)
        return 2
    report = run_nlu_eval(model, Path(args.path), Path(args.out))
    print(format_report(report))
    return 0


def cmd_kb(args: argparse.Namespace) -> int:
    from datetime import date

    from bot.knowledge.commands import check_command, eval_command, index_command

    settings = Settings.from_env()
    directory, policy = settings.knowledge_base_dir, settings.policy_file
    if args.kb_command == "check":
        return check_command(directory, policy, date.today(), sys.stdout)
    if args.kb_command == "index":
        output = Path(args.out) if args.out else settings.repo_root / "var" / "knowledge_index.json"
        return index_command(directory, policy, output, sys.stdout)
    questions = (
        Path(args.questions)
        if args.questions
        else (settings.repo_root / "tests" / "knowledge" / "retrieval_questions.yml")
    )
    return eval_command(questions, directory, policy, sys.stdout)


def cmd_shopify_check(_args: argparse.Namespace) -> int:
    from bot.platforms.shopify.connection_check import check_connection

    report = check_connection(Settings.from_env().shopify)
    for line in report.lines:
        print(f"relaydesk | shopify: {line}")
    return 0 if report.ok else 1


def cmd_connect_shopify(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from bot.platforms.shopify.connect import connect_shop
    from bot.store.database import Database

    settings = Settings.from_env()
    if args.days is not None:
        settings = settings.replace(shopify=settings.shopify.replace(backfill_days=args.days))
    database = Database(settings.database_url)
    bars: dict[str, tqdm] = {}

    def progress(what: str, done: int, total: int | None) -> None:
        bar = bars.get(what)
        if bar is None:
            bar = bars[what] = tqdm(desc=f"relaydesk | {what}", total=total, unit=" " + what)
        bar.update(done - bar.n)

    try:
        database.migrate()
        report = connect_shop(settings, database, progress=progress, subscribe=not args.no_webhooks)
    finally:
        for bar in bars.values():
            bar.close()
        database.dispose()
    for line in report.lines:
        print(f"relaydesk | shopify: {line}")
    return 0 if report.ok else 1


def cmd_inbox(args: argparse.Namespace) -> int:
    from datetime import timedelta

    from bot.store.database import Database
    from bot.store.platform_inbox import PlatformInbox

    settings = Settings.from_env()
    database = Database(settings.database_url)
    try:
        inbox = PlatformInbox(database)
        platforms = [args.platform] if args.platform else inbox.platforms()
        for platform in platforms:
            if args.inbox_command == "retry":
                _say(f"inbox {platform}: {inbox.retry_failed(platform)} failed webhooks due again")
            elif args.inbox_command == "prune":
                days = settings.platform_inbox_retention_days if args.days is None else args.days
                pruned = inbox.prune(platform, older_than=timedelta(days=days))
                _say(f"inbox {platform}: {pruned} processed webhooks over {days} days deleted")
            else:
                counts = ", ".join(f"{s.value} {n}" for s, n in inbox.counts(platform).items())
                _say(f"inbox {platform}: {counts}")
        if not platforms:
            _say("inbox: empty")
    finally:
        database.dispose()
    return 0


def cmd_rasa(args: argparse.Namespace) -> int:
    """Run any rasa command with relaydesk's environment (endpoints.yml needs it)."""
    from bot.processes.stack import rasa_environment, venv_bin, with_token

    settings = with_token(Settings.from_env())
    extra = list(args.rasa_args)
    if (
        extra[:1]
        and extra[0] in {"train", "shell", "interactive", "test"}
        and not any(a.startswith("--domain") for a in extra)
    ):
        extra += ["--domain", str(settings.repo_root / "domain")]
    if extra[:2] == ["data", "validate"] and "--domain" not in extra:
        extra += ["--domain", str(settings.repo_root / "domain")]
    env = {**os.environ, **rasa_environment(settings)}
    return subprocess.call([venv_bin("rasa"), *extra], cwd=settings.repo_root, env=env)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="relaydesk", description="Omnichannel support assistant for online shops."
    )
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="start Rasa, the action server and the bridge")
    run.add_argument("--no-train", action="store_true", help="use the existing model as is")
    run.add_argument("--status-file", help="where the supervisor writes its state as JSON "
                     "(default: var/status.json)")  # fmt: skip
    run.set_defaults(func=cmd_run)

    status = sub.add_parser(
        "status", help="the processes of a running `relaydesk run`: state, pid, restarts"
    )
    status.add_argument("--file", help="status file (default: var/status.json)")
    status.add_argument("--json", action="store_true", help="print the file as it is")
    status.set_defaults(func=cmd_status)

    execute = sub.add_parser(
        "exec", help="become one process of the stack (for systemd/supervisord units)"
    )
    execute.add_argument("name", help="actions, rasa or bridge")
    execute.add_argument("--env-file", help="read variables from this file first (supervisord)")
    execute.set_defaults(func=cmd_exec)

    units = sub.add_parser("units", help="print systemd units or a supervisord config")
    kind = units.add_mutually_exclusive_group()
    kind.add_argument("--systemd", action="store_true", help="three services + a target (default)")
    kind.add_argument("--supervisord", action="store_true", help="a supervisord include file")
    units.add_argument("--root", default="/opt/relaydesk", help="the checkout on the server")
    units.add_argument("--user", default="relaydesk", help="the user the services run as")
    units.add_argument("--env-file", default="/etc/relaydesk.env", help="the environment file")
    units.add_argument("--out", help="write the files into this directory instead")
    units.set_defaults(func=cmd_units)

    train = sub.add_parser("train", help="train the model if data/config changed")
    train.add_argument("--force", action="store_true", help="train even if nothing changed")
    train.set_defaults(func=cmd_train)

    seed = sub.add_parser("seed", help="load a JSON store export (safe to re-run)")
    seed.add_argument("path")
    seed.add_argument(
        "--rebase-dates", action="store_true", help="shift dates so reference_date is today"
    )
    seed.set_defaults(func=cmd_seed)

    db = sub.add_parser("db", help="store schema")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    db_sub.add_parser("upgrade", help="apply migrations").set_defaults(func=cmd_db_upgrade)

    sub.add_parser("bridge", help="run the handoff bridge process").set_defaults(func=cmd_bridge)

    from handoff.agent_cli import add_agent_commands

    add_agent_commands(sub)  # relaydesk agent list|show|claim|reply|note|resolve|handback

    test = sub.add_parser("test", help="run the test suite (pytest)")
    test.add_argument("pytest_args", nargs=argparse.REMAINDER)
    test.set_defaults(func=cmd_test)

    evaluate = sub.add_parser("eval", help="measure the assistant")
    eval_sub = evaluate.add_subparsers(dest="eval_command", required=True)
    nlu = eval_sub.add_parser("nlu", help="score an NLU test file (Rasa YAML)")
    nlu.add_argument("path")
    nlu.add_argument("--model", help="model archive (default: models/relaydesk.tar.gz)")
    nlu.add_argument("--out", default="results/nlu", help="where reports and plots go")
    nlu.set_defaults(func=cmd_eval_nlu)

    kb = sub.add_parser("kb", help="knowledge-base articles (see docs/knowledge_base.md)")
    kb_sub = kb.add_subparsers(dest="kb_command", required=True)
    kb_sub.add_parser("check", help="check articles: fields, links, reviews, policy numbers")
    kb_index = kb_sub.add_parser("index", help="build the search index and report counts")
    kb_index.add_argument("--out", help="index file (default: var/knowledge_index.json)")
    kb_eval = kb_sub.add_parser("eval", help="measure retrieval on a question set")
    kb_eval.add_argument("questions", nargs="?", help="YAML question file")
    kb.set_defaults(func=cmd_kb)

    shopify = sub.add_parser("shopify", help="the Shopify connection (see docs/shopify.md)")
    shopify_sub = shopify.add_subparsers(dest="shopify_command", required=True)
    shopify_sub.add_parser(
        "check", help="check the SHOPIFY_* settings and that the Admin API token works"
    ).set_defaults(func=cmd_shopify_check)

    inbox = sub.add_parser(
        "inbox", help="the store platforms' webhook inbox: status, retry failed, prune"
    )
    inbox_sub = inbox.add_subparsers(dest="inbox_command", required=True)
    for name, text in (
        ("status", "webhooks per platform and status"),
        ("retry", "put failed webhooks back in the queue (after fixing the cause)"),
        ("prune", "delete processed webhooks older than the retention"),
    ):
        command = inbox_sub.add_parser(name, help=text)
        command.add_argument("--platform", help="shopify or push (default: all)")
        if name == "prune":
            command.add_argument("--days", type=int, help="default PLATFORM_INBOX_RETENTION_DAYS")
        command.set_defaults(func=cmd_inbox)

    connect = sub.add_parser("connect", help="connect a shop (see docs/shopify.md)")
    connect_sub = connect.add_subparsers(dest="connect_command", required=True)
    connect_shopify = connect_sub.add_parser(
        "shopify",
        help="check the token, register webhooks, backfill products and recent orders "
        "(safe to re-run)",
    )
    connect_shopify.add_argument(
        "--days", type=int, help="days of orders to backfill (default SHOPIFY_BACKFILL_DAYS)"
    )
    connect_shopify.add_argument(
        "--no-webhooks", action="store_true", help="backfill only; register no webhooks"
    )
    connect_shopify.set_defaults(func=cmd_connect_shopify)

    rasa = sub.add_parser("rasa", help="any rasa command, with relaydesk's environment")
    rasa.add_argument("rasa_args", nargs=argparse.REMAINDER)
    rasa.set_defaults(func=cmd_rasa)
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    # A .env file at the repo root fills in variables the shell did not set (never overrides).
    load_dotenv(Settings().repo_root / ".env", override=False)
    args = build_parser().parse_args(argv)
    raise SystemExit(args.func(args))


if __name__ == "__main__":
    main()
