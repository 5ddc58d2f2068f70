import io
import pickle
import zipfile

import pytest
import torch

from iris_wm.agents.iris.original import to_original_names
from iris_wm.checkpoint import load_agent
from iris_wm.checkpoint.original import load_original_agent
from iris_wm.cli import main
from iris_wm.errors import IrisError
from tests.factories import synthetic_original_state_dict


@pytest.fixture(scope="module")
def original_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("authors") / "last.pt"
    torch.save(synthetic_original_state_dict(), path)
    return path


def test_import_then_export_reproduces_every_tensor_bit_for_bit(original_file):
    original = torch.load(original_file, weights_only=True)
    agent = load_original_agent(original_file, device="cpu")
    exported = to_original_names(agent)
    kept = [key for key in original if not key.startswith("tokenizer.lpips.")]
    assert list(exported) == kept  # same keys, same order; only the 33 frozen LPIPS entries dropped
    assert len(original) - len(kept) == 33
    for key in kept:
        assert exported[key].dtype == original[key].dtype, key
        assert torch.equal(exported[key], original[key]), key


def test_every_tensor_of_the_file_lands_in_the_agent(original_file):
    original = torch.load(original_file, weights_only=True)
    agent = load_original_agent(original_file, device="cpu")
    ours = agent.state_dict()
    torch.testing.assert_close(ours["tokenizer.embedding.weight"], original["tokenizer.embedding.weight"])
    torch.testing.assert_close(ours["world_model.transformer.pos_emb.weight"], original["world_model.pos_emb.weight"])
    qkv = ours["world_model.transformer.blocks.3.attn.qkv.weight"]
    for i, part in enumerate(("query", "key", "value")):
        expected = original[f"world_model.transformer.blocks.3.attn.{part}.weight"]
        torch.testing.assert_close(qkv[256 * i:256 * (i + 1)], expected)


@pytest.mark.parametrize("num_actions", [3, 6, 18])
def test_any_number_of_actions_imports(tmp_path, num_actions):
    path = tmp_path / "last.pt"
    torch.save(synthetic_original_state_dict(num_actions), path)
    agent = load_agent(path, device="cpu")
    assert agent.num_actions == num_actions
    assert agent.world_model.action_embedding.weight.shape == (num_actions, 256)


def test_block_causal_masks_are_recognised(tmp_path):
    state = synthetic_original_state_dict(attention="block_causal")
    torch.save(state, tmp_path / "last.pt")
    agent = load_agent(tmp_path / "last.pt", device="cpu")
    assert agent.world_model.config.attention == "block_causal"
    assert torch.equal(to_original_names(agent)["world_model.transformer.blocks.0.attn.mask"], state[
        "world_model.transformer.blocks.0.attn.mask"])


class Payload:
    """An object whose unpickling would run code."""

    def __reduce__(self):
        return (exec, ("import pathlib; pathlib.Path('PWNED').write_text('x')",))


def test_a_pickle_that_carries_code_is_refused_and_never_executed(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    state = synthetic_original_state_dict()
    state["evil"] = Payload()
    torch.save(state, tmp_path / "last.pt")
    with pytest.raises(IrisError, match="refused"):
        load_agent(tmp_path / "last.pt", device="cpu")
    assert not (tmp_path / "PWNED").exists()


def test_truncated_file_is_reported(tmp_path, original_file):
    data = original_file.read_bytes()
    (tmp_path / "last.pt").write_bytes(data[: len(data) // 2])
    with pytest.raises(IrisError, match="corrupt or truncated"):
        load_agent(tmp_path / "last.pt", device="cpu")


@pytest.mark.parametrize(("mutate", "message"), [
    (lambda s: s.pop("world_model.transformer.blocks.2.attn.value.bias"), "blocks.2.attn.value.bias"),
    (lambda s: s.pop("actor_critic.lstm.weight_hh"), "actor_critic.lstm.weight_hh"),
    (lambda s: s.__setitem__("tokenizer.decoder.conv_in.weight", torch.zeros(64, 256, 3, 3)),
     "tokenizer.decoder.conv_in.weight"),
    (lambda s: s.__setitem__("world_model.extra.weight", torch.zeros(1)), "world_model.extra.weight"),
])
def test_a_wrong_file_names_the_first_bad_key(tmp_path, mutate, message):
    state = synthetic_original_state_dict()
    mutate(state)
    torch.save(state, tmp_path / "last.pt")
    with pytest.raises(IrisError, match=message.replace(".", r"\.")):
        load_agent(tmp_path / "last.pt", device="cpu")


def test_not_a_state_dict_is_refused(tmp_path):
    torch.save([torch.zeros(1)], tmp_path / "last.pt")
    with pytest.raises(IrisError, match="not a state dict"):
        load_agent(tmp_path / "last.pt", device="cpu")


def test_convert_command_writes_our_format_and_refuses_to_overwrite(tmp_path, original_file, capsys):
    out = tmp_path / "converted"
    assert main(["convert", "iris", str(original_file), str(out)]) == 0
    assert (out / "agent.safetensors").is_file() and (out / "agent.yaml").is_file()
    converted = load_agent(out, device="cpu")
    direct = load_original_agent(original_file, device="cpu")
    for key, tensor in direct.state_dict().items():
        assert torch.equal(converted.state_dict()[key], tensor), key
    before = (out / "agent.safetensors").read_bytes()
    assert main(["convert", "iris", str(original_file), str(out)]) == 2
    assert "already exists" in capsys.readouterr().err
    assert (out / "agent.safetensors").read_bytes() == before


def test_pickle_module_is_what_refuses(tmp_path):
    # Guard for the test above: a plain torch.save of tensors is loadable with weights_only=True,
    # so the refusal comes from the payload, not from torch.save's format.
    buffer = io.BytesIO()
    torch.save({"a": torch.zeros(1)}, buffer)
    buffer.seek(0)
    assert torch.load(buffer, weights_only=True)["a"].shape == (1,)
    assert zipfile.is_zipfile(io.BytesIO(buffer.getvalue())) and pickle.HIGHEST_PROTOCOL >= 2
