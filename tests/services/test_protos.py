"""Generated code is fresh, and a client that knows only reflection can call Reasoner.Solve."""

from __future__ import annotations

import asyncio
import filecmp
from pathlib import Path

import grpc
from google.protobuf import descriptor_pool, json_format, message_factory
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import ProtoReflectionDescriptorDatabase

from services.gen_protos import DEFAULT_OUT, generate
from tests.services.harness import Stack


def test_generated_code_matches_the_protos(tmp_path: Path) -> None:
    fresh = {p.relative_to(tmp_path) for p in generate(tmp_path)}
    checked_in = {p.relative_to(DEFAULT_OUT) for p in DEFAULT_OUT.rglob("*.py*")}
    assert fresh == checked_in, "services/gen is stale: run `make protos` (the pinned grpcio-tools)"
    stale = [str(p) for p in sorted(fresh) if not filecmp.cmp(tmp_path / p, DEFAULT_OUT / p, shallow=False)]
    assert not stale, f"services/gen is stale ({', '.join(stale)}): run `make protos` with the pinned grpcio-tools"


def solve_by_reflection(target: str, request: dict) -> dict:
    """Call Reasoner.Solve with messages built only from the server's reflection (no project stubs)."""
    with grpc.insecure_channel(target) as channel:
        pool = descriptor_pool.DescriptorPool(ProtoReflectionDescriptorDatabase(channel))
        method = pool.FindServiceByName("k2think.v1.Reasoner").FindMethodByName("Solve")
        request_class = message_factory.GetMessageClass(method.input_type)
        reply_class = message_factory.GetMessageClass(method.output_type)
        solve = channel.unary_unary(
            "/k2think.v1.Reasoner/Solve",
            request_serializer=lambda m: m.SerializeToString(),
            response_deserializer=reply_class.FromString,
        )
        return json_format.MessageToDict(solve(json_format.ParseDict(request, request_class()), timeout=10))


async def test_a_reflection_only_client_gets_a_full_answer(stack: Stack) -> None:
    reply = await asyncio.to_thread(
        solve_by_reflection, stack.target, {"problem": "What is 2 + 2?", "n": 2, "params": {"seed": 1}}
    )
    assert reply["answer"] in {"4", "5"} and len(reply["candidates"]) == 2 and "total" in reply["usage"]
