"""The `helm test` Pod: rendered with the release's settings, and its script passes against a running stack and
fails, naming the role, when a role is down."""

from __future__ import annotations

import asyncio
import json
import os
import sys

import httpx

from tests.charts.conftest import CHART, NAMESPACE, RELEASE
from tests.services.harness import start_stack

SCRIPT = CHART / "files" / "helm_test.py"


def test_test_pod_runs_the_script_with_the_release_settings(render):
    m = render("hardened-minimal")
    pod = m.one("Pod")
    assert pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
    (container,) = pod["spec"]["containers"]
    assert container["command"] == ["python", "-c", SCRIPT.read_text()]
    assert container["image"] == m.container("gateway")["image"]
    env = {e["name"]: e["value"] for e in container["env"]}
    assert env["GATEWAY_GRPC"] == f"{RELEASE}-k2think-gateway.{NAMESPACE}.svc:50051"
    assert env["GATEWAY_URL"] == f"https://{RELEASE}-k2think-gateway-http.{NAMESPACE}.svc:80"
    assert container["envFrom"] == m.container("gateway")["envFrom"]
    gateway_mounts = {v["mountPath"] for v in m.container("gateway")["volumeMounts"]} - {"/home/k2think"}
    assert {v["mountPath"] for v in container["volumeMounts"]} == gateway_mounts
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert not render({"helmTest": {"enabled": False}}).kind("Pod")


async def _run_script(env: dict[str, str]) -> tuple[int, dict]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(SCRIPT),
        env={**{k: v for k, v in os.environ.items() if not k.startswith("K2_")}, **env},
        stdout=asyncio.subprocess.PIPE,
    )
    out, _ = await asyncio.wait_for(process.communicate(), timeout=60)
    return process.returncode or 0, json.loads(out.decode().strip().splitlines()[-1])


def _env(stack, solver: str) -> dict[str, str]:
    server = stack.settings.server
    return {
        "GATEWAY_GRPC": stack.target,
        "GATEWAY_URL": stack.http,
        "TIMEOUT_S": "30",
        "K2_SERVER__PLANNER_ADDRESS": server.planner_address,
        "K2_SERVER__JUDGE_ADDRESS": server.judge_address,
        "K2_SERVER__SOLVER_ADDRESSES": json.dumps([solver]),
    }


async def test_script_passes_on_a_healthy_stack_and_names_a_dead_role():
    stack = await start_stack()
    try:
        code, report = await _run_script(_env(stack, stack.settings.server.solver_addresses[0]))
        assert code == 0, report
        assert report["ok"] is True and report["solver[0]"] == "SERVING" and report["chat_completion"]
        async with httpx.AsyncClient(timeout=10) as client:
            scraped = (await client.get(f"{stack.http}/metrics")).text
        # The dashboard's gateway series exist once the test's request went through.
        assert 'k2think_gateway_selections_total{method="' in scraped
        assert 'k2think_gateway_request_seconds_bucket{le="' in scraped
        code, report = await _run_script(_env(stack, "127.0.0.1:1"))
        assert code == 1
        assert report["ok"] is False and report["solver[0]"].startswith("error:")
        assert report["planner"] == "SERVING"
    finally:
        await stack.stop()
