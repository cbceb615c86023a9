"""Optional TLS from a mounted certificate and key: every hop encrypted, plaintext refused."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import grpc
import pytest

from k2core.pipeline import SolveRequest
from services.gen.k2think.v1 import reasoner_pb2, reasoner_pb2_grpc
from services.remote import solve_remote
from tests.services.harness import make_settings, start_stack


@pytest.fixture
def certificate(tmp_path: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and its key."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    cert, key = tmp_path / "tls.crt", tmp_path / "tls.key"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=IP:127.0.0.1,DNS:localhost",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


async def test_stack_over_tls(certificate: tuple[Path, Path]) -> None:
    cert, key = certificate
    stack = await start_stack(make_settings(tls_cert_file=str(cert), tls_key_file=str(key)))
    try:
        request = SolveRequest.from_settings("What is 2 + 2?", stack.settings, n=2, seed=1)
        result = await solve_remote(stack.target, request, stack.settings)
        assert result.answer in {"4", "5"} and result.selection.comparisons
        async with grpc.aio.insecure_channel(stack.target) as channel:
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await reasoner_pb2_grpc.ReasonerStub(channel).Solve(
                    reasoner_pb2.SolveRequest(problem="2+2?"), timeout=2
                )
        assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
    finally:
        await stack.stop()
