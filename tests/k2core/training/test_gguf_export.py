"""GGUF export on a tiny random Qwen2: every transformers tensor lands under llama.cpp's name with the base file's
shape and order, 2-D weights as F16 and 1-D ones as F32, and the base file's metadata is carried over."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from k2core.training.gguf_export import QUANT_TYPES, quantize, write_f16_gguf


def base_gguf(state: dict, path: Path) -> Path:
    """A stand-in for the embedded GGUF: qwen2 metadata, a tokenizer field and the tiny model's tensors."""
    from gguf import MODEL_ARCH, GGUFWriter, get_tensor_name_map

    names = get_tensor_name_map(MODEL_ARCH.QWEN2, 2)
    writer = GGUFWriter(str(path), "qwen2")
    writer.add_block_count(2)
    writer.add_name("base")
    writer.add_token_list(["a", "b", "<|im_end|>"])
    writer.add_chat_template("{{ messages }}")
    for hf_name, tensor in state.items():
        writer.add_tensor(names.get_name(hf_name, try_suffixes=(".weight", ".bias")), tensor.numpy())
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def test_weights_and_metadata_round_trip(tiny_model, tmp_path):
    from gguf import GGMLQuantizationType, GGUFReader

    state = tiny_model.state_dict()
    base = base_gguf(state, tmp_path / "base.gguf")
    out = write_f16_gguf(state, base, tmp_path / "out.gguf", "k2think test")
    reader, original = GGUFReader(str(out)), GGUFReader(str(base))
    assert reader.fields["general.name"].contents() == "k2think test"
    assert reader.fields["general.architecture"].contents() == "qwen2"
    assert reader.fields["tokenizer.ggml.tokens"].contents() == ["a", "b", "<|im_end|>"]
    assert reader.fields["tokenizer.chat_template"].contents() == "{{ messages }}"
    assert [t.name for t in reader.tensors] == [t.name for t in original.tensors]
    by_name = {t.name: t for t in reader.tensors}
    embed = by_name["token_embd.weight"]
    assert embed.tensor_type == GGMLQuantizationType.F16
    np.testing.assert_allclose(embed.data, state["model.embed_tokens.weight"].numpy(), atol=1e-3)
    norm = by_name["output_norm.weight"]
    assert norm.tensor_type == GGMLQuantizationType.F32
    np.testing.assert_array_equal(norm.data, state["model.norm.weight"].numpy())
    assert not list(tmp_path.glob(".*.tmp")), "no temporary file is left behind"


def test_a_missing_or_reshaped_tensor_is_refused(tiny_model, tmp_path):
    state = tiny_model.state_dict()
    base = base_gguf(state, tmp_path / "base.gguf")
    partial = {k: v for k, v in state.items() if k != "lm_head.weight"}
    with pytest.raises(ValueError, match="missing \\['output.weight'\\]"):
        write_f16_gguf(partial, base, tmp_path / "out.gguf", "x")
    with pytest.raises(ValueError, match="has no qwen2 GGUF name"):
        write_f16_gguf({**state, "model.extra.weight": state["lm_head.weight"]}, base, tmp_path / "out.gguf", "x")
    assert not (tmp_path / "out.gguf").exists()


def test_an_unknown_quant_type_is_refused(tmp_path):
    with pytest.raises(ValueError, match="quant: expected one of"):
        quantize(tmp_path / "in.gguf", tmp_path / "out.gguf", "q2_xs", 1)
    assert set(QUANT_TYPES) == {"f16", "q8_0", "q4_k_m"}
