"""``berth mcp``: berth's tools for AI agents over the Model Context Protocol (stdio).

Each tool runs one of berth's verbs (:mod:`berth.agent.tools`) in a worker
thread, since they block, and answers with the verb's own result, the JSON
object of ``berth <verb> --json``, as structured content (and as text, for
clients that read only text). A berth error is a tool error result carrying
its kind, message and hint, never a traceback, and the server goes on. Long
tools send progress notifications when the client gave a progress token. The
status is a resource too: ``berth://status``.

Only the protocol goes to stdout: the SDK's stdio transport points fd 1 at
stderr while it serves (a stray print lands there) and fd 0 at /dev/null, so
nothing can prompt: no tool asks for confirmation.
"""

from __future__ import annotations

import contextlib
import json
import threading
import traceback
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import anyio
import anyio.from_thread
import anyio.lowlevel
import anyio.to_thread
from mcp.server.mcpserver import Context, MCPServer
from mcp.types import CallToolResult, TextContent, ToolAnnotations
from pydantic import Field

from berth import __version__, logs
from berth.agent import tools
from berth.errors import BerthError, ConflictError, classify
from berth.redact import urls

if TYPE_CHECKING:
    from berth.context import Context as BerthContext
    from berth.results import ToJson

log = logs.get("berth.mcp")
F = TypeVar("F", bound=Callable[..., Any])

# Names the tools' annotations use: resolved from this module's globals by the SDK.
Ctx = Context[Any, Any]
Worktree = Annotated[
    str | None,
    Field(
        description="Path of the worktree whose berth to act on. Default: the worktree berth"
        " mcp serves; another one is refused unless the setting mcp_any_worktree is on."
    ),
]
ShowSecrets = Annotated[
    bool,
    Field(
        description="Show passwords instead of ****: refused unless the setting"
        " mcp_show_secrets is on."
    ),
]
Force = Annotated[bool, Field(description="As the CLI's --force.")]

INSTRUCTIONS = """\
berth gives each git worktree its own Postgres database and role, ports, Redis \
database, state dir and .env.berth. These tools act on the berth of the worktree \
this server serves: status first; migrations / migrate after adding a migration \
file; reset for a fresh database (the old one goes to the trash, restore brings \
it back); fork to copy another berth's data; snapshot / diff for baselines and \
changes; wait while a git hook is still provisioning. Results are the JSON of \
`berth <verb> --json`; errors carry a kind, a message and a hint."""

_READ = ToolAnnotations(read_only_hint=True, open_world_hint=False)
_CHANGE = ToolAnnotations(read_only_hint=False, destructive_hint=False, open_world_hint=False)
_REPLACE = ToolAnnotations(read_only_hint=False, destructive_hint=True, open_world_hint=False)


def payload(result: ToJson | dict[str, Any]) -> dict[str, Any]:
    """The result's JSON object, exactly as ``--json`` prints it (datetimes as text)."""
    data = result if isinstance(result, dict) else result.to_json()
    loaded: dict[str, Any] = json.loads(json.dumps(data, default=str))
    return loaded


def success(result: ToJson | dict[str, Any]) -> CallToolResult:
    data = payload(result)
    text = TextContent(type="text", text=json.dumps(data, indent=2))
    return CallToolResult(content=[text], structured_content=data)


def failure(tool: str, exc: BaseException) -> CallToolResult:
    """``exc`` as a tool error result: berth's kind, message and hint; a bug says only that."""
    known = classify(exc)
    if known is None:
        trace = "".join(traceback.format_exception(exc))  # for the log: the client never sees it
        log.error("mcp_tool_failed", tool=tool, error=repr(exc), traceback=trace)
        first = str(exc).splitlines()[0] if str(exc) else ""
        known = BerthError(
            f"internal error: {type(exc).__name__}: {first}",
            hint="see berth's log (berth.log in the berth home's logs dir), and please report it",
        )
    text = f"berth: error: {known.message}" + (f"\nhint: {known.hint}" if known.hint else "")
    return CallToolResult(
        content=[TextContent(type="text", text=text)],
        structured_content=known.to_json(),
        is_error=True,
    )


class Progress:
    """One call's progress notifications, sent from whichever thread does the work."""

    def __init__(self, ctx: Ctx) -> None:
        self.ctx = ctx
        self.count = 0
        self.token = anyio.lowlevel.current_token()

    async def start(self, message: str) -> None:
        await self.ctx.report_progress(0, None, message)

    def say(self, message: str) -> None:
        self.count += 1
        try:
            anyio.from_thread.run(
                self.ctx.report_progress, self.count, None, urls(message), token=self.token
            )
        except Exception as exc:  # the client went away: the work goes on regardless
            log.info("mcp_progress_lost", error=repr(exc))


class Tools:
    """The tools of one server, on its scope."""

    def __init__(self, scope: tools.Scope) -> None:
        self.scope = scope

    async def call(
        self,
        ctx: Ctx,
        name: str,
        worktree: str | None,
        work: Callable[[BerthContext], ToJson | dict[str, Any]],
        *,
        start: str | None = None,
        need_repo: bool = True,
    ) -> CallToolResult:
        """``work`` in a worker thread, on the context of ``worktree``.

        Not abandoned when the request is cancelled: a reset stops at its end, not midway.
        """
        progress = Progress(ctx)
        if start is not None:
            await progress.start(start)
        try:
            result = await anyio.to_thread.run_sync(
                lambda: self.scope.run(worktree, progress.say, work, need_repo=need_repo)
            )
        except Exception as exc:
            return failure(name, exc)
        return success(result)

    async def wait(self, ctx: Ctx, worktree: str | None, timeout: float) -> CallToolResult:
        """``berth wait`` with a deadline: its lock waits cannot take SIGALRM off the main
        thread, so they run in a daemon thread the call stops waiting for (it only waits:
        left behind, it changes nothing, and it cannot keep the server alive at exit)."""
        progress = Progress(ctx)
        await progress.start("waiting until this worktree's berth is ready")
        done = anyio.Event()
        outcome: dict[str, Any] = {}

        def work() -> None:
            try:
                outcome["result"] = self.scope.run(worktree, progress.say, tools.wait)
            except Exception as exc:
                outcome["error"] = exc
            with contextlib.suppress(Exception):  # the server is gone: nobody waits any more
                anyio.from_thread.run_sync(done.set, token=progress.token)

        threading.Thread(target=work, name="berth-mcp-wait", daemon=True).start()
        with anyio.move_on_after(timeout):
            await done.wait()
        if "error" in outcome:
            return failure("wait", outcome["error"])
        if "result" not in outcome:
            return failure(
                "wait",
                ConflictError(
                    f"this worktree's berth was not ready within {timeout:g} s",
                    hint="call wait again; the status tool shows how far it got",
                ),
            )
        return success(outcome["result"])

    async def status_text(self) -> str:
        """The home berth's status (masked) as JSON text; an error's JSON object if none."""
        try:
            result = await anyio.to_thread.run_sync(
                lambda: self.scope.run(None, None, tools.status)
            )
        except Exception as exc:
            return json.dumps(failure("status", exc).structured_content, indent=2)
        return json.dumps(payload(result), indent=2)


def _tool(server: MCPServer[Any], annotations: ToolAnnotations) -> Callable[[F], F]:
    """Register a tool; its docstring, on one line, is its description."""

    def register(fn: F) -> F:
        description = " ".join((fn.__doc__ or "").split())
        server.add_tool(fn, description=description, annotations=annotations)
        return fn

    return register


def create_server(scope: tools.Scope) -> MCPServer[Any]:
    server: MCPServer[Any] = MCPServer(
        "berth", version=__version__, instructions=INSTRUCTIONS, log_level="WARNING"
    )
    run = Tools(scope)

    @_tool(server, _READ)
    async def status(
        ctx: Ctx, worktree: Worktree = None, show_secrets: ShowSecrets = False
    ) -> CallToolResult:
        """This worktree's berth: database (URL masked), ports, state dir, env file,
        template or baseline, trash, and its migrations' state (as berth status --json)."""
        return await run.call(ctx, "status", worktree, lambda c: tools.status(c, show_secrets))

    @_tool(server, _READ)
    async def env(
        ctx: Ctx, worktree: Worktree = None, show_secrets: ShowSecrets = False
    ) -> CallToolResult:
        """The berth's environment (what .env.berth holds and berth run passes on):
        DATABASE_URL, ports, REDIS_URL...; passwords masked as ****."""
        return await run.call(ctx, "env", worktree, lambda c: tools.env(c, show_secrets))

    @_tool(server, _READ)
    async def migrations(ctx: Ctx, worktree: Worktree = None) -> CallToolResult:
        """This branch's migrations and their state on the berth's database: applied,
        pending, edited after apply, or applied but missing on this branch."""
        return await run.call(ctx, "migrations", worktree, tools.migrations)

    @_tool(server, _CHANGE)
    async def migrate(ctx: Ctx, worktree: Worktree = None) -> CallToolResult:
        """Apply this branch's pending migrations to the berth's database, in place."""
        return await run.call(
            ctx, "migrate", worktree, tools.migrate, start="applying pending migrations"
        )

    @_tool(server, _REPLACE)
    async def reset(
        ctx: Ctx,
        worktree: Worktree = None,
        baseline: Annotated[
            str | None, Field(description="Start from this baseline (snapshot) from now on.")
        ] = None,
    ) -> CallToolResult:
        """A fresh database: a copy of this branch's migrated template (or of the baseline).
        The current database goes to the trash; restore with the result's "previous" brings
        it back. Does not ask for confirmation."""
        return await run.call(
            ctx,
            "reset",
            worktree,
            lambda c: tools.reset(c, baseline),
            start="resetting the berth's database",
        )

    @_tool(server, _REPLACE)
    async def fork(
        ctx: Ctx,
        source: Annotated[str, Field(description="A berth id (see ls), or 'main'.")],
        worktree: Worktree = None,
        force: Force = False,
    ) -> CallToolResult:
        """This berth's database becomes a copy of another berth's (or main's); the current
        one goes to the trash. force ends the source's open connections (another
        worktree's: refused unless the setting mcp_any_worktree is on)."""
        return await run.call(
            ctx,
            "fork",
            worktree,
            lambda c: tools.fork(scope, c, source, force),
            start=f"copying {source}'s database",
        )

    @_tool(server, _CHANGE)
    async def snapshot(
        ctx: Ctx,
        name: Annotated[str, Field(description="The baseline's name.")],
        worktree: Worktree = None,
        force: Force = False,
    ) -> CallToolResult:
        """Save the berth's database as the named baseline (reset / up can start from it).
        force replaces an unused baseline of that name."""
        return await run.call(
            ctx,
            "snapshot",
            worktree,
            lambda c: tools.snapshot(c, name, force),
            start=f"saving baseline {name}",
        )

    @_tool(server, _READ)
    async def diff(
        ctx: Ctx,
        worktree: Worktree = None,
        against: Annotated[
            str | None,
            Field(description="A baseline name or a berth id; default: the template."),
        ] = None,
        bookkeeping: Annotated[
            bool, Field(description="Include the migration tools' version tables.")
        ] = False,
    ) -> CallToolResult:
        """Schema changes and per-table row counts (inserted, updated, deleted) of the
        berth's database against its template, a baseline or another berth."""
        return await run.call(ctx, "diff", worktree, lambda c: tools.diff(c, against, bookkeeping))

    @_tool(server, _REPLACE)
    async def restore(
        ctx: Ctx,
        instance: Annotated[
            str | None,
            Field(
                description='A trash entry (a reset\'s "previous") or a berth id;'
                " default: this worktree's berth (its newest trash entry)."
            ),
        ] = None,
        worktree: Worktree = None,
    ) -> CallToolResult:
        """Bring a trashed database back as its berth's database (the current one goes to
        the trash). Another worktree's berth is refused unless mcp_any_worktree is on."""
        return await run.call(
            ctx,
            "restore",
            worktree,
            lambda c: tools.restore(scope, c, instance),
            start="restoring from the trash",
        )

    @_tool(server, _READ)
    async def ls(
        ctx: Ctx,
        all_projects: Annotated[bool, Field(description="Berths of every project.")] = False,
    ) -> CallToolResult:
        """The berths of this project (or of every project): state, slot, database, ports,
        branch, worktree, and the apps berth run started."""
        return await run.call(
            ctx,
            "ls",
            None,
            lambda c: tools.ls(c, all_projects),
            need_repo=not all_projects,
        )

    @_tool(server, _CHANGE)
    async def up(
        ctx: Ctx,
        worktree: Worktree = None,
        baseline: Annotated[
            str | None, Field(description="Start a new berth from this baseline.")
        ] = None,
    ) -> CallToolResult:
        """Give the worktree its berth (database, role, ports, state dir, .env.berth), or
        repair it; changes nothing when it is there already."""
        return await run.call(
            ctx,
            "up",
            worktree,
            lambda c: tools.up(c, baseline),
            start="provisioning this worktree's berth",
        )

    @_tool(server, _READ)
    async def wait(
        ctx: Ctx,
        worktree: Worktree = None,
        timeout: Annotated[
            float, Field(gt=0, description="Give up after this many seconds.")
        ] = 300.0,
    ) -> CallToolResult:
        """Block until the worktree's berth is ready (a git hook may still be provisioning
        it in the background); then its status."""
        return await run.wait(ctx, worktree, timeout)

    @server.resource(
        "berth://status",
        name="status",
        description="The status of the berth of the worktree this server serves (as the"
        " status tool gives it; an error's kind, message and hint when there is none).",
        mime_type="application/json",
    )
    async def status_resource() -> str:
        return await run.status_text()

    return server


def serve(scope: tools.Scope) -> None:
    """Serve on stdio until the client closes it."""
    create_server(scope).run("stdio")
