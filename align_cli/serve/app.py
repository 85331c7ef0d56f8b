"""The HTTP face of :class:`~align_cli.serve.service.AlignmentService`, on Starlette.

Starlette is a small, well-kept ASGI toolkit (the core FastAPI is built on): routing,
requests, responses, static files and a lifespan hook, and nothing else. Validation is
pydantic's (:mod:`align_cli.serve.schemas`) and the OpenAPI description is built from the
same models, so a larger framework would add little but its own error formats; here
every error, from a bad token to a full queue, is one JSON shape,
``{"error": ..., "limit": ..., "max": ...}``.

Every endpoint but ``/health`` (and the static page, which holds no data: a browser cannot
attach a bearer token to a page load; the page sends the token on its API calls) needs
``Authorization: Bearer TOKEN`` when the service has a token. Bodies are read with a size
limit and a time limit, and JSON is parsed before it is validated, so that malformed JSON
is a 400 and a well-formed but invalid body a 422.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ValidationError
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from align_cli.serve.config import ServeConfig
from align_cli.serve.metrics import CONTENT_TYPE
from align_cli.serve.openapi import openapi_document
from align_cli.serve.schemas import AlignRequest, TransferRequest
from align_cli.serve.service import AlignmentService, Arrival, ClientGone, RequestError

STATIC = Path(__file__).with_name("static")
log = logging.getLogger("align_cli.serve")
Announce = Callable[[str], None]


class ModelResponse(Response):
    """A pydantic model as JSON (pydantic's serialiser: faster than ``json.dumps``)."""

    media_type = "application/json"

    def render(self, content: BaseModel) -> bytes:
        return content.model_dump_json(exclude_none=False).encode()


def _error(error: RequestError) -> JSONResponse:
    return JSONResponse(error.body(), status_code=error.status, headers=error.headers)


async def _read_body(request: Request, config: ServeConfig) -> bytes:
    limits = config.limits
    too_big = RequestError(
        413,
        f"the body is larger than {limits.max_body_bytes} bytes",
        limit="max_body_bytes",
        maximum=limits.max_body_bytes,
    )
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise RequestError(400, f"Content-Length {declared!r} is not a number")
        if int(declared) > limits.max_body_bytes:
            raise too_big  # refused before a byte of it is read

    async def collect() -> bytes:
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limits.max_body_bytes:
                raise too_big
            chunks.append(chunk)
        return b"".join(chunks)

    try:
        return await asyncio.wait_for(collect(), limits.body_timeout_s)
    except asyncio.TimeoutError:
        raise RequestError(
            408,
            f"the body did not arrive within {limits.body_timeout_s:g} s",
            limit="body_timeout_s",
            maximum=limits.body_timeout_s,
            headers={"Connection": "close"},
        ) from None


Parsed = TypeVar("Parsed", bound=BaseModel)


def _parse(model: type[Parsed], body: bytes) -> Parsed:
    try:
        return model.model_validate_json(body)
    except ValidationError as error:
        problems = error.errors(include_url=False, include_input=False)
        if any(p["type"] == "json_invalid" for p in problems):
            raise RequestError(400, f"malformed JSON: {problems[0]['msg']}") from None
        details = [
            {"loc": ".".join(str(part) for part in p["loc"]), "msg": p["msg"], "type": p["type"]}
            for p in problems
        ]
        first = details[0]
        where = f"{first['loc']}: " if first["loc"] else ""
        raise RequestError(
            422, f"invalid {model.__name__}: {where}{first['msg']}", details=details
        ) from None


def create_app(
    service: AlignmentService,
    config: ServeConfig | None = None,
    *,
    announce: Announce | None = None,
) -> Starlette:
    """The ASGI application. Its lifespan starts the model worker and, at shutdown, lets
    it finish every accepted request before it stops."""
    config = config or ServeConfig(limits=service.limits)
    metrics = service.metrics
    expected = f"Bearer {config.token}".encode() if config.token else None
    openapi = openapi_document(token_required=expected is not None)

    def authorised(request: Request) -> bool:
        if expected is None:
            return True
        given = request.headers.get("authorization", "").encode()
        return hmac.compare_digest(given, expected)

    def endpoint(
        name: str, handler: Callable[[Request], Awaitable[Response]], *, guarded: bool = True
    ) -> Callable[[Request], Awaitable[Response]]:
        """``handler`` with the token check, error responses and metrics around it."""

        async def run(request: Request) -> Response:
            started = time.perf_counter()
            try:
                if guarded and not authorised(request):
                    response: Response = JSONResponse(
                        {"error": "missing or wrong bearer token (Authorization: Bearer TOKEN)"},
                        status_code=401,
                        headers={"WWW-Authenticate": "Bearer"},
                    )
                else:
                    response = await handler(request)
            except RequestError as error:
                response = _error(error)
            except ClientGone:
                # Nobody reads this; it closes the exchange for the server.
                response = Response(status_code=499)
            except Exception as error:  # a bug: one JSON line for the client, the trace in the log
                log.exception("%s failed", name)
                response = JSONResponse(
                    {"error": f"internal error: {type(error).__name__}: {error}"}, status_code=500
                )
            metrics.requests.labels(name, str(response.status_code)).inc()
            metrics.latency.labels(name).observe(time.perf_counter() - started)
            return response

        return run

    def watch_disconnect(request: Request) -> Callable[[], Awaitable[object]]:
        async def wait() -> object:
            # Once the body is read, the next ASGI message is the client's disconnect.
            while True:
                message = await request.receive()
                if message["type"] == "http.disconnect":
                    return message

        return wait

    async def align(request: Request) -> Response:
        with Arrival(service) as arrival:
            body = await _read_body(request, config)
            parsed = _parse(AlignRequest, body)
            result = await service.align(parsed, watch_disconnect(request), arrival)
        return ModelResponse(result)

    async def transfer(request: Request) -> Response:
        with Arrival(service) as arrival:
            body = await _read_body(request, config)
            parsed = _parse(TransferRequest, body)
            result = await service.transfer(parsed, watch_disconnect(request), arrival)
        return ModelResponse(result)

    async def health(request: Request) -> Response:
        state = service.health()
        return ModelResponse(state, status_code=200 if state.ready else 503)

    async def metrics_text(request: Request) -> Response:
        return Response(metrics.render(), media_type=CONTENT_TYPE)

    async def openapi_json(request: Request) -> Response:
        return JSONResponse(openapi)

    async def page(request: Request) -> Response:
        return FileResponse(STATIC / "index.html")

    async def not_found(request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, HTTPException) else 500
        detail = exc.detail if isinstance(exc, HTTPException) else "internal error"
        return JSONResponse({"error": detail}, status_code=status)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        service.start()
        try:
            yield
        finally:
            # uvicorn gets here after in-flight requests are answered (or the graceful
            # timeout passed); anything still queued is finished before the worker stops.
            stopped = await asyncio.to_thread(service.stop, config.graceful_timeout_s)
            if announce is not None:
                announce(
                    f"stopped{'' if stopped else ' (the model worker did not finish)'}: "
                    f"{service.accepted} alignment jobs accepted, {service.answered} "
                    f"answered, {service.abandoned} abandoned by their clients"
                )

    routes = [
        Route("/", page, methods=["GET"]),
        Route("/align", endpoint("align", align), methods=["POST"]),
        Route("/transfer", endpoint("transfer", transfer), methods=["POST"]),
        Route("/health", endpoint("health", health, guarded=False), methods=["GET"]),
        Route("/metrics", endpoint("metrics", metrics_text), methods=["GET"]),
        Route("/openapi.json", endpoint("openapi", openapi_json), methods=["GET"]),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    return Starlette(
        routes=routes,
        lifespan=lifespan,
        exception_handlers={HTTPException: not_found},
    )
