"""A tiny randomly initialised causal LM, written with ``save_pretrained``: for CPU smoke runs and
tests, which never download a model.

    python -m iris_wm.agents.iris_lm.tiny OUT_DIR [--arch llama|gpt2]
    iris train agent=iris-lm preset=cpu-smoke env.id=Pong agent.world_model.model_name_or_path=OUT_DIR
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from iris_wm.agents.iris_lm.backbone import transformers

ARCHITECTURES = ("llama", "gpt2")  # rotary positions, learned positions


def tiny_config(arch: str, context: int = 512):
    from transformers import GPT2Config, LlamaConfig

    if arch == "llama":
        return LlamaConfig(vocab_size=600, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                           num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=context)
    return GPT2Config(vocab_size=600, n_embd=64, n_layer=2, n_head=4, n_positions=context, bos_token_id=0,
                      eos_token_id=0)


def write_tiny_lm(out_dir: Path, arch: str = "llama", seed: int = 0) -> Path:
    torch.manual_seed(seed)
    transformers().AutoModelForCausalLM.from_config(tiny_config(arch)).save_pretrained(out_dir)
    return Path(out_dir)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--arch", choices=ARCHITECTURES, default="llama")
    args = parser.parse_args()
    print(f"wrote a tiny {args.arch} LM to {write_tiny_lm(args.out_dir, args.arch)}")


if __name__ == "__main__":
    main()
