"""Running the service on uvicorn: in the foreground (``xalign serve``) or in a thread.

uvicorn is the reference ASGI server of the Starlette project: one event loop, HTTP/1.1
through h11, and a graceful shutdown that closes the listening sockets, lets in-flight
requests finish (up to a timeout) and then runs the application's lifespan shutdown,
which is where the model worker drains its queue. :class:`_Server` adds two things: the
address actually bound (``--port 0`` picks a free port) is announced once the sockets
are open, and the service stops taking new requests the moment SIGTERM arrives, not only
once the sockets are closed.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from types import FrameType, TracebackType

import uvicorn

from align_cli.serve.app import create_app
from align_cli.serve.config import ServeConfig
from align_cli.serve.service import AlignmentService

Announce = Callable[[str], None]


class _Server(uvicorn.Server):
    def __init__(
        self, config: uvicorn.Config, service: AlignmentService, announce: Announce | None
    ):
        super().__init__(config)
        self.service = service
        self.announce = announce
        self.bound: tuple[str, int] | None = None

    async def startup(self, sockets=None) -> None:  # type: ignore[no-untyped-def]
        await super().startup(sockets)
        if self.servers and self.servers[0].sockets:
            host, port = self.servers[0].sockets[0].getsockname()[:2]
            self.bound = (host, port)
            if self.announce is not None:
                shown = f"[{host}]" if ":" in host else host
                self.announce(
                    f"listening on http://{shown}:{port}/ (model {self.service.spec.model})"
                )

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        self.service.begin_shutdown()
        super().handle_exit(sig, frame)


def _uvicorn_config(app, config: ServeConfig, log_level: str) -> uvicorn.Config:  # type: ignore[no-untyped-def]
    return uvicorn.Config(
        app,
        host=config.host,
        port=config.port,
        log_level=log_level,
        lifespan="on",
        limit_concurrency=config.limit_concurrency,
        timeout_graceful_shutdown=config.graceful_timeout_s,
        # The service answers with its own JSON; uvicorn's access log would print a line
        # per segment.
        access_log=False,
        server_header=False,
    )


def serve(
    service: AlignmentService,
    config: ServeConfig,
    *,
    announce: Announce | None = None,
    log_level: str = "warning",
) -> None:
    """Run until SIGTERM or Ctrl-C, then finish every accepted request and return."""
    app = create_app(service, config, announce=announce)
    _Server(_uvicorn_config(app, config, log_level), service, announce).run()


class BackgroundServer:
    """The service on a loopback port in a thread of this process (tests, notebooks).

    ``with BackgroundServer(service) as server: httpx.get(server.url + "health")``; the
    port is free one picked by the system unless ``config`` names one.
    """

    def __init__(self, service: AlignmentService, config: ServeConfig | None = None):
        config = config or ServeConfig(port=0, limits=service.limits)
        self.service = service
        self.config = config
        self._server = _Server(
            _uvicorn_config(create_app(service, config), config, "error"), service, None
        )
        self._thread = threading.Thread(target=self._server.run, name="xalign-serve", daemon=True)

    @property
    def url(self) -> str:
        assert self._server.bound is not None, "the server is not started"
        host, port = self._server.bound
        return f"http://{host}:{port}/"

    def start(self, timeout: float = 30.0) -> BackgroundServer:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started and self._thread.is_alive():
            if time.monotonic() > deadline:
                break
            time.sleep(0.01)
        if not self._server.started:
            raise RuntimeError("the server did not start")
        return self

    def stop(self, timeout: float = 30.0) -> None:
        """What SIGTERM does: refuse new requests, finish the accepted ones, stop."""
        self.service.begin_shutdown()
        self._server.should_exit = True
        self._thread.join(timeout)

    def __enter__(self) -> BackgroundServer:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
