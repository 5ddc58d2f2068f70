"""Details of IRIS's training that a wrong line would silently change: the straight-through
estimator, the commitment loss, the optimizers' decay groups, gradient clipping, and each
component's train / eval mode in every phase."""

import pytest
import torch

from iris_wm.agents.iris.config import IRISTraining
from iris_wm.agents.iris.tokenizer import Tokenizer, TokenizerConfig, preprocess
from iris_wm.config import build_config
from iris_wm.data.batch import Batch
from iris_wm.training.optim import make_optimizer
from tests.factories import tiny_iris_config, tiny_train_overrides


def tokenizer_with(**options) -> Tokenizer:
    return Tokenizer(build_config(TokenizerConfig, {**tiny_iris_config()["tokenizer"], **options}))


def frames(n: int = 3) -> Batch:
    observations = torch.rand(n, 1, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    zeros = torch.zeros(n, 1)
    return Batch(observations=observations, actions=zeros.long(), rewards=zeros, ends=zeros.long(),
                 mask_padding=torch.ones(n, 1, dtype=torch.bool))


def grads(loss: torch.Tensor, parameters: list[torch.Tensor]) -> list[torch.Tensor]:
    return torch.autograd.grad(loss, parameters, allow_unused=True, retain_graph=True)


def latents(tokenizer: Tokenizer, batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
    z = tokenizer.pre_quant_conv(tokenizer.encoder(preprocess(batch.observations.flatten(0, 1))))
    return z, tokenizer.quantize(z)[1]


def test_the_reconstruction_passes_the_quantized_latents_forward_and_its_gradient_to_the_encoder():
    tokenizer, batch = tokenizer_with(commitment_beta=0.0), frames()  # no commitment gradient to the encoder
    losses = tokenizer.compute_loss(batch)
    with torch.no_grad():  # forward: the decoder sees the codebook vectors, not the encoder's output
        x = preprocess(batch.observations.flatten(0, 1))
        decoded = tokenizer.decoder(tokenizer.post_quant_conv(latents(tokenizer, batch)[1]))
        torch.testing.assert_close(losses.terms["reconstruction_loss"], (x - decoded).abs().mean())
    # backward: the reconstruction trains the encoder straight through the quantizer's argmin
    encoder_grads = grads(losses.total, list(tokenizer.encoder.parameters()))
    assert all(g is not None for g in encoder_grads) and sum(g.abs().sum() for g in encoder_grads) > 0


def test_the_commitment_loss_trains_the_codebook_with_weight_1_and_the_encoder_with_beta():
    beta = 0.25
    tokenizer, batch = tokenizer_with(commitment_beta=beta), frames()
    losses = tokenizer.compute_loss(batch)
    z, z_quantized = latents(tokenizer, batch)
    x = preprocess(batch.observations.flatten(0, 1))
    straight_through = z + (z_quantized - z).detach()
    expected = ((z.detach() - z_quantized).pow(2).mean() + beta * (z - z_quantized.detach()).pow(2).mean()
                + (x - tokenizer.decoder(tokenizer.post_quant_conv(straight_through))).abs().mean())
    parameters = [tokenizer.embedding.weight, tokenizer.pre_quant_conv.weight, *tokenizer.encoder.parameters()]
    for got, want in zip(grads(losses.total, parameters), grads(expected, parameters), strict=True):
        torch.testing.assert_close(got, want)
    swapped = (beta * (z.detach() - z_quantized).pow(2).mean() + (z - z_quantized.detach()).pow(2).mean())
    assert not torch.allclose(grads(swapped, parameters[:1])[0], grads(losses.total, parameters[:1])[0])


def test_only_the_world_model_decays_and_only_its_linear_weights():
    import iris_wm

    agent = iris_wm.create_model("iris", num_actions=4, device="cpu", config=tiny_iris_config())
    optimizers = {phase.name: make_optimizer(phase.module, phase.learning_rate, phase.settings.weight_decay)
                  for phase in agent.phases(IRISTraining())}
    assert type(optimizers["tokenizer"]) is torch.optim.Adam and type(optimizers["actor_critic"]) is torch.optim.Adam
    world_model = optimizers["world_model"]
    assert type(world_model) is torch.optim.AdamW
    decayed, not_decayed = world_model.param_groups
    assert decayed["weight_decay"] == 0.01 and not_decayed["weight_decay"] == 0.0
    names = {id(p): name for name, p in agent.world_model.named_parameters()}
    decayed_names = {names[id(p)] for p in decayed["params"]}
    linear_weights = {f"{name}.weight" for name, module in agent.world_model.named_modules()
                      if isinstance(module, torch.nn.Linear)}
    assert decayed_names == linear_weights
    assert {names[id(p)] for p in not_decayed["params"]} == set(names.values()) - linear_weights
    assert any("ln" in n for n in set(names.values()) - decayed_names) and "obs_embedding.weight" not in decayed_names


@pytest.fixture
def trainer(tmp_path):
    pytest.importorskip("ale_py")
    from iris_wm.training.compose import compose_config
    from iris_wm.training.trainer import Trainer

    overrides = tiny_train_overrides(tmp_path, epochs=1, **{"agent.tokenizer.perceptual_weight": 1.0,
                                                            "agent.tokenizer.perceptual_dropout_in_train": "false"})
    config = compose_config([o for o in overrides if not o.startswith("hydra.")])
    for settings in (config.training.tokenizer, config.training.world_model, config.training.actor_critic):
        settings.start_after_epochs, settings.steps_per_epoch, settings.max_grad_norm = 0, 1, 1e-3
    trainer = Trainer(config, tmp_path)
    trainer.agent.tokenizer.perceptual_trunk_weights = "random"  # no VGG16 download
    trainer.current_epoch = 1
    trainer.train_collector.collect(trainer.agent, config.collection.train, epoch=1)
    return trainer


def test_each_phase_trains_its_component_with_the_earlier_ones_frozen_and_clips_its_gradients(trainer):
    agent, seen = trainer.agent, {}
    for phase in trainer.phases:
        def recording(batch, loss=phase.loss, name=phase.name):
            losses = loss(batch)  # LPIPS is built by the first tokenizer loss
            lpips = agent.tokenizer.lpips
            seen[name] = {"modes": (agent.tokenizer.training, agent.world_model.training, agent.actor_critic.training),
                          "lpips": None if lpips is None else lpips.training}
            return losses
        phase.loss = recording
        optimizer = trainer.optimizers[phase.name]
        def step_after_checking_the_norm(step=optimizer.step, module=phase.module, name=phase.name):
            norm = torch.nn.utils.get_total_norm([p.grad for p in module.parameters() if p.grad is not None])
            seen[name]["grad_norm"] = float(norm)
            return step()
        optimizer.step = step_after_checking_the_norm
    trainer.train_agent(epoch=1)
    assert seen["tokenizer"]["modes"] == (True, True, True)
    assert seen["world_model"]["modes"] == (False, True, True)
    assert seen["actor_critic"]["modes"] == (False, False, True)
    assert seen["tokenizer"]["lpips"] is False  # perceptual_dropout_in_train=false: LPIPS stays in eval mode
    for name in ("tokenizer", "world_model", "actor_critic"):
        assert seen[name]["grad_norm"] <= 1e-3 * (1 + 1e-4), name


def test_lpips_dropout_follows_the_tokenizer_when_faithful():
    tokenizer = tokenizer_with(perceptual_weight=1.0)
    tokenizer.perceptual_trunk_weights = "random"
    tokenizer.train().compute_loss(frames(1))
    assert tokenizer.lpips.training
    tokenizer.eval()
    assert not tokenizer.lpips.training
