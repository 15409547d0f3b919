"""`aetherius kb`: ingest, search, list, show, disable, versions, rollback of the knowledge base.

Which store: `--api URL` asks that worker's knowledge API; `--data-dir DIR` names a store on disk; with
neither, the running stack of the current context (aetherius/context.py, written by `aetherius demo`) is
asked - so `aetherius kb search ...` right after `make demo` searches the demo's knowledge base, never an empty
local one - and only without a live context the configured `knowledge.path` is used.

Embedded stores have one owner: when no process holds the store's path, the CLI opens it directly;
when a worker holds it, the CLI calls that worker's knowledge API (the URL the worker wrote into the
lock file, or `knowledge.api_url`); otherwise it stops with an error saying who holds the store.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any
from urllib.parse import quote


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("kb", help="manage the knowledge base (runbooks, learned cases, versions)")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--data-dir", type=Path, default=None,
                     help="knowledge data path (default: the current context's stack, else knowledge.path)")
    src.add_argument("--api", default=None, help="a worker's base URL (default: the current context's worker)")
    p.add_argument("--api-key", default=None, help="API key for the worker (default: $AETHERIUS_API_KEY, else the "
                                                   "context's key)")
    p.add_argument("--json", action="store_true", help="print JSON")
    kb = p.add_subparsers(dest="kb_command", required=True, metavar="ACTION")
    ing = kb.add_parser("ingest", help="ingest Markdown runbooks (files or directories)")
    ing.add_argument("paths", nargs="+", type=Path)
    s = kb.add_parser("search", help="semantic search")
    s.add_argument("query")
    s.add_argument("--top-k", type=int, default=5)
    s.add_argument("--cluster-env", dest="environment", default=None, help="only entries for this environment")
    s.add_argument("--cluster", default=None, help="only entries for this cluster id")
    s.add_argument("--k8s-version", default=None)
    s.add_argument("--include-disabled", action="store_true")
    lst = kb.add_parser("list", help="list entries")
    lst.add_argument("--enabled-only", action="store_true")
    sh = kb.add_parser("show", help="show one entry")
    sh.add_argument("id")
    d = kb.add_parser("disable", help="disable an entry (kept for history; rollback restores it)")
    d.add_argument("id")
    kb.add_parser("versions", help="the version history")
    rb = kb.add_parser("rollback", help="restore exactly the state at VERSION (recorded as a new version)")
    rb.add_argument("version", type=int)
    p.set_defaults(func=run)


def _knowledge_settings(data_dir: Path | None):  # noqa: ANN202
    from schemas.knowledge_settings import KnowledgeSettings
    from schemas.settings import load_settings

    ks = getattr(load_settings(), "knowledge", None) or KnowledgeSettings()
    return ks.model_copy(update={"path": data_dir}) if data_dir else ks


def _markdown_files(paths: list[Path]) -> list[Path]:
    from aetherius.cli import CliError

    files: list[Path] = []
    for p in paths:
        if p.is_dir():
            files += sorted(p.rglob("*.md"))
        elif p.is_file():
            files.append(p)
        else:
            raise CliError(f"{p}: no such file or directory")
    if not files:
        raise CliError("no Markdown files found")
    return files


def run(args: argparse.Namespace) -> int:
    from aetherius.cli import CliError
    from agents.knowledge.engines import StoreBusy
    from agents.knowledge.ownership import read_holder

    from aetherius.context import Target, resolve

    if args.data_dir is None and not _store_configured():
        target = resolve("worker", args.api, args.api_key, default_url=None)
        if target is not None:  # --api, or a running stack: its worker owns the store
            return asyncio.run(_remote(args, target))
    ks = _knowledge_settings(args.data_dir)
    if ks.engine != "server":
        holder = read_holder(ks.path)
        if holder:
            url = holder.get("api_url") or ks.api_url
            if not url:
                raise CliError(f"the knowledge store {ks.path} is owned by pid {holder.get('pid', '?')}, which serves no "
                               "API; stop it or set knowledge.api_url")
            key = args.api_key or os.environ.get("AETHERIUS_API_KEY")
            return asyncio.run(_remote(args, Target(url.rstrip("/"), key, f"the holder of {ks.path}")))
    try:
        return asyncio.run(_local(args, ks))
    except StoreBusy as exc:
        raise CliError(str(exc)) from exc


def _store_configured() -> bool:
    """The user named a store in the environment or config (then that store is meant, not the context's)."""
    return any(k.startswith("AETHERIUS_KNOWLEDGE__") for k in os.environ) or bool(os.environ.get("AETHERIUS_CONFIG"))


async def _local(args: argparse.Namespace, ks) -> int:  # noqa: ANN001
    from aetherius.cli import CliError
    from agents.knowledge.base import UnknownEntry
    from agents.knowledge.factory import open_knowledge_base
    from agents.knowledge.filters import EntryFilter
    from agents.knowledge.runbooks import RunbookError

    kb = open_knowledge_base(ks)
    try:
        c = args.kb_command
        if c == "ingest":
            try:
                report = await kb.ingest_files(_markdown_files(args.paths))
            except RunbookError as exc:
                raise CliError(str(exc)) from exc
            return _out(args, report.model_dump(), _fmt_ingest)
        if c == "search":
            flt = EntryFilter(cluster_id=args.cluster, environment=args.environment, k8s_version=args.k8s_version,
                              include_disabled=args.include_disabled)
            hits = await kb.search(args.query, args.top_k, flt)
            if kb.version == 0:  # never a silent "no match" from a store nobody filled
                print(f"note: the knowledge store at {ks.path} is empty (version 0): ingest runbooks with `aetherius "
                      "kb ingest deploy/knowledge/runbooks`, or ask a running worker with --api URL", file=sys.stderr)
            return _out(args, {"version": kb.version, "hits": [h.model_dump(mode="json") for h in hits]}, _fmt_hits)
        if c == "list":
            entries = await kb.list(include_disabled=not args.enabled_only)
            return _out(args, {"version": kb.version, "entries": [e.model_dump(mode="json") for e in entries]}, _fmt_list)
        if c in ("show", "disable"):
            try:
                entry = await (kb.get(args.id) if c == "show" else kb.disable(args.id, actor=_actor()))
            except UnknownEntry:
                raise CliError(f"no entry {args.id!r} (see `aetherius kb list`)") from None
            return _out(args, entry.model_dump(mode="json"), _fmt_entry)
        if c == "versions":
            sets = await kb.versions()
            return _out(args, {"version": kb.version, "versions": [
                {"version": v.version, "at": v.at.isoformat(), "actor": v.actor, "action": v.action, "reason": v.reason,
                 "changes": [{"entry_id": ch.entry_id, "op": ch.op} for ch in v.changes]} for v in sets]}, _fmt_versions)
        if c == "rollback":
            try:
                cs = await kb.rollback(args.version, actor=_actor())
            except ValueError as exc:
                raise CliError(str(exc)) from exc
            return _out(args, {"version": kb.version, "changed": [] if cs is None else
                               [{"entry_id": ch.entry_id, "op": ch.op} for ch in cs.changes]}, _fmt_rollback(args.version))
        raise CliError(f"unknown action {c}")
    finally:
        await kb.close()


async def _remote(args: argparse.Namespace, target) -> int:  # noqa: ANN001 - aetherius.context.Target
    import aiohttp

    from aetherius.cli import CliError
    from aetherius.context import ENV_API_KEY

    base = target.url
    headers = {"X-API-Key": target.api_key} if target.api_key else {}
    api = f"{base}/api/v1/kb"
    c = args.kb_command
    async with aiohttp.ClientSession(headers=headers, timeout=aiohttp.ClientTimeout(total=300)) as s:
        async def call(method: str, path: str, body: Any = None) -> Any:  # noqa: ANN401
            try:
                async with s.request(method, f"{api}{path}", json=body) as r:
                    text = await r.text()
                    try:
                        data = json.loads(text)
                    except ValueError:
                        raise CliError(f"{r.status} from the knowledge API: {text[:200]}") from None
                    if r.status >= 400:
                        why = (data.get("reason") or data.get("error")) if isinstance(data, dict) else data
                        hint = f" (pass --api-key or set {ENV_API_KEY})" if r.status == 401 else ""
                        raise CliError(f"the knowledge API at {base} answered {r.status}: {why}{hint}")
                    return data
            except aiohttp.ClientError as exc:
                raise CliError(target.unreachable("knowledge API", exc)) from exc

        if c == "ingest":
            docs = [{"name": str(p), "text": p.read_text(encoding="utf-8")} for p in _markdown_files(args.paths)]
            return _out(args, await call("POST", "/ingest", {"documents": docs, "actor": _actor()}), _fmt_ingest)
        if c == "search":
            body = {"query": args.query, "top_k": args.top_k, "cluster_id": args.cluster, "environment": args.environment,
                    "k8s_version": args.k8s_version, "include_disabled": args.include_disabled}
            return _out(args, await call("POST", "/search", body), _fmt_hits)
        if c == "list":
            q = "?include_disabled=false" if args.enabled_only else ""
            return _out(args, await call("GET", f"/entries{q}"), _fmt_list)
        if c == "show":
            return _out(args, await call("GET", f"/entries/{quote(args.id, safe='')}"), _fmt_entry)
        if c == "disable":
            path = f"/entries/{quote(args.id, safe='')}/disable?actor={quote(_actor(), safe='')}"
            return _out(args, (await call("POST", path))["entry"], _fmt_entry)
        if c == "versions":
            return _out(args, await call("GET", "/versions"), _fmt_versions)
        if c == "rollback":
            return _out(args, await call("POST", "/rollback", {"version": args.version, "actor": _actor()}),
                        _fmt_rollback(args.version))
    raise CliError(f"unknown action {c}")


def _actor() -> str:
    return f"cli:{os.environ.get('USER', 'unknown')}"


def _out(args: argparse.Namespace, data: Any, fmt) -> int:  # noqa: ANN001, ANN401
    print(json.dumps(data, indent=2, default=str) if args.json else fmt(data))
    sys.stdout.flush()
    return 0


def _fmt_ingest(r: dict) -> str:
    lines = [f"knowledge base version {r['version']}: {len(r['added'])} added, {len(r['updated'])} updated, "
             f"{len(r['unchanged'])} unchanged, {len(r['disabled'])} disabled"]
    lines += [f"  + {i}" for i in r["added"]] + [f"  ~ {i}" for i in r["updated"]] + [f"  - {i}" for i in r["disabled"]]
    return "\n".join(lines)


def _fmt_hits(d: dict) -> str:
    if not d["hits"]:
        return "no match"
    return "\n".join(f"{h['score']:.3f}  {h['entry']['id']}  {h['entry']['title']}" for h in d["hits"])


def _fmt_list(d: dict) -> str:
    rows = [f"{'on ' if e['enabled'] else 'off'} {e['confidence']:.2f}  {e['id']}  {e['title']}" for e in d["entries"]]
    return "\n".join(rows + [f"{len(rows)} entries, version {d['version']}"])


def _fmt_entry(e: dict) -> str:
    fb = e["feedback"]
    head = [f"{e['id']}  ({'enabled' if e['enabled'] else 'DISABLED'}{', needs improvement' if e['needs_improvement'] else ''})",
            f"title: {e['title']}", f"category: {e['category']}  problem: {e['problem_category'] or '-'}  tags: {', '.join(e['tags'])}",
            f"confidence: {e['confidence']}  usage: {e['usage_count']}  feedback: +{fb['helpful']} -{fb['unhelpful']}  "
            f"entry version: {e['version']}",
            f"source: {e['source']['type']} {e['source']['reference']}",
            f"scope: clusters={e['cluster_ids'] or 'all'} environments={e['environments'] or 'all'} "
            f"k8s={e['k8s_versions'] or 'all'}", "", e["content"]]
    return "\n".join(head)


def _fmt_versions(d: dict) -> str:
    if not d["versions"]:
        return "version 0 (empty)"
    return "\n".join(f"{v['version']:>4}  {v['at'][:19]}  {v['actor']:<20} {v['action']:<10} {len(v['changes'])} change(s)  {v['reason']}"
                     for v in d["versions"])


def _fmt_rollback(target: int):  # noqa: ANN202
    def fmt(d: dict) -> str:
        if not d["changed"]:
            return f"already at the state of version {target}; nothing changed (version {d['version']})"
        return f"restored the state of version {target} as version {d['version']}: " + ", ".join(
            f"{c['op']} {c['entry_id']}" for c in d["changed"])
    return fmt
