"""How the networks run on the machine, not what they compute: fixed-shape and compiled steps, CUDA
graphs, bf16, TF32, channels-last (``agent.speed.*``).

Each option's default is on only where ``benchmarks/RESULTS.md`` measured that it pays; options
that change numerics (beyond float rounding) are listed in docs/faithfulness.md. GPU-only options
are refused on other devices, so a config never silently means something else on a CPU.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import torch
from torch import nn

from iris_wm.config import one_of
from iris_wm.errors import IrisError

# The imagination's per-token world-model pass:
# - eager: shapes grow with the cache, as the original (the default: see benchmarks/RESULTS.md);
# - fixed: one pass at a device-side position, attending over the whole cache under a length mask;
# - compiled: that pass through torch.compile(fullgraph=True): one graph for every position;
# - cuda-graphs: compiled with mode="reduce-overhead", replayed as a CUDA graph (CUDA only).
TOKEN_PASSES = ("eager", "fixed", "compiled", "cuda-graphs")
COMPILE_BACKENDS = ("inductor", "aot_eager", "eager")  # inductor generates kernels; the others check tracing only
FUSED_OPTIMIZER = ("auto", "on", "off")  # auto: on CUDA only (the CPU's fused kernel is not measured yet)


@dataclass
class SpeedConfig:
    token_pass: str = one_of(TOKEN_PASSES, "eager")
    # World-model and tokenizer losses (forward and backward) through torch.compile(fullgraph=True);
    # batches keep their shape (padding is a mask), so one graph serves a whole run.
    compile_training: bool = False
    compile_backend: str = one_of(COMPILE_BACKENDS, "inductor")
    # World model and tokenizer under bf16 autocast (CUDA only): changes numerics, see docs/faithfulness.md.
    bf16: bool = False
    # TF32 matmuls and convolutions (CUDA only, Ampere or newer): changes numerics, see docs/faithfulness.md.
    tf32: bool = False
    # The tokenizer's and the actor-critic's convolutions in channels-last layout: the same numbers up
    # to float rounding; measured 0.8-1.2x on the CPU (benchmarks/RESULTS.md), so off.
    channels_last: bool = False
    # Adam / AdamW stepping every parameter of a phase in one fused kernel: the same update up to
    # float rounding. "on" needs CUDA.
    fused_optimizer: str = one_of(FUSED_OPTIMIZER, "auto")

    def check_device(self, device: torch.device) -> None:
        """The GPU-only options name CUDA; on another device they are a one-line error."""
        cuda_only = [name for name, on in (("token_pass=cuda-graphs", self.token_pass == "cuda-graphs"),
                                           ("bf16=true", self.bf16), ("tf32=true", self.tf32),
                                           ("fused_optimizer=on", self.fused_optimizer == "on")) if on]
        if cuda_only and device.type != "cuda":
            raise IrisError(f"agent.speed.{cuda_only[0]} needs a CUDA device, and the agent is on {device}; "
                            "switch it off or use common.device=cuda")

    @property
    def fused_optimizer_choice(self) -> bool | None:
        """True / False when forced, None for auto: ``make_optimizer`` decides by the device."""
        return {"auto": None, "on": True, "off": False}[self.fused_optimizer]


def compile_fullgraph(fn: Callable, backend: str = "inductor", cuda_graphs: bool = False) -> Callable:
    """``fn`` through torch.compile as one graph (a graph break is an error, not a silent slowdown);
    with ``cuda_graphs`` replayed as a CUDA graph (inductor's "reduce-overhead" mode)."""
    if cuda_graphs:
        return torch.compile(fn, fullgraph=True, backend="inductor", mode="reduce-overhead")
    return torch.compile(fn, fullgraph=True, backend=backend)


def compiled_for_training(loss: Callable, speed: SpeedConfig) -> Callable:
    """A training loss as ``agent.speed.compile_training`` asks: through torch.compile, or as it is."""
    return compile_fullgraph(loss, speed.compile_backend) if speed.compile_training else loss


def apply_tf32(speed: SpeedConfig) -> None:
    """TF32 is a process-wide switch of torch's CUDA matmuls and cuDNN convolutions."""
    if speed.tf32:
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True


def to_channels_last(module: nn.Module, speed: SpeedConfig) -> nn.Module:
    return module.to(memory_format=torch.channels_last) if speed.channels_last else module


@contextlib.contextmanager
def autocast(speed: SpeedConfig, device: torch.device) -> Iterator[None]:
    """bf16 autocast where ``speed.bf16`` asks for it (checked to be CUDA), else nothing."""
    with torch.autocast(device.type, dtype=torch.bfloat16, enabled=speed.bf16):
        yield
