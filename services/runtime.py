"""grpc.aio bootstrap shared by every server: health, reflection, auth, error mapping, limits, metrics, drain."""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import math
import signal
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import h11
import uvicorn
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from prometheus_client import make_asgi_app
from uvicorn.protocols.http.h11_impl import H11Protocol

from k2core.config import LimitsSettings
from k2core.engines.base import Engine
from k2core.errors import OverloadedError, ValidationError
from k2core.types import Message, SamplingParams
from services import calls, convert, errors, telemetry
from services.settings import ServerSettings, ServiceSettings

log = logging.getLogger("k2think.runtime")
HEALTH_SERVICE = health_pb2.DESCRIPTOR.services_by_name["Health"].full_name
_EXEMPT = (f"/{HEALTH_SERVICE}/", f"/{reflection.SERVICE_NAME}/", "/grpc.reflection.v1.ServerReflection/")
_SERVING = health_pb2.HealthCheckResponse.SERVING
_NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING
LIVENESS_SERVICE = "k2think.liveness"  # grpc.health.v1 name the liveness probe asks: the engine answers in time
LIVENESS_PERIOD_S = 10.0
LIVENESS_TIMEOUT_S = 5.0
_WARM_UP = ([Message(role="user", content="Say OK.")], SamplingParams(temperature=0.0, max_tokens=1))

Behavior = Callable[[Any, grpc.aio.ServicerContext], Any]
Closer = Callable[[], Awaitable[None]]


def grpc_options(limits: LimitsSettings) -> list[tuple[str, int]]:
    """Options both ends share: message size limits both ways."""
    return [
        ("grpc.max_send_message_length", limits.grpc_max_message_bytes),
        ("grpc.max_receive_message_length", limits.grpc_max_message_bytes),
    ]


def server_options(limits: LimitsSettings) -> list[tuple[str, int]]:
    """Server options: size limits, and a maximum connection age so clients re-resolve and reach new pods."""
    return grpc_options(limits) + [
        ("grpc.max_connection_age_ms", limits.max_connection_age_s * 1000),
        ("grpc.max_connection_age_grace_ms", limits.max_connection_age_grace_s * 1000),
    ]


def channel_options(limits: LimitsSettings) -> list[tuple[str, int | str]]:
    """Client options: size limits, round-robin over every address DNS returns (headless Services), and
    connections of the channel's own: with gRPC's default process-wide subchannel pool, a new channel to an
    address that another channel holds in connect backoff (a pod restarted on the same IP:port) failed at once
    with UNAVAILABLE although the server was up."""
    return [*grpc_options(limits), ("grpc.lb_policy_name", "round_robin"), ("grpc.use_local_subchannel_pool", 1)]


def load_token(server: ServerSettings) -> str | None:
    """The bearer token: from the mounted secret file when set, else ``server.auth_token``; None disables auth."""
    if server.auth_token_file:
        return Path(server.auth_token_file).read_text().strip() or None
    return server.auth_token or None


def token_matches(header: str | None, token: str) -> bool:
    """Whether an ``authorization`` value is ``Bearer <token>``, compared in constant time."""
    return hmac.compare_digest((header or "").encode(), f"Bearer {token}".encode())


class CallInterceptor(grpc.aio.ServerInterceptor):
    """Wraps every non-exempt RPC: auth, request id, deadline, span, admission, error mapping, metrics, log line.

    ``echo_request_id`` sends the request id back as initial metadata before the reply: the public edge (the
    gateway) does it for callers that sent none; internal services skip it, since their caller set the id and a
    separate metadata write costs a round of the event loop on every hop.
    """

    def __init__(self, admission: calls.Admission, token: str | None, echo_request_id: bool = True) -> None:
        self.admission = admission
        self.token = token
        self.echo_request_id = echo_request_id

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(details)
        if handler is None or details.method.startswith(_EXEMPT):
            return handler
        codec = {
            "request_deserializer": _guarded(handler.request_deserializer),
            "response_serializer": handler.response_serializer,
        }
        if handler.unary_unary:
            return grpc.unary_unary_rpc_method_handler(self._unary(details.method, handler.unary_unary), **codec)
        if handler.unary_stream:
            return grpc.unary_stream_rpc_method_handler(self._stream(details.method, handler.unary_stream), **codec)
        return handler

    def _unary(self, method: str, behavior: Behavior) -> Behavior:
        async def run(request: Any, context: grpc.aio.ServicerContext) -> Any:
            with self._call(method, context) as record:
                try:
                    await self._admit(context, request)
                    with self.admission.slot():
                        return await behavior(request, context)
                except Exception as exc:
                    await _abort(context, exc, record)

        return run

    def _stream(self, method: str, behavior: Behavior) -> Behavior:
        async def run(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
            with self._call(method, context) as record:
                try:
                    await self._admit(context, request)
                    with self.admission.slot():
                        async for response in behavior(request, context):
                            yield response
                except Exception as exc:
                    await _abort(context, exc, record)

        return run

    @contextlib.contextmanager
    def _call(self, method: str, context: grpc.aio.ServicerContext) -> Iterator[dict[str, Any]]:
        metadata = {key: value for key, value in context.invocation_metadata() or () if isinstance(value, str)}
        with calls.scope(self.admission.subsystem, method, metadata, context.time_remaining()) as record:
            try:
                yield record
            except asyncio.CancelledError:
                remaining = context.time_remaining()
                record["code"] = "DEADLINE_EXCEEDED" if remaining is not None and remaining <= 0 else "CANCELLED"
                raise

    async def _admit(self, context: grpc.aio.ServicerContext, request: Any) -> None:
        """Send the request id (at the edge); refuse a call without the token, then one whose message did not parse."""
        if self.echo_request_id:
            await context.send_initial_metadata(((calls.REQUEST_ID_KEY, calls.request_id() or ""),))
        if self.token is not None:
            header = dict(context.invocation_metadata() or ()).get("authorization")
            if not token_matches(header if isinstance(header, str) else None, self.token):
                raise errors.Unauthenticated("missing or invalid bearer token")
        if isinstance(request, _Undecodable):
            raise request.error


@dataclass
class _Undecodable:
    """A request message that did not parse; the call ends with INVALID_ARGUMENT naming the bad field."""

    error: ValidationError


def _guarded(deserializer: Callable[[bytes], Any] | None) -> Callable[[bytes], Any] | None:
    """A deserializer that hands the call an ``_Undecodable`` instead of failing it as UNKNOWN/INTERNAL."""
    if deserializer is None:
        return None

    def parse(data: bytes) -> Any:
        try:
            return deserializer(data)
        except Exception:
            return _Undecodable(convert.undecodable(data, deserializer.__self__.DESCRIPTOR))  # type: ignore[attr-defined]

    return parse


async def _abort(context: grpc.aio.ServicerContext, exc: Exception, record: dict[str, Any]) -> None:
    """Record the failure and end the call with its mapped status."""
    code, message = errors.kind_of(exc).grpc_code, errors.grpc_message(exc)
    record.update(code=code.name, error=message)
    if errors.kind_of(exc) is errors.INTERNAL:
        log.error("unexpected error in %s", record["method"], exc_info=exc)
    await context.abort(code, message, trailing_metadata=_trailing(exc))


def _trailing(exc: Exception) -> tuple[tuple[str, str], ...]:
    """Machine-readable details: the bad field, or how long to wait before retrying."""
    if isinstance(exc, ValidationError):
        return ((errors.FIELD_KEY, exc.field),)
    if isinstance(exc, OverloadedError):
        return (("retry-after", str(max(1, math.ceil(exc.retry_after_s)))),)
    return ()


class GrpcServer:
    """One grpc.aio server: the call interceptor, health and reflection; drains on stop.

    Readiness (the server name ``""`` and each service) is SERVING once started, or, for a server that
    ``watch``es an engine, once that engine has loaded and answered a warm-up generation. ``LIVENESS_SERVICE``
    is SERVING while the process is up and, after the warm-up, while the engine's ``health()`` answers True
    within ``LIVENESS_TIMEOUT_S`` (checked every ``LIVENESS_PERIOD_S``): a wedged engine fails liveness.
    """

    def __init__(self, subsystem: str, settings: ServiceSettings, port: int) -> None:
        self.settings = settings
        self.admission = calls.Admission(subsystem, settings.limits.max_inflight)
        interceptor = CallInterceptor(
            self.admission, load_token(settings.server), echo_request_id=subsystem == "gateway"
        )
        self.server = grpc.aio.server(interceptors=[interceptor], options=server_options(settings.limits))
        self.health = health.aio.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self.server)
        self.services: list[str] = []
        self.engine: Engine | None = None
        self._watcher: asyncio.Task[None] | None = None
        self.port = self._bind(f"{settings.server.host}:{port}")
        self.health_server = self._health_server(settings.server.health_port)

    def add(self, register: Callable[[Any, grpc.aio.Server], None], servicer: Any, service_name: str) -> None:
        """Register a servicer with its generated ``add_*Servicer_to_server`` function."""
        register(servicer, self.server)
        self.services.append(service_name)

    def watch(self, engine: Engine) -> None:
        """Gate readiness on ``engine`` (loaded and warm) and liveness on its health; call before ``start``."""
        self.engine = engine

    async def start(self) -> None:
        """Enable reflection, start listening and report health: SERVING, or NOT_SERVING while the engine warms up."""
        reflection.enable_server_reflection([*self.services, HEALTH_SERVICE, reflection.SERVICE_NAME], self.server)
        await self.server.start()
        if self.health_server:
            await self.health_server.start()
        await self.health.set(LIVENESS_SERVICE, _SERVING)
        await self._set_ready(_NOT_SERVING if self.engine else _SERVING)
        if self.engine:
            self._watcher = asyncio.create_task(self._watch(self.engine))

    async def stop(self, grace_s: float | None = None) -> None:
        """Report NOT_SERVING, send GOAWAY (clients move to another replica) and refuse new calls, let those in
        flight finish within the grace period, stop."""
        grace = self.settings.server.grace_period_s if grace_s is None else grace_s
        if self._watcher:
            self._watcher.cancel()
            await asyncio.gather(self._watcher, return_exceptions=True)
        await self._set_ready(_NOT_SERVING)
        stopping = asyncio.ensure_future(self.server.stop(grace))  # GOAWAY now; calls in flight get ``grace``
        if not await self.admission.drain(grace):
            log.warning("grace period of %.1fs passed with %d calls in flight", grace, self.admission.inflight)
        await stopping
        if self.health_server:
            await self.health_server.stop(0)

    async def _set_ready(self, status: int) -> None:
        for name in ("", *self.services):
            await self.health.set(name, status)

    async def _watch(self, engine: Engine) -> None:
        """Load and warm up ``engine``, then report ready and keep liveness current; a failed warm-up fails
        liveness (the kubelet restarts the container) and readiness stays NOT_SERVING."""
        try:
            await engine.load()
            await engine.generate(*_WARM_UP)
        except Exception:
            log.exception("the %s engine failed to load or warm up", self.admission.subsystem)
            await self.health.set(LIVENESS_SERVICE, _NOT_SERVING)
            return
        await self._set_ready(_SERVING)
        while True:
            await asyncio.sleep(LIVENESS_PERIOD_S)
            await self.health.set(LIVENESS_SERVICE, _SERVING if await _answers(engine) else _NOT_SERVING)

    def _bind(self, address: str) -> int:
        server = self.settings.server
        if not server.tls_cert_file:
            return self.server.add_insecure_port(address)
        if not server.tls_key_file:
            raise ValueError("server.tls_key_file is required with server.tls_cert_file")
        key, cert = Path(server.tls_key_file).read_bytes(), Path(server.tls_cert_file).read_bytes()
        return self.server.add_secure_port(address, grpc.ssl_server_credentials([(key, cert)]))

    def _health_server(self, port: int | None) -> grpc.aio.Server | None:
        """A plaintext server with only grpc.health.v1 (same statuses) for kubelet probes, which cannot speak TLS."""
        if port is None:
            return None
        server = grpc.aio.server()
        health_pb2_grpc.add_HealthServicer_to_server(self.health, server)
        self.health_port = server.add_insecure_port(f"{self.settings.server.host}:{port}")
        return server


async def _answers(engine: Engine) -> bool:
    """Whether ``engine.health()`` is True within ``LIVENESS_TIMEOUT_S``."""
    try:
        async with asyncio.timeout(LIVENESS_TIMEOUT_S):
            return await engine.health()
    except Exception:
        log.warning("engine health check failed or took over %.1fs", LIVENESS_TIMEOUT_S, exc_info=True)
        return False


class HttpServer(uvicorn.Server):
    """uvicorn inside our event loop; signals are ours, so it installs no handlers of its own."""

    _task: asyncio.Task[None]

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield

    async def start(self) -> None:
        """Serve in the background once the socket is bound."""
        self._task = asyncio.create_task(self.serve())
        while not self.started:
            if self._task.done():
                self._task.result()
                raise RuntimeError(f"HTTP server on port {self.config.port} stopped before it started")
            await asyncio.sleep(0.01)

    @property
    def port(self) -> int:
        """The bound port (useful when configured as 0)."""
        return self.servers[0].sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """Finish open requests and stop."""
        self.should_exit = True
        await self._task


class HeaderDeadlineH11(H11Protocol):
    """uvicorn's h11 protocol, closing a connection that has no response under way and has not delivered a whole
    request head within ``read_timeout_s`` of opening or of its last response (slow or half-open senders)."""

    read_timeout_s: float = 10.0
    _deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)  # type: ignore[arg-type]
        self._arm()

    def handle_events(self) -> None:
        super().handle_events()
        if self._deadline is not None and self.cycle is not None and not self.cycle.response_complete:
            self._deadline.cancel()
            self._deadline = None

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if self.cycle is None or self.cycle.response_complete:
            self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
        super().connection_lost(exc)

    def _arm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
        self._deadline = self.loop.call_later(self.read_timeout_s, self._expire)

    def _expire(self) -> None:
        self._deadline = None
        if (self.cycle is None or self.cycle.response_complete) and not self.transport.is_closing():
            if self.conn.our_state not in (h11.ERROR, h11.CLOSED, h11.MUST_CLOSE):
                self.conn.send(h11.ConnectionClosed())
            self.transport.close()


class HeadLimit:
    """ASGI middleware: 431 for a request whose header lines together pass ``limit`` bytes (h11 bounds only heads
    still arriving)."""

    def __init__(self, app: Any, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and sum(len(k) + len(v) + 4 for k, v in scope["headers"]) > self.limit:
            body = json.dumps(
                {
                    "error": {
                        "message": f"request headers exceed {self.limit} bytes (limits.http_max_header_bytes)",
                        "type": "invalid_request_error",
                        "param": None,
                        "code": "headers_too_large",
                    }
                }
            ).encode()
            headers = [(b"content-type", b"application/json"), (b"connection", b"close")]
            await send({"type": "http.response.start", "status": 431, "headers": headers})
            await send({"type": "http.response.body", "body": body})
            return
        await self.app(scope, receive, send)


def http_server(
    app: Any, host: str, port: int, limits: LimitsSettings, tls: ServerSettings | None = None
) -> HttpServer:
    """An HTTP server for an ASGI app on ``host:port`` (no access log: requests log their own line); HTTPS when
    ``tls`` names a certificate and key. Request heads are capped at ``limits.http_max_header_bytes`` (431 beyond)
    and must arrive within ``limits.http_read_timeout_s``; idle keep-alive connections close after 5 s."""
    cert, key = (tls.tls_cert_file, tls.tls_key_file) if tls else (None, None)
    if cert and not key:
        raise ValueError("server.tls_key_file is required with server.tls_cert_file")
    protocol = type("HttpProtocol", (HeaderDeadlineH11,), {"read_timeout_s": limits.http_read_timeout_s})
    return HttpServer(
        uvicorn.Config(
            HeadLimit(app, limits.http_max_header_bytes),
            host=host,
            port=port,
            access_log=False,
            log_level="warning",
            lifespan="off",
            ssl_certfile=cert,
            ssl_keyfile=key if cert else None,
            http=protocol,
            h11_max_incomplete_event_size=limits.http_max_header_bytes,
            timeout_keep_alive=5,
        )
    )


def metrics_server(host: str, port: int, limits: LimitsSettings) -> HttpServer:
    """Prometheus ``/metrics`` over HTTP for the gRPC-only services."""
    return http_server(make_asgi_app(), host, port, limits)


@dataclass
class Service:
    """One role's process: its gRPC server, HTTP servers beside it, and what to close after them."""

    grpc: GrpcServer
    http: dict[str, HttpServer] = field(default_factory=dict)
    closers: list[Closer] = field(default_factory=list)

    async def start(self) -> None:
        await self.grpc.start()
        for server in self.http.values():
            await server.start()

    async def stop(self, grace_s: float | None = None) -> None:
        """Drain gRPC (health NOT_SERVING, in-flight calls finish), stop HTTP, then close the engines/channels."""
        await self.grpc.stop(grace_s)
        for server in self.http.values():
            await server.stop()
        for close in self.closers:
            await close()

    def endpoints(self) -> dict[str, str]:
        """Where it listens: ``grpc`` and each HTTP server by name."""
        host = self.grpc.settings.server.host
        return {
            "grpc": f"{host}:{self.grpc.port}",
            **{name: f"http://{host}:{s.port}" for name, s in self.http.items()},
        }


def configure_observability(role: str, settings: ServiceSettings) -> None:
    """Log lines (one JSON line per request) to stderr; spans to OTLP when ``server.otlp_endpoint`` is set."""
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if settings.server.otlp_endpoint:
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        telemetry.configure_tracing(f"k2think-{role}", OTLPSpanExporter(endpoint=settings.server.otlp_endpoint))


async def serve_until_signal(build: Callable[[], Service], on_ready: Callable[[Service], None]) -> None:
    """Build and start a service, call ``on_ready``, and on SIGTERM or SIGINT drain and stop it."""
    loop = asyncio.get_running_loop()
    stopping = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopping.set)
    service = build()
    await service.start()
    on_ready(service)
    await stopping.wait()
    await service.stop()
