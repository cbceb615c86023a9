"""The services' settings: k2core's ``Settings`` plus ``server`` (addresses, ports, auth, TLS, telemetry).

Only the services read these; ``ServiceSettings()`` is built at the edges (the CLI commands) from ``K2_...``
env vars like the library's tree, e.g. ``K2_SERVER__AUTH_TOKEN_FILE``.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from k2core.config import Settings

__all__ = ["ServerSettings", "ServiceSettings"]


class ServerSettings(BaseModel):
    """Addresses, ports, auth, TLS and telemetry of the services."""

    host: str = Field(default="127.0.0.1", description="address every server binds")
    gateway_grpc_port: int = Field(default=50051, description="gateway gRPC (Reasoner) port")
    gateway_http_port: int = Field(default=8000, description="gateway HTTP port (OpenAI facade, /metrics)")
    planner_port: int = Field(default=50052, description="planner gRPC port")
    solver_port: int = Field(default=50053, description="solver gRPC port")
    judge_port: int = Field(default=50054, description="judge gRPC port")
    planner_metrics_port: int = Field(default=9052, description="planner /metrics port")
    solver_metrics_port: int = Field(default=9053, description="solver /metrics port")
    judge_metrics_port: int = Field(default=9054, description="judge /metrics port")
    planner_address: str = Field(default="127.0.0.1:50052", description="where the gateway calls the planner")
    solver_addresses: list[str] = Field(
        default_factory=lambda: ["127.0.0.1:50053"],
        description="where the gateway calls solvers (JSON list in env; a name resolving to several pods balances)",
    )
    judge_address: str = Field(default="127.0.0.1:50054", description="where the gateway calls the judge")
    auth_token: str | None = Field(default=None, description="bearer token required on every RPC and /v1/*")
    auth_token_file: str | None = Field(default=None, description="file holding that token (a mounted Secret)")
    tls_cert_file: str | None = Field(default=None, description="TLS certificate; set: every server speaks TLS")
    tls_key_file: str | None = Field(default=None, description="TLS private key")
    tls_ca_file: str | None = Field(default=None, description="CA that clients trust; none: the certificate itself")
    otlp_endpoint: str | None = Field(default=None, description="OTLP gRPC endpoint for traces; none: no export")
    grace_period_s: float = Field(
        default=10.0, description="seconds calls in flight get to finish on shutdown (after GOAWAY)"
    )
    health_port: int | None = Field(
        default=None, description="plaintext grpc.health.v1-only port for kubelet probes; none: no such port"
    )


class ServiceSettings(Settings):
    """Everything a k2think service reads: the library's settings and the server section."""

    server: ServerSettings = Field(default_factory=ServerSettings, description="services: ports, auth, TLS, telemetry")
