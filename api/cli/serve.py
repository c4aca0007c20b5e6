"""``regentrace serve``: GraphQL over HTTP, in one serving process or several."""

from __future__ import annotations

import argparse
import gc
from typing import TYPE_CHECKING, Any

from api.cli.common import load_settings, say
from api.cli.errors import CommandError

if TYPE_CHECKING:
    from fastapi import FastAPI

    from api.settings import Settings


def add_serve(commands: Any) -> None:
    serve = commands.add_parser("serve", help="serve GraphQL over HTTP")
    serve.description = (
        "Serve GraphQL at /graphql (GraphiQL in development), /healthz and /readyz. "
        "In development pending migrations are applied first; production expects "
        "`regentrace migrate` to have run."
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000, help="port to listen on (8000)")
    serve.add_argument(
        "--workers",
        type=int,
        default=1,
        help="serving processes sharing the port (1); rate limits are counted per process",
    )
    serve.add_argument(
        "--migrate",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="apply pending migrations before serving (default: in development only)",
    )
    serve.set_defaults(run=cmd_serve)


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from api import logs
    from api.wiring import Regentrace, migrate

    settings = load_settings()
    logs.configure(json_lines=settings.json_logs)
    if args.workers < 1:
        raise CommandError("--workers must be 1 or more")
    if args.migrate or (args.migrate is None and not settings.is_production):
        migrate(settings.database, lambda m: say(f"migrate: {m}"))
    # Reach the database before listening, so a server that cannot start says why and exits 4
    # (the same failure inside the server's startup would be a traceback).
    Regentrace(settings).close()
    _announce(settings, args)
    options: dict[str, Any] = {"host": args.host, "port": args.port, "log_config": None}
    if args.workers > 1:
        # Each worker process builds its own app from the same environment.
        uvicorn.run(
            "api.cli.serve:worker_app",
            factory=True,
            workers=args.workers,
            access_log=False,
            **options,
        )
    else:
        uvicorn.run(worker_app(settings), access_log=False, **options)
    return 0


def _announce(settings: Settings, args: argparse.Namespace) -> None:
    host = "localhost" if args.host in ("127.0.0.1", "0.0.0.0") else args.host  # noqa: S104
    say(f"regentrace: serving {settings.database.describe()}")
    if args.workers > 1:
        say(f"regentrace: {args.workers} worker processes (each with its own rate limits)")
    if settings.graphiql_enabled:
        say(f"regentrace: GraphiQL at http://{host}:{args.port}/graphql")
    else:
        say(f"regentrace: GraphQL at http://{host}:{args.port}/graphql")


def worker_app(settings: Settings | None = None) -> FastAPI:
    """The app one serving process runs (``serve --workers N`` starts N of them)."""
    from api import logs
    from api.app import create_app

    settings = settings or load_settings()
    logs.configure(json_lines=settings.json_logs)
    app = create_app(settings)
    # Everything loaded so far (modules, schema, settings) lives as long as the process: leave
    # it out of garbage collection, whose full passes over it were the tail of read latency.
    gc.collect()
    gc.freeze()
    return app
