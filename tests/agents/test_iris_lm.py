"""IRIS with a language model as its world model, on tiny local LMs of two architectures (Llama:
rotary positions; GPT-2: learned positions): causality, the KV cache, LoRA, checkpoints, and a run
end to end."""


import pytest
import torch

pytest.importorskip("transformers")
pytest.importorskip("peft")

import iris_wm  # noqa: E402
from iris_wm.agents.iris_lm.config import IRISLMTraining  # noqa: E402
from iris_wm.agents.iris_lm.tiny import ARCHITECTURES, write_tiny_lm  # noqa: E402
from iris_wm.checkpoint import load_agent, save_agent  # noqa: E402
from iris_wm.cli import main  # noqa: E402
from iris_wm.data.batch import Batch  # noqa: E402
from iris_wm.data.dataset import EpisodeDataset  # noqa: E402
from iris_wm.training.metrics_logger import read_metrics  # noqa: E402
from iris_wm.training.optim import make_optimizer  # noqa: E402
from tests.factories import (  # noqa: E402
    assert_metrics_equal_fixture,
    kill_9_in_second_epoch,
    tiny_iris_config,
    tiny_train_overrides,
)


@pytest.fixture(scope="module", params=ARCHITECTURES)
def lm_path(request, tmp_path_factory):
    return write_tiny_lm(tmp_path_factory.mktemp(request.param), request.param)


def lm_agent(lm_path, finetune="lora", **world_model):
    config = tiny_iris_config()
    config["world_model"] = {"model_name_or_path": str(lm_path), "max_blocks": 4, "finetune": finetune,
                             **world_model}
    return iris_wm.create_model("iris-lm", num_actions=4, device="cpu", config=config)


def tokens(seed: int, blocks: int = 3) -> torch.Tensor:
    """(2, blocks * 17) world-model tokens: 16 observation tokens (< 32) and an action (< 4) per block."""
    generator = torch.Generator().manual_seed(seed)
    obs = torch.randint(0, 32, (2, blocks, 16), generator=generator)
    actions = torch.randint(0, 4, (2, blocks, 1), generator=generator)
    return torch.cat([obs, actions], dim=-1).flatten(1)


def segment(n: int = 2, t: int = 4) -> Batch:
    generator = torch.Generator().manual_seed(3)
    return Batch(observations=torch.rand(n, t, 3, 64, 64, generator=generator),
                 actions=torch.randint(0, 4, (n, t), generator=generator), rewards=torch.zeros(n, t),
                 ends=torch.zeros(n, t, dtype=torch.long), mask_padding=torch.ones(n, t, dtype=torch.bool))


def test_no_position_sees_a_later_one(lm_path):
    world_model = lm_agent(lm_path).world_model.eval()
    x = tokens(0)
    changed = x.clone()
    changed[:, 30] = (changed[:, 30] + 1) % 4 if 30 % 17 == 16 else (changed[:, 30] + 1) % 32
    with torch.no_grad():
        a, b = world_model(x).output_sequence, world_model(changed).output_sequence
    assert torch.equal(a[:, :30], b[:, :30])  # bit-identical before the change
    assert not torch.equal(a[:, 30:], b[:, 30:])


def test_cached_incremental_decoding_equals_the_full_forward(lm_path):
    world_model = lm_agent(lm_path).world_model.eval()
    x = tokens(1)
    cache = world_model.new_kv_cache(batch_size=2)
    with torch.no_grad():
        full = world_model(x)
        first = world_model(x[:, :17], cache)  # a whole frame, then one token at a time as imagination does
        steps = [world_model(x[:, i:i + 1], cache) for i in range(17, x.shape[1])]
    incremental = torch.cat([first.output_sequence, *(s.output_sequence for s in steps)], dim=1)
    torch.testing.assert_close(incremental, full.output_sequence, atol=1e-5, rtol=0)
    logits = torch.cat([first.logits_observations, *(s.logits_observations for s in steps)], dim=1)
    torch.testing.assert_close(logits, full.logits_observations, atol=1e-5, rtol=0)
    assert cache.size == x.shape[1]


def test_lora_trains_the_adapters_and_leaves_the_lm_bit_identical(lm_path):
    agent = lm_agent(lm_path)
    lm = agent.world_model.transformer.lm
    base = {n: p.detach().clone() for n, p in lm.named_parameters() if "lora_" not in n}
    adapters = {n: p.detach().clone() for n, p in lm.named_parameters() if "lora_" in n}
    assert adapters and all(not p.requires_grad for n, p in lm.named_parameters() if "lora_" not in n)
    training = IRISLMTraining(cache_tokens=False)  # the batch is not from a dataset: no frame ids to cache by
    phase = next(p for p in agent.phases(training) if p.name == "world_model")
    optimizer = make_optimizer(phase.module, 1e-2, phase.settings.weight_decay)
    agent.start_epoch(training, 1)
    for _ in range(3):
        optimizer.zero_grad()
        phase.loss(segment()).total.backward()
        optimizer.step()
    after = dict(lm.named_parameters())
    assert all(torch.equal(after[n], value) for n, value in base.items())
    assert any(not torch.equal(after[n], value) for n, value in adapters.items())


@pytest.mark.parametrize("finetune", ["lora", "frozen", "full"])
def test_a_checkpoint_reloads_to_the_same_outputs_and_holds_no_frozen_lm_weights(lm_path, finetune, tmp_path):
    agent = lm_agent(lm_path, finetune).eval()
    with torch.no_grad():
        for p in agent.world_model.parameters():
            if p.requires_grad:
                p.add_(0.01 * torch.randn_like(p))  # as if trained
    folder = save_agent(agent, tmp_path / "agent")
    keys = set(agent.state_dict())
    lm_keys = {k for k in keys if k.startswith("world_model.transformer.lm.")}
    if finetune == "full":
        assert lm_keys and not any("lora_" in k for k in lm_keys)
    else:
        assert all("lora_" in k for k in lm_keys) and bool(lm_keys) == (finetune == "lora")
    loaded = load_agent(folder, device="cpu").eval()
    x = tokens(2)
    with torch.no_grad():
        torch.testing.assert_close(loaded.world_model(x).logits_observations, agent.world_model(x).logits_observations,
                                   atol=0, rtol=0)


def test_observation_tokens_can_start_as_the_lms_own_embeddings(lm_path):
    agent = lm_agent(lm_path, obs_embedding="lm_vocab")
    lm_rows = agent.world_model.transformer.lm.get_input_embeddings().weight[:32]
    assert torch.equal(agent.world_model.obs_embedding.weight, lm_rows)
    assert not torch.equal(lm_agent(lm_path).world_model.obs_embedding.weight, lm_rows)


def test_imagination_is_reproducible_from_the_same_seed(lm_path):
    agent = lm_agent(lm_path).eval()
    batch = segment(2, 1 + agent.burn_in)
    runs = []
    for _ in range(2):
        torch.manual_seed(7)
        out = agent.imagine(batch)
        runs.append((out.observations, out.actions, out.rewards, out.ends))
    assert all(torch.equal(a, b) for a, b in zip(*runs, strict=True))


@pytest.mark.parametrize(("world_model", "message"), [
    ({"lora_target_modules": ["nothing"]}, "match no linear module of the LM; its linear modules are"),
    ({"load_in_4bit": True}, "needs CUDA"),
    ({"max_blocks": 40}, "has a context of 512 positions, fewer than the world model's 680"),
])
def test_bad_lm_settings_are_one_line(lm_path, world_model, message):
    if world_model.get("load_in_4bit") and torch.cuda.is_available():
        pytest.skip("CUDA is there")
    with pytest.raises(iris_wm.IrisError, match=message):
        lm_agent(lm_path, **world_model)


def test_a_path_that_is_no_causal_lm_or_an_offline_hub_id_is_one_line(tmp_path, monkeypatch):
    from transformers import ViTConfig

    with pytest.raises(iris_wm.IrisError, match="could not be loaded"):
        lm_agent(tmp_path)  # an empty folder
    ViTConfig().save_pretrained(tmp_path / "vit")
    with pytest.raises(iris_wm.IrisError, match="is not a causal language model"):
        lm_agent(tmp_path / "vit")
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)  # read at import: the variable is too late
    with pytest.raises(iris_wm.IrisError, match="could not be loaded"):
        lm_agent("someone/some-model-that-is-not-cached")


def lm_overrides(run_dir, lm_path, epochs):
    return tiny_train_overrides(run_dir, epochs=epochs, **{"agent": "iris-lm",
                                                           "agent.world_model.model_name_or_path": str(lm_path),
                                                           "training.world_model.grad_acc_steps": 1})


def test_metrics_are_identical_to_those_recorded_before_the_speed_and_action_changes(tmp_path):
    """As Δ-IRIS's and IRIS's fixtures: a tiny run's metrics (the tiny Llama of seed 0) recorded before the
    refactors of speed settings, continuous actions and the policy's carry."""
    run_dir = tmp_path / "run"
    assert main(["train", *lm_overrides(run_dir, write_tiny_lm(tmp_path / "lm", "llama"), epochs=4)]) == 0
    assert_metrics_equal_fixture(run_dir, "iris_lm_tiny_run_metrics.jsonl")


def test_a_run_trains_every_phase_and_resumes_after_kill_9(tmp_path):
    lm_path = write_tiny_lm(tmp_path / "lm", "llama")
    run_dir = tmp_path / "run"
    last = kill_9_in_second_epoch(lm_overrides(run_dir, lm_path, epochs=30), run_dir)
    dataset = run_dir / "checkpoints" / "dataset" / "train"
    finished = {i for i, e in ((i, EpisodeDataset.load(dataset, "t").get_episode(i))
                               for i in EpisodeDataset.load(dataset, "t").episode_ids) if e.finished}
    assert main(["resume", str(run_dir), "common.epochs=4"]) == 0
    metrics = read_metrics(run_dir)
    assert [m["epoch"] for m in metrics] == list(range(1, max(last, 4) + 1))
    assert "world_model/train/loss_obs" in metrics[2] and "imagination/return" in metrics[3]
    assert finished <= set(EpisodeDataset.load(dataset, "t").episode_ids)
    assert "kind: iris-lm" in (run_dir / "config" / "train.yaml").read_text()
