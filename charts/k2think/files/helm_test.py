"""`helm test`: every role reports SERVING over grpc.health.v1 and the gateway answers one chat completion.

Runs in the k2think image with the release's K2_ settings (addresses, token file, TLS files); GATEWAY_GRPC and
GATEWAY_URL name the gateway, TIMEOUT_S bounds the completion. Prints one JSON line; exits 1 on any failure.
"""

from __future__ import annotations

import asyncio
import json
import os
import ssl
import sys

import httpx
from grpc_health.v1 import health_pb2, health_pb2_grpc

from services.remote import open_channel
from services.runtime import load_token
from services.settings import ServiceSettings

PROBLEM = "What is 2 + 2? Answer with the number only."


async def health(address: str, settings: ServiceSettings) -> str:
    """The overall status name grpc.health.v1 reports at ``address``."""
    async with open_channel(address, settings) as channel:
        reply = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=10)
    return health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)


async def chat(url: str, settings: ServiceSettings, timeout_s: float) -> str:
    """One non-streaming /v1/chat/completions call; the answer text."""
    server = settings.server
    verify: ssl.SSLContext | bool = True
    if url.startswith("https://"):
        verify = ssl.create_default_context(cafile=server.tls_ca_file or server.tls_cert_file)
    token = load_token(server)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    body = {"model": "k2think", "messages": [{"role": "user", "content": PROBLEM}], "max_tokens": 64}
    async with httpx.AsyncClient(verify=verify, timeout=timeout_s) as client:
        response = await client.post(f"{url.rstrip('/')}/v1/chat/completions", json=body, headers=headers)
    response.raise_for_status()
    message = response.json()["choices"][0]["message"]
    return message.get("content") or message.get("reasoning_content") or ""


async def main() -> int:
    settings = ServiceSettings()
    server = settings.server
    roles = {
        "gateway": os.environ["GATEWAY_GRPC"],
        "planner": server.planner_address,
        "judge": server.judge_address,
        **{f"solver[{i}]": address for i, address in enumerate(server.solver_addresses)},
    }
    report: dict[str, object] = {}
    failed = False
    for role, address in roles.items():
        try:
            report[role] = await health(address, settings)
        except Exception as exc:  # any failure is the test's result, reported by role
            report[role] = f"error: {exc}"
        failed |= report[role] != "SERVING"
    try:
        answer = await chat(os.environ["GATEWAY_URL"], settings, float(os.environ.get("TIMEOUT_S", "300")))
        report["chat_completion"] = answer[:200]
        failed |= not answer.strip()
    except Exception as exc:
        report["chat_completion"] = f"error: {exc!r}"
        failed = True
    print(json.dumps({"ok": not failed, **report}))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
