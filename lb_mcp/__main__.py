"""Composition root for ``lb-mcp serve | sim | demo | audit | halt | resume``: where sdk, sim
and server meet.

``serve`` picks the backend from the environment, once: an OAuth client id (``--client-id`` or
``LONGBRIDGE_OAUTH_CLIENT_ID``) with the token ``lb-mcp login`` stored means live on OAuth;
otherwise ``LONGBRIDGE_*`` (or legacy ``LONGPORT_*``) API-key credentials mean live through
``Config.from_apikey_env()``; without either it starts the embedded simulator in-process (mode
sandbox). Logs go to stderr only, because stdout is
the stdio transport. Limits and switches come from ``LB_MCP_*`` and, optionally, the human-edited
TOML file named by ``--config PATH`` or ``LB_MCP_CONFIG`` (the environment wins over the file).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import ipaddress
import logging
import os
import socket
import sys
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lb_mcp.sdk.oauth import OAuth
    from lb_mcp.server.backend import Backend, PendingBackend
    from lb_mcp.server.settings import ServerSettings

LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1")
CREDENTIAL_KEYS = ("APP_KEY", "APP_SECRET", "ACCESS_TOKEN")
CONFIG_ENV = "LB_MCP_CONFIG"
log = logging.getLogger("lb_mcp")


DESCRIPTION = (
    "lb-mcp: a guarded MCP gateway to a Longbridge brokerage account. Without Longbridge "
    "credentials `lb-mcp serve` runs on an embedded simulator (sandbox, simulated money); with "
    "LONGBRIDGE_APP_KEY/APP_SECRET/ACCESS_TOKEN or `lb-mcp login` it is live. Every order is "
    "confirmed by the human. Start with `lb-mcp demo`."
)


def _non_negative(kind: type[int] | type[float]) -> Callable[[str], float]:
    def parse(text: str) -> float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if value < 0 or value != value:  # NaN is not a count either
            raise argparse.ArgumentTypeError(f"must not be negative: {text!r}")
        return value

    return parse


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lb-mcp", description=DESCRIPTION)
    sub = parser.add_subparsers(dest="command", required=True)

    sim = sub.add_parser("sim", help="run the embedded Longbridge-compatible simulator")
    sim.add_argument("--host", default="127.0.0.1")
    sim.add_argument("--port", type=int, default=0, help="HTTP port (0 = any free port)")
    sim.add_argument("--seed", type=int, default=7)
    sim.add_argument("--hours", choices=["always", "real"], default="always")
    sim.add_argument(
        "--push-rate",
        type=_non_negative(float),
        default=2.0,
        help="quote pushes per symbol per s",
    )
    sim.add_argument(
        "--universe", metavar="FILE", help="CSV of instruments to add or replace (README)"
    )

    serve = sub.add_parser("serve", help="run the MCP server (stdio by default)")
    serve.add_argument("--transport", choices=["stdio", "http"], default="stdio")
    serve.add_argument("--host", default="127.0.0.1", help="HTTP bind address (loopback)")
    serve.add_argument("--port", type=int, default=8765, help="HTTP port (0 = any free port)")
    serve.add_argument(
        "--allow-host",
        action="append",
        default=[],
        metavar="HOST[:PORT]",
        help="Host header to accept when binding a non-loopback address (repeatable)",
    )
    serve.add_argument("--seed", type=int, default=7, help="simulator seed (sandbox only)")
    serve.add_argument(
        "--config",
        default=None,
        metavar="PATH",
        help=f"TOML settings file (default: ${CONFIG_ENV}); LB_MCP_* variables override it",
    )
    serve.add_argument(
        "--client-id",
        default=None,
        metavar="ID",
        help="go live on OAuth with the token `lb-mcp login` stored for this client "
        "(default: $LONGBRIDGE_OAUTH_CLIENT_ID)",
    )
    serve.add_argument("-v", "--verbose", action="store_true", help="log at INFO on stderr")

    login = sub.add_parser("login", help="sign in to Longbridge with OAuth 2.0 (browser)")
    login.add_argument(
        "--client-id",
        default=None,
        metavar="ID",
        help="OAuth client id (default: $LONGBRIDGE_OAUTH_CLIENT_ID)",
    )
    login.add_argument(
        "--region",
        choices=["cn", "hk"],
        default=None,
        help="cn: accounts opened in mainland China (.cn); hk: everyone else",
    )
    login.add_argument("--no-browser", action="store_true", help="print the URL, open nothing")
    login.add_argument("--port", type=int, default=60355, help="loopback port for the redirect")
    login.add_argument("--timeout", type=float, default=300.0, help="seconds to wait for it")

    logout = sub.add_parser("logout", help="revoke and delete the stored OAuth token")
    logout.add_argument("--client-id", default=None, metavar="ID")
    logout.add_argument("--region", choices=["cn", "hk"], default=None)

    demo = sub.add_parser("demo", help="drive the server on the simulator from a real client")
    demo.add_argument("--seed", type=int, default=7)
    demo.add_argument(
        "--updates", type=_non_negative(int), default=3, help="streamed updates to print"
    )

    halt = sub.add_parser("halt", help="stop every lb-mcp serve on this state dir from trading")
    halt.add_argument("--cancel-open", action="store_true", help="also cancel open lb-mcp orders")
    halt.add_argument("--reason", default="", help="shown to the agent with each refusal")
    halt.add_argument("--state-dir", default=None, help="default: LB_MCP_STATE_DIR or XDG state")
    resume = sub.add_parser("resume", help="lift a halt written by `lb-mcp halt`")
    resume.add_argument("--state-dir", default=None)

    approve = sub.add_parser(
        "approve", help="list orders waiting for approval; approve or decline one (no browser)"
    )
    approve.add_argument("id", nargs="?", default=None, help="the confirmation id (cf_...)")
    choice = approve.add_mutually_exclusive_group()
    choice.add_argument("--yes", action="store_const", const="approve", dest="decision")
    choice.add_argument("--decline", action="store_const", const="decline", dest="decision")
    approve.add_argument("--state-dir", default=None, help="default: LB_MCP_STATE_DIR or XDG state")
    audit = sub.add_parser("audit", help="print the order audit log")
    audit.add_argument("--since", default=None, metavar="ISO", help="only events from this time")
    audit.add_argument("--state-dir", default=None, help="default: LB_MCP_STATE_DIR or XDG state")
    return parser


def has_credentials(env: Mapping[str, str]) -> bool:
    return any(
        env.get(prefix + key, "").strip()
        for prefix in ("LONGBRIDGE_", "LONGPORT_")
        for key in CREDENTIAL_KEYS
    )


def _is_loopback(host: str) -> bool:
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@asynccontextmanager
async def open_backend(
    env: Mapping[str, str], seed: int = 7, oauth: OAuth | None = None
) -> AsyncIterator[Backend]:
    """The Backend for this environment; the simulator runs for as long as the context.
    ``oauth``: a stored sign-in (see :func:`lb_mcp.login.signed_in`), which wins over API keys."""
    from lb_mcp.sdk.config import Config
    from lb_mcp.sdk.enums import Mode
    from lb_mcp.server.backend import Backend

    if oauth is not None:
        if has_credentials(env):
            log.warning("both an OAuth client id and API keys are set: using OAuth")
        config = Config.from_oauth(oauth, env=env)
        yield Backend(config=config, mode=Mode.LIVE, description="Longbridge OpenAPI (live, OAuth)")
        return
    if has_credentials(env):
        config = Config.from_apikey_env(env=env)
        yield Backend(config=config, mode=Mode.LIVE, description="Longbridge OpenAPI (live)")
        return
    async with _simulator(env, seed) as backend:
        yield backend


def pending_backend(
    env: Mapping[str, str], seed: int = 7, oauth: OAuth | None = None
) -> AbstractAsyncContextManager[Backend | PendingBackend]:
    """Like :func:`open_backend`, but the embedded simulator is left for the server to start
    after it has answered ``initialize`` (``lb-mcp serve``'s cold start)."""
    if oauth is not None or has_credentials(env):
        return open_backend(env, seed, oauth)
    from lb_mcp.sdk.enums import Mode
    from lb_mcp.server.backend import PendingBackend

    pending = PendingBackend(
        mode=Mode.SANDBOX,
        description=_sim_description(seed),
        open=lambda: _simulator(env, seed),
    )
    return nullcontext(pending)


def _sim_description(seed: int) -> str:
    return f"embedded simulator (seed {seed}, simulated money)"


@asynccontextmanager
async def _simulator(env: Mapping[str, str], seed: int) -> AsyncIterator[Backend]:
    from lb_mcp.sdk.enums import Mode
    from lb_mcp.server.backend import Backend
    from lb_mcp.sim import Simulator

    universe = env.get("LB_MCP_SIM_UNIVERSE") or None
    async with Simulator(seed=seed, tick=True, universe=universe) as sim:
        yield Backend(config=sim.config, mode=Mode.SANDBOX, description=_sim_description(seed))


class SettingsLoadError(Exception):
    """The settings could not be read; the message is for the human and names the culprit."""


def load_settings(env: Mapping[str, str], config: str | None) -> ServerSettings:
    """``ServerSettings`` from ``env`` and the config file (``config``, else ``LB_MCP_CONFIG``)."""
    from lb_mcp.server.settings import ServerSettings, SettingsError

    name = config if config is not None else env.get(CONFIG_ENV, "").strip() or None
    path = None if name is None else Path(name).expanduser()
    try:
        return ServerSettings.from_env(env, config_file=path)
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
        raise SettingsLoadError(f"cannot read config file {path}: {reason}") from None
    except SettingsError as exc:
        message = str(exc)
        if path is not None and str(path) not in message and _file_is_to_blame(path):
            message = f"config file {path}: {message}"
        raise SettingsLoadError(message) from None


def _file_is_to_blame(path: Path) -> bool:
    from lb_mcp.server.settings import ServerSettings, SettingsError

    try:
        ServerSettings.from_env({}, config_file=path)
    except SettingsError:
        return True
    return False


async def _serve(args: argparse.Namespace) -> int:
    # The start-up allocates many long-lived objects (the SDK's and our pydantic models, tool
    # schemas) and almost no garbage; the cyclic GC would rescan them again and again. Pause it
    # until the server is built, then freeze what exists so later collections skip it.
    gc.disable()
    try:
        return await _serve_started(args)
    finally:
        gc.enable()


async def _serve_started(args: argparse.Namespace) -> int:
    if args.transport == "http" and not _is_loopback(args.host) and not args.allow_host:
        log.error(
            "refusing to bind %s: not a loopback address. Pass --allow-host for every Host "
            "name clients will use (DNS-rebinding protection stays on).",
            args.host,
        )
        return 2
    try:
        settings = load_settings(os.environ, args.config)
    except SettingsLoadError as exc:
        print(f"lb-mcp: {exc}", file=sys.stderr, flush=True)
        return 2
    from lb_mcp.sdk.config import ConfigError
    from lb_mcp.sdk.enums import Mode
    from lb_mcp.server.app import build_server
    from lb_mcp.server.settings import LIMIT_KEYS, ConfirmPolicy

    if settings.confirm is ConfirmPolicy.AUTO and settings.confirm_policy(Mode.LIVE) is not (
        ConfirmPolicy.AUTO
    ):
        unset = ", ".join(f"LB_MCP_{k}" for k in LIMIT_KEYS if k not in settings.explicit_limits)
        _say(
            "lb-mcp: LB_MCP_CONFIRM=auto needs every limit set explicitly; "
            f"{unset} not set, so a human confirms each order"
        )
    if args.transport == "stdio" and sys.stdin.isatty():
        _say(
            "lb-mcp serve speaks MCP on stdin/stdout: it is meant to be started by an MCP client "
            "(Claude Desktop, Claude Code, the MCP Inspector; see README). Try `lb-mcp demo` to "
            "see it work, or `lb-mcp serve --transport http`. Ctrl-C to stop."
        )
    oauth = None
    from lb_mcp.login import client_id_from

    client_id = client_id_from(args.client_id, os.environ)
    if client_id is not None:
        from lb_mcp.login import signed_in
        from lb_mcp.sdk.errors import AuthError

        try:
            oauth = await signed_in(client_id, os.environ)
        except AuthError as exc:
            print(f"lb-mcp: {exc.message}", file=sys.stderr, flush=True)
            return 2
    try:
        async with pending_backend(os.environ, args.seed, oauth) as backend:
            mcp = build_server(settings, backend)
            gc.freeze()
            gc.enable()
            log.info("lb-mcp: mode %s (%s)", backend.mode.value, backend.description)
            if args.transport == "stdio":
                from lb_mcp.server.streams.stdio import run_stdio

                await run_stdio(mcp)
            else:
                await _serve_http(mcp, args.host, args.port, args.allow_host)
    except ConfigError as exc:  # e.g. only some of the credentials are set
        _say(f"lb-mcp: {exc.message}")
        return 2
    except PortInUse as exc:
        _say(f"lb-mcp: {exc}")
        return 2
    return 0


class PortInUse(Exception):
    """The HTTP port cannot be bound (taken, or not allowed)."""


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


async def _serve_http(mcp: object, host: str, port: int, allow_hosts: list[str]) -> None:
    import uvicorn
    from mcp.server.mcpserver import MCPServer
    from mcp.server.transport_security import TransportSecuritySettings

    assert isinstance(mcp, MCPServer)
    security = None
    if allow_hosts:
        hosts = [h if ":" in h else f"{h}:*" for h in allow_hosts]
        security = TransportSecuritySettings(
            enable_dns_rebinding_protection=True,
            allowed_hosts=hosts,
            allowed_origins=[f"http://{h}" for h in hosts] + [f"https://{h}" for h in hosts],
        )
    # With security=None and a loopback host the SDK turns its Host/Origin checks on itself.
    app = mcp.streamable_http_app(host=host, transport_security=security)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise PortInUse(
            f"cannot listen on {host}:{port} ({exc.strerror}); is another server running? "
            "Pick another --port (0 = any free port)"
        ) from None
    sock.listen(128)
    bound = sock.getsockname()[1]
    config = uvicorn.Config(app, log_config=None, log_level="warning", access_log=False)
    server = uvicorn.Server(config)
    shown = f"[{host}]" if family == socket.AF_INET6 else host
    print(f"lb-mcp: serving MCP on http://{shown}:{bound}/mcp", file=sys.stderr, flush=True)
    await server.serve(sockets=[sock])


async def _cancel_open(args: argparse.Namespace) -> int:
    from lb_mcp.login import client_id_from, signed_in
    from lb_mcp.server.gate.halt import cancel_open, state_dir_of

    client_id = client_id_from(None, os.environ)
    if client_id is None and not has_credentials(os.environ):
        print("lb-mcp: no broker credentials in the environment; nothing cancelled", flush=True)
        return 1
    oauth = None if client_id is None else await signed_in(client_id, os.environ)
    async with open_backend(os.environ, oauth=oauth) as backend:
        return await cancel_open(backend.config, state_dir_of(args.state_dir, os.environ))


def _logging(verbose: bool) -> None:
    logging.basicConfig(
        stream=sys.stderr,
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = _build_parser().parse_args(argv)
    if args.command == "sim":
        from lb_mcp.sim.cli import run_sim

        return run_sim(
            host=args.host,
            port=args.port,
            seed=args.seed,
            hours=args.hours,
            push_rate=args.push_rate,
            universe=args.universe or os.environ.get("LB_MCP_SIM_UNIVERSE") or None,
        )
    if args.command == "serve":
        _logging(args.verbose)
        try:
            return asyncio.run(_serve(args))
        except KeyboardInterrupt:
            return 0
    if args.command == "demo":
        _logging(False)
        from lb_mcp.server.demo import run_demo
        from lb_mcp.server.settings import ServerSettings

        async def demo() -> int:
            async with open_backend({}, args.seed) as backend:
                return await run_demo(ServerSettings.from_env(), backend, updates=args.updates)

        try:
            return asyncio.run(demo())
        except KeyboardInterrupt:
            return 130
    if args.command == "login":
        from lb_mcp.login import run_login

        return run_login(
            args.client_id,
            args.region,
            not args.no_browser,
            args.port,
            args.timeout,
            os.environ,
        )
    if args.command == "logout":
        from lb_mcp.login import run_logout

        return run_logout(args.client_id, args.region, os.environ)
    if args.command in ("halt", "resume"):
        from lb_mcp.server.gate import halt

        if args.command == "resume":
            return halt.run_resume(args.state_dir)
        code = halt.run_halt(args.state_dir, args.reason)
        return asyncio.run(_cancel_open(args)) if args.cancel_open else code
    if args.command == "approve":
        from lb_mcp.server.gate.records.approve_cli import run_approve

        return run_approve(args.id, args.decision, args.state_dir)
    if args.command == "audit":
        from lb_mcp.server.gate.records.audit_cli import run_audit

        return run_audit(args.since, args.state_dir)
    return 2


if __name__ == "__main__":
    sys.exit(main())
