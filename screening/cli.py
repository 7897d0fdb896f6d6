"""Command line: ``python -m screening check|scan|examples|rules|serve|users|purge``."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Recruitment risk screening for job ads (Viet Nam).")

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples" / "ads.jsonl"

RulesOpt = Annotated[Optional[Path], typer.Option("--rules", help="rules folder (default: the project's rules/)")]
NoModel = Annotated[bool, typer.Option("--no-model", help="rules only, without the classifier")]


def _screener(rules: Path | None, no_model: bool):
    from .errors import ScreeningError
    from .screener import Screener

    try:
        return Screener.load(rules, model=False if no_model else None)
    except ScreeningError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None


def _print_verdict(s, a, lang: str = "vi") -> None:
    from rich.console import Console
    from rich.panel import Panel

    from .render import terminal_text

    con = Console()
    d = s.to_dict(a)
    colour = {"high": "red", "medium": "yellow", "low": "green"}[a.risk_band]
    con.print(Panel(terminal_text(a), title="Tin tuyển dụng / the ad", expand=True))
    con.print(f"[bold {colour}]{d['explanation']['summary'][lang]}[/]")
    con.print(f"risk_score={d['risk_score']:.2f} band={a.risk_band} flagged={str(a.flagged).lower()}")
    for ind in d["indicators"]:
        ev = "; ".join(f"\u201c{e['text']}\u201d [{e['start']}:{e['end']}]" for e in ind["evidence"])
        con.print(f"\n[bold]• {ind['name'][lang]}[/] ({ind['id']}, {ind['severity']}, ILO {', '.join(ind['ilo'])})")
        con.print(f"  {ind['explanation'][lang]}")
        con.print(f"  evidence: {ev}", markup=False)
        con.print(f"  law: {'; '.join(x['ref'] for x in ind['legal'])}", markup=False)
        for w in ind["why"]:
            con.print(f"  why: {w}", markup=False)
    for ind in d["not_counted"]:
        con.print(f"\n[dim]◦ {ind['id']}: {'; '.join(ind['why'])}[/]")
    if d.get("classifier"):
        feats = ", ".join(f["feature"] for f in d["classifier"]["features"][:8])
        con.print(f"\nclassifier p={d['classifier']['probability']:.2f}" + (f" ({feats})" if feats else ""), markup=False)
    con.print("\n[dim]" + " → ".join(f"{st['source']} +{st['weight']:.2f} = {st['score_after']:.2f}" for st in d["explanation"]["steps"]) + "[/]")


@app.command()
def check(
    text: Annotated[Optional[str], typer.Argument(help="the ad; '-' reads standard input")] = None,
    file: Annotated[Optional[Path], typer.Option("--file", "-f", help="read the ad from a file")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the JSON result")] = False,
    lang: Annotated[str, typer.Option(help="vi or en")] = "vi",
    html: Annotated[Optional[Path], typer.Option("--html", help="also write the highlighted ad as HTML")] = None,
    rules: RulesOpt = None,
    no_model: NoModel = False,
) -> None:
    """Screen one ad and print a verdict with the evidence highlighted."""
    if file is not None:
        try:
            body = file.read_text(encoding="utf-8", errors="replace")
        except OSError as exc:
            typer.echo(f"error: cannot read {file}: {exc.strerror}", err=True)
            raise typer.Exit(2) from None
    elif text == "-" or (text is None and not sys.stdin.isatty()):
        body = sys.stdin.read()
    elif text is not None:
        body = text
    else:
        typer.echo("error: give the ad as an argument, with --file, or on standard input ('-')", err=True)
        raise typer.Exit(2)
    s = _screener(rules, no_model)
    a = s.screen(body)
    if html is not None:
        from .render import html as render_html

        html.write_text(render_html(a, s.catalogue, lang), encoding="utf-8")
    if as_json:
        typer.echo(json.dumps(s.to_dict(a), ensure_ascii=False, indent=2))
    else:
        _print_verdict(s, a, lang)


@app.command()
def scan(
    infile: Annotated[str, typer.Argument(metavar="IN", help="JSON lines or CSV (gzip too) with `text` (or a `title`) and optional id, title, company, url, source, salary, location; '-' for stdin")],
    out: Annotated[str, typer.Option("--out", "-o", help="output JSON lines ('-' for stdout); a file gets a checkpoint OUT.progress")] = "-",
    workers: Annotated[int, typer.Option(help="processes (default: all cores)")] = 0,
    only_flagged: Annotated[bool, typer.Option("--only-flagged", help="write flagged postings only")] = False,
    resume: Annotated[bool, typer.Option("--resume", help="continue a stopped scan into the same --out, where it stopped")] = False,
    dedupe: Annotated[bool, typer.Option("--dedupe/--no-dedupe", help="group reposts (`group`, `duplicate_of`) and screen verbatim copies once")] = True,
    window: Annotated[int, typer.Option("--dedupe-window", help="distinct postings remembered for grouping (memory about 1.3 kB each)")] = 50_000,
    to: Annotated[Optional[str], typer.Option("--to", metavar="URL", help="also push the written postings to the service's POST URL/v1/postings")] = None,
    key: Annotated[Optional[str], typer.Option("--key", help="API key of a scanner user for --to (default: env SCREENING_API_KEY)")] = None,
    source: Annotated[Optional[str], typer.Option("--source", help="source for --to when a record has none (default: the input file's name)")] = None,
    batch_size: Annotated[int, typer.Option("--batch-size", help="postings per push")] = 500,
    progress: Annotated[Optional[bool], typer.Option("--progress/--no-progress", help="progress bar (default: when stderr is a terminal)")] = None,
    checkpoint_every: Annotated[int, typer.Option("--checkpoint-every", help="records between checkpoints (also every 5 s)")] = 2000,
    rules: RulesOpt = None,
    no_model: NoModel = False,
) -> None:
    """Screen a file of postings, one JSON result per input line, in input order."""
    import signal

    from .scan import ScanStopped, run_scan

    if infile != "-" and not Path(infile).exists():
        typer.echo(f"error: input file not found: {infile}", err=True)
        raise typer.Exit(2)
    if resume and out == "-":
        typer.echo("error: --resume needs --out FILE", err=True)
        raise typer.Exit(2)
    api_key = key or os.environ.get("SCREENING_API_KEY")
    if to and not api_key:
        typer.echo("error: --to needs a key (--key or SCREENING_API_KEY)", err=True)
        raise typer.Exit(2)
    n = workers if workers > 0 else (os.cpu_count() or 1)
    s = _screener(rules, no_model)  # fail early and clearly on a broken catalogue or model
    default_source = source or (Path(infile).name.split(".")[0] if infile != "-" else "scan")

    def _stop(signum, frame):  # SIGTERM stops like Ctrl-C: a last checkpoint, then exit
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, _stop)
    try:
        summary = run_scan(
            infile, out, workers=n, only_flagged=only_flagged, resume=resume, dedupe=dedupe, window=window,
            rules_dir=str(rules) if rules else None, model=False if no_model else None, screener=s,
            push_to=to, push_key=api_key, push_source=default_source, push_batch=batch_size, progress=progress,
            checkpoint_items=max(1, checkpoint_every),
        )
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    except ScanStopped as exc:
        typer.echo(f"scan stopped: {exc}", err=True)
        raise typer.Exit(130 if "interrupted" in str(exc) else 1) from None
    finally:
        signal.signal(signal.SIGTERM, previous)
    for line in summary.lines_of_text():
        typer.echo(line, err=True)


@app.command()
def examples(
    rules: RulesOpt = None,
    no_model: NoModel = False,
) -> None:
    """Screen the project's example ads (examples/ads.jsonl) and print a line each."""
    s = _screener(rules, no_model)
    from .scan import read_records

    for line, rec, err in read_records(EXAMPLES):
        if rec is None:
            continue
        a = s.screen(rec["text"])
        inds = ", ".join(f"{h.indicator}({h.severity})" for h in a.counted_hits) or "-"
        typer.echo(f"{rec.get('id', line):>6}  {a.risk_band:<6} {a.risk_score:.2f}  {inds}")
        typer.echo(f"        {rec['text'][:110].replace(chr(10), ' ')}")


@app.command("rules")
def rules_cmd(rules: RulesOpt = None) -> None:
    """Check the catalogue loads and list its indicators."""
    from .catalogue import Catalogue
    from .errors import ScreeningError

    try:
        c = Catalogue.load(rules)
    except ScreeningError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"catalogue {c.version}: {len(c.indicators)} indicators, {len(c.places)} places")
    for ind in c.indicators.values():
        typer.echo(f"  {ind.id:<28} {ind.severity:<8} {len(ind.patterns):>3} patterns  {ind.name['vi']}")


# --- the inspector service (service/): imported lazily, the library itself never needs it ------

DbOpt = Annotated[Optional[str], typer.Option("--database-url", help="SQLAlchemy URL (default: SCREENING_DATABASE_URL, else sqlite:///var/screening.db)")]


@app.command()
def serve(
    host: Annotated[Optional[str], typer.Option(help="address to listen on (default 127.0.0.1)")] = None,
    port: Annotated[Optional[int], typer.Option(help="port (default 8000)")] = None,
    database_url: DbOpt = None,
    load_examples: Annotated[bool, typer.Option("--load-examples", help="first ingest examples/ads.jsonl (idempotent)")] = False,
    workers: Annotated[Optional[int], typer.Option(help="server processes (default 1)")] = None,
) -> None:
    """Start the inspector service (API and web pages) with uvicorn."""
    from service.cli import serve as run

    from .errors import ScreeningError

    try:
        run(host, port, database_url, load_examples, workers=workers, echo=typer.echo)
    except ScreeningError as exc:
        typer.echo(f"error: {exc} (SCREENING_MODEL=none serves with the rules only)", err=True)
        raise typer.Exit(2) from None


users_app = typer.Typer(no_args_is_help=True, help="Users of the service and their API keys.")
app.add_typer(users_app, name="users")


@users_app.command("add")
def users_add(
    name: Annotated[str, typer.Argument(help="the user's name")],
    role: Annotated[str, typer.Option("--role", help="inspector | job_centre | scanner | admin")],
    database_url: DbOpt = None,
) -> None:
    """Create a user; its API key is printed once, as the last line."""
    from service.cli import add_user
    from service.db.storage import DuplicateUser

    try:
        user, key = add_user(name, role, database_url)
    except (ValueError, DuplicateUser) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"created user {user.name!r} (id {user.id}, role {user.role}); the key is shown only this once:")
    typer.echo(key)


@users_app.command("list")
def users_list(database_url: DbOpt = None) -> None:
    """List users (never their keys)."""
    from service.cli import list_users

    for u in list_users(database_url):
        typer.echo(f"{u.id:>4}  {u.name:<24} {u.role:<11} {'active' if u.active else 'disabled':<9} {u.key_prefix}…")


@users_app.command("rotate")
def users_rotate(name: Annotated[str, typer.Argument()], database_url: DbOpt = None) -> None:
    """Give a user a new key (the old one stops working); the key is the last line."""
    from service.cli import rotate_user
    from service.db.storage import UnknownUser

    try:
        user, key = rotate_user(name, database_url)
    except UnknownUser as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"new key for {user.name!r} (role {user.role}); shown only this once:")
    typer.echo(key)


@users_app.command("disable")
def users_disable(name: Annotated[str, typer.Argument()], database_url: DbOpt = None) -> None:
    """Disable a user's key."""
    from service.cli import disable_user
    from service.db.storage import UnknownUser

    try:
        disable_user(name, database_url)
    except UnknownUser as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"disabled {name!r}")


@app.command()
def rescreen(
    everything: Annotated[bool, typer.Option("--all", help="every stored posting, not only those screened by other versions")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="screen, count the changes, store nothing")] = False,
    model: Annotated[Optional[str], typer.Option("--model", help="model version folder, or 'none' (default: SCREENING_MODEL, else the shipped one)")] = None,
    database_url: DbOpt = None,
) -> None:
    """Screen stored postings again after a rules or model update. Each earlier assessment is
    kept with its versions (shown with the item); newly flagged postings enter the queue; queue
    items and reviews are never changed; postings whose contacts changed are linked to agencies
    again."""
    from service.cli import rescreen as run

    from .errors import ScreeningError

    try:
        n = run(database_url, everything=everything, dry_run=dry_run, model=model)
    except ScreeningError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    v = n["versions"]
    typer.echo(f"{'would re-screen' if dry_run else 're-screened'} {n['screened']} posting(s) with engine {v['engine']}, "
               f"rules {v['rules']}, model {v['model']}: {n['changed']} changed, {n['queued']} newly queued"
               + ("" if dry_run else f", {n['relinked']} with new contacts linked to agencies again"))


@app.command()
def purge(
    older_than: Annotated[Optional[int], typer.Option("--older-than", min=0, help="days: purge what was stored more than DAYS days ago")] = None,
    before: Annotated[Optional[str], typer.Option("--before", help="date (YYYY-MM-DD, UTC): purge what was stored before it")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="only count what would be purged")] = False,
    database_url: DbOpt = None,
) -> None:
    """Delete stored postings (text, assessment, phones and other identifiers) that never entered
    the inspectors' queue, older than a date. Queue items and their reviews stay."""
    from datetime import datetime, timedelta, timezone

    from service.cli import purge as run

    if (older_than is None) == (before is None):
        typer.echo("error: give exactly one of --older-than DAYS or --before YYYY-MM-DD", err=True)
        raise typer.Exit(2)
    if before is not None:
        try:
            cutoff = datetime.fromisoformat(before)
        except ValueError:
            typer.echo(f"error: --before {before!r} is not a date (YYYY-MM-DD)", err=True)
            raise typer.Exit(2) from None
        cutoff = cutoff if cutoff.tzinfo else cutoff.replace(tzinfo=timezone.utc)
    else:
        cutoff = datetime.now(timezone.utc) - timedelta(days=older_than)
    n = run(cutoff, database_url, dry_run=dry_run)
    verb = "would purge" if dry_run else "purged"
    typer.echo(f"{verb} {n['postings']} posting(s) stored before {cutoff:%Y-%m-%d %H:%M} UTC that never entered the queue "
               f"({n['identifiers']} phone/handle/firm identifier(s)); kept {n['kept_in_queue']} queued posting(s) and their reviews")


registry_app = typer.Typer(no_args_is_help=True, help="The list of enterprises licensed to send workers abroad (DOLAB).")
app.add_typer(registry_app, name="registry")


@registry_app.command("import")
def registry_import(
    file: Annotated[Path, typer.Argument(help="the licence list as DOLAB publishes it (CSV or XLSX)")],
    database_url: DbOpt = None,
) -> None:
    """Import a licence list as a new version: later lists update statuses and keep history.
    Each row that cannot be read is reported with its line number; the rest is imported."""
    from service.cli import import_registry

    try:
        res = import_registry(file, database_url)
    except (FileNotFoundError, ValueError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    for e in res.errors:
        typer.echo(f"{file}:{e['line']}: {e['message']}", err=True)
    typer.echo(f"registry version {res.version}: {res.firms} firms imported ({res.new} new, {res.changed} status changes), "
               f"{len(res.errors)} bad row(s); {res.relinked} posting(s) resolved again")
    if res.firms == 0:
        raise typer.Exit(1)


agency_app = typer.Typer(no_args_is_help=True, help="Agencies: who is behind the postings, and their risk profile.")
app.add_typer(agency_app, name="agency")


@agency_app.command("report")
def agency_report(
    name: Annotated[str, typer.Argument(help="a firm name as ads write it, a brand, or a phone")],
    as_json: Annotated[bool, typer.Option("--json", help="print the JSON profile")] = False,
    lang: Annotated[str, typer.Option(help="vi or en")] = "vi",
    database_url: DbOpt = None,
) -> None:
    """The risk profile of the agency best matching NAME: licence status, signs with their
    evidence, postings, fees, linked identities."""
    from service.cli import agency_report as report

    prof = report(name, database_url)
    if prof is None:
        typer.echo(f"no agency matches {name!r}", err=True)
        raise typer.Exit(1)
    if as_json:
        typer.echo(json.dumps(prof, ensure_ascii=False, indent=2, default=str))
        return
    typer.echo(f"{prof['name']} (agency {prof['id']})")
    typer.echo(f"licence_status={prof['licence_status'] or 'unknown'} risk_score={prof['risk_score']:.2f} band={prof['risk_band']}")
    if prof.get("registry"):
        r = prof["registry"]
        typer.echo(f"registry: {r['name']} · {r['enterprise_code']} · {r['licence_no']} · {r['status']}")
    for s in prof["signs"]:
        typer.echo(f"\n• {s['name'][lang]} ({s['id']}, {s['severity']})")
        for e in s["evidence"]:
            typer.echo(f"  evidence: {e}")
        if s["legal"]:
            typer.echo(f"  law: {'; '.join(x['ref'] for x in s['legal'])}")
    typer.echo(f"\npostings ({len(prof['postings'])}):")
    for p in prof["postings"]:
        typer.echo(f"  {p['source']}/{p['external_id']}  {p['risk_band']:<6} {p['risk_score']:.2f}  {', '.join(p['indicators']) or '-'}")
    if prof["linked"]:
        typer.echo("linked:")
        for link in prof["linked"]:
            via = ", ".join(f"{v['kind']} {v['value']}" for v in link["via"])
            typer.echo(f"  {link['name']} ({link.get('licence_status') or '-'}) via {via}")


def main() -> None:
    app()
