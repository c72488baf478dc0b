"""Model names: a path that is not there is an error naming it (it was taken for a hub id)."""
from __future__ import annotations

import pytest

from r1zero.models import ModelError, load_tokenizer, resolve_model


@pytest.mark.parametrize("name", ["runs/nope/final_model", "./nope", "nope/../model", "my model"])
def test_a_missing_model_path_is_an_error_naming_it(tmp_path, monkeypatch, name):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ModelError) as err:
        load_tokenizer(name)  # was: OSError "Repo id must be in the form 'repo_name' or 'namespace/repo_name'"
    msg = str(err.value)
    assert f"`model.name={name}`: no such directory" in msg and str(tmp_path) in msg and "hub id" in msg


def test_a_relative_path_under_an_existing_directory_is_a_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "runs").mkdir()
    with pytest.raises(ModelError, match="no such directory"):
        resolve_model("runs/final_model")  # one slash, like a hub id, but ./runs is here


def test_hub_ids_and_directories_pass(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert resolve_model("Qwen/Qwen2.5-Math-1.5B") == "Qwen/Qwen2.5-Math-1.5B"
    assert resolve_model("gpt2") == "gpt2"
    (tmp_path / "m").mkdir()
    with pytest.raises(ModelError, match="has no config.json"):
        resolve_model("m")
    (tmp_path / "m" / "config.json").write_text("{}")
    assert resolve_model("m") == str(tmp_path / "m")


def test_auto_dtype_is_bf16_only_where_bf16_is_native(monkeypatch):
    """model.dtype=auto: a CPU without native bf16 matrix products trains in fp32 (bf16 matmul measured 35x slower
    than fp32 on an AVX2-only CPU), one with them in bf16; fp32 and bf16 are kept as given."""
    import torch

    from r1zero.models import training_dtype

    assert training_dtype("bf16") == ("bf16", "") and training_dtype("fp32") == ("fp32", "")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", lambda: False)
    dtype, why = training_dtype("auto")
    assert dtype == "fp32" and "no native bf16" in why
    monkeypatch.setattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", lambda: True)
    assert training_dtype("auto") == ("bf16", "")
