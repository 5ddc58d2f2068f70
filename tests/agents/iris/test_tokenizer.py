import pytest
import torch

from iris_wm.agents.iris.tokenizer import Tokenizer, TokenizerConfig
from iris_wm.config import build_config
from iris_wm.data.batch import Batch
from tests.factories import tiny_iris_config


def tiny_tokenizer(**overrides) -> Tokenizer:
    config = build_config(TokenizerConfig, {**tiny_iris_config()["tokenizer"], **overrides})
    return Tokenizer(config)


def frames_batch(b: int, t: int) -> Batch:
    return Batch(observations=torch.rand(b, t, 3, 64, 64), actions=torch.zeros(b, t, dtype=torch.long),
                 rewards=torch.zeros(b, t), ends=torch.zeros(b, t, dtype=torch.long),
                 mask_padding=torch.ones(b, t, dtype=torch.bool))


@pytest.mark.parametrize("leading", [(1,), (5,), (2, 3), (2, 1, 2)])
def test_encode_decode_shapes_for_any_leading_dims(leading):
    tokenizer = tiny_tokenizer().eval()
    frames = torch.rand(*leading, 3, 64, 64)
    with torch.no_grad():
        out = tokenizer.encode(frames, should_preprocess=True)
        assert out.z.shape == (*leading, 16, 4, 4) and out.z_quantized.shape == (*leading, 16, 4, 4)
        assert out.tokens.shape == (*leading, 16) and out.tokens.dtype == torch.long
        assert tokenizer.decode(out.z_quantized).shape == (*leading, 3, 64, 64)
        decoded = tokenizer.decode_tokens(out.tokens)
        assert decoded.shape == (*leading, 3, 64, 64) and decoded.min() >= 0 and decoded.max() <= 1
        assert tokenizer.encode_decode(frames, True, True).shape == (*leading, 3, 64, 64)


def test_paper_tokenizer_shapes_and_parameter_count():
    tokenizer = Tokenizer(TokenizerConfig(perceptual_weight=0)).eval()
    assert sum(p.numel() for p in tokenizer.parameters()) == 4_027_523  # the authors' count
    with torch.no_grad():
        out = tokenizer.encode(torch.rand(2, 3, 64, 64), should_preprocess=True)
    assert out.z.shape == (2, 512, 4, 4) and out.tokens.shape == (2, 16)


def test_quantization_picks_the_nearest_code_in_row_major_order():
    tokenizer = tiny_tokenizer()
    z = torch.randn(2, 16, 4, 4)
    tokens, z_quantized = tokenizer.quantize(z)
    codebook = tokenizer.embedding.weight
    for b in range(2):
        for row in range(4):
            for col in range(4):
                distances = ((codebook - z[b, :, row, col]) ** 2).sum(-1)
                token = tokens[b, 4 * row + col]
                assert distances[token] <= distances.min() + 1e-6
                torch.testing.assert_close(z_quantized[b, :, row, col], codebook[token])


def test_decode_tokens_equals_decoding_the_quantized_latents():
    tokenizer = tiny_tokenizer().eval()
    with torch.no_grad():
        out = tokenizer.encode(torch.rand(3, 3, 64, 64), should_preprocess=True)
        via_tokens = tokenizer.decode_tokens(out.tokens)
        via_latents = tokenizer.decode(out.z_quantized, should_postprocess=True).clamp(0, 1)
    torch.testing.assert_close(via_tokens, via_latents)


def test_loss_terms_match_their_definitions():
    tokenizer = tiny_tokenizer(commitment_beta=0.25).eval()
    batch = frames_batch(4, 1)
    losses = tokenizer.compute_loss(batch)
    assert set(losses.terms) == {"commitment_loss", "reconstruction_loss"}
    with torch.no_grad():
        x = batch.observations.flatten(0, 1) * 2 - 1
        out = tokenizer.encode(x)
        squared = (out.z - out.z_quantized).pow(2).mean()
        expected_recon = (x - tokenizer.decode(out.z_quantized)).abs().mean()
    # codebook term (weight 1) + beta * commitment term: both equal ||z - z_q||^2 in value
    torch.testing.assert_close(losses.terms["commitment_loss"], 1.25 * squared)
    torch.testing.assert_close(losses.terms["reconstruction_loss"], expected_recon)
    torch.testing.assert_close(losses.total, losses.terms["commitment_loss"] + losses.terms["reconstruction_loss"])


def test_gradients_reach_encoder_through_straight_through_and_codebook_only_through_commitment():
    tokenizer = tiny_tokenizer()
    batch = frames_batch(2, 1)
    tokenizer.compute_loss(batch).total.backward()
    assert tokenizer.encoder.conv_in.weight.grad.abs().sum() > 0
    assert tokenizer.decoder.conv_out.weight.grad.abs().sum() > 0
    codebook_grad = tokenizer.embedding.weight.grad
    used = tokenizer.encode(batch.observations, should_preprocess=True).tokens.unique()
    unused = torch.ones(codebook_grad.shape[0], dtype=torch.bool)
    unused[used] = False
    assert codebook_grad[used].abs().sum() > 0 and codebook_grad[unused].abs().sum() == 0


def test_reconstruction_improves_with_training():
    tokenizer = tiny_tokenizer()
    batch = frames_batch(4, 1)
    batch.observations.zero_()  # Atari-like frames: flat colours and rectangles
    for i in range(4):
        batch.observations[i, 0, i % 3] = 0.2 * (i + 1)
        batch.observations[i, 0, :, 8 * i:8 * i + 16, 10:30] = 1.0
    optimizer = torch.optim.Adam(tokenizer.parameters(), lr=3e-3)
    first = None
    for _ in range(12):
        loss = tokenizer.compute_loss(batch)
        optimizer.zero_grad()
        loss.total.backward()
        optimizer.step()
        first = first if first is not None else loss.terms["reconstruction_loss"].item()
    assert loss.terms["reconstruction_loss"].item() < 0.7 * first


def test_perceptual_term_is_built_on_first_use_and_kept_out_of_the_state_dict():
    tokenizer = tiny_tokenizer(perceptual_weight=1.0)
    tokenizer.perceptual_trunk_weights = "random"  # no VGG16 download
    keys_before = set(tokenizer.state_dict())
    assert tokenizer.lpips is None
    losses = tokenizer.compute_loss(frames_batch(2, 1))
    assert "perceptual_loss" in losses.terms and losses.terms["perceptual_loss"] > 0
    assert tokenizer.lpips is not None and set(tokenizer.state_dict()) == keys_before
    # a tokenizer state dict without LPIPS still loads strictly
    tokenizer.load_state_dict(tiny_tokenizer().state_dict())
