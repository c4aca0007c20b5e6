"""The stack's floor: a bare FastAPI + strawberry app answering ``{ __typename }``, served by
uvicorn as ``regentrace serve`` serves the product (one process, no access log), with none of the
product's middleware, authentication, limits or schema. What no request to the product can beat.

    python -m bench.bare --port 8100
"""

from __future__ import annotations

import argparse

import strawberry
import uvicorn
from fastapi import FastAPI
from strawberry.fastapi import GraphQLRouter


@strawberry.type
class Query:
    @strawberry.field
    def ok(self) -> bool:
        return True


def create_app() -> FastAPI:
    app = FastAPI()
    app.include_router(GraphQLRouter(strawberry.Schema(query=Query)), prefix="/graphql")

    @app.get("/readyz")
    async def readyz() -> dict[str, str]:
        return {"status": "ready"}

    return app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.bare", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    uvicorn.run(create_app(), host=args.host, port=args.port, access_log=False, log_config=None)


if __name__ == "__main__":
    main()
