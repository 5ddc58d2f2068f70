"""The world model's open-loop prediction error on held-out episodes, for every agent kind alike: from real
context frames, the world model imagines h = 1..H steps ahead given the real actions, and each imagined step
is compared with the real one: the frame's mean squared error per pixel; the share of its tokens that are
the tokens the kind gives the real frame, where it has tokens; whether the reward's sign and the end
are right; and the reward's sign where the real reward is not 0 (in a sparse task almost every reward is 0,
and a world model that never predicts one is right almost everywhere, yet imagines no return). The world
model predicts its most likely tokens (no sampling), so the error measures the model and not the draw;
native, Δ and LM world models are measured on equal footing."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from iris_wm.agents.base import Agent
from iris_wm.data.dataset import EpisodeDataset

MEASURES = {"frame_mse": "frame MSE per pixel", "token_accuracy": "token accuracy",
            "reward_accuracy": "reward sign accuracy", "nonzero_reward_accuracy": "reward sign accuracy, reward != 0",
            "end_accuracy": "end accuracy"}


@dataclass
class PredictionError:
    horizons: np.ndarray  # (H,) 1..H
    frame_mse: np.ndarray  # (H,) mean squared error per pixel, frames in [0, 1]
    reward_accuracy: np.ndarray  # (H,) the predicted reward's sign is the real one's
    end_accuracy: np.ndarray  # (H,) the predicted end is the real one
    segments: np.ndarray  # (H,) real steps measured at each horizon (episodes end, horizons thin out)
    token_accuracy: np.ndarray | None = None  # (H,) share of the imagined tokens that are the real frame's
    nonzero_reward_accuracy: np.ndarray | None = None  # (H,) the reward's sign where the real one is not 0 (nan: none)

    @property
    def measures(self) -> list[str]:
        """The measures this world model has (token accuracy needs tokens)."""
        return [name for name in MEASURES if getattr(self, name) is not None]

    def metrics(self, prefix: str = "prediction") -> dict[str, float]:
        """The error at the first and last horizon, for the run's metrics."""
        out = {}
        for index in sorted({0, len(self.horizons) - 1}):
            h = int(self.horizons[index])
            out |= {f"{prefix}/{name}_h{h}": float(getattr(self, name)[index]) for name in self.measures}
        return out

    def as_json(self) -> dict[str, list]:
        return {name: getattr(self, name).tolist() for name in ("horizons", "segments", *self.measures)}

    @classmethod
    def from_json(cls, data: dict[str, list]) -> PredictionError:
        return cls(**{name: np.array(values, dtype=np.int64 if name in ("horizons", "segments") else np.float64)
                      for name, values in data.items()})


def most_likely(logits: torch.Tensor) -> torch.Tensor:
    return logits.argmax(dim=-1)


@torch.no_grad()
def open_loop_error(agent: Agent, dataset: EpisodeDataset, horizon: int, num_segments: int,
                    rng: np.random.Generator) -> PredictionError | None:
    """Over ``num_segments`` segments of ``dataset``'s episodes: ``agent.burn_in`` real frames of context and
    the frame imagination starts from, then up to ``horizon`` imagined steps (fewer where the context holds
    fewer). None when no episode is long enough."""
    context = agent.burn_in
    env = agent.make_imagination(sampler=most_likely)
    batch = dataset.sample_batch(num_segments, context + 1 + horizon, rng).to(agent.device)
    env.reset_from_past(batch.observations[:, : context + 1], batch.actions[:, :context])
    real_tokens = env.real_tokens(batch.observations[:, context:], batch.actions[:, context:-1])  # (B, H, K) or None
    alive = batch.mask_padding[:, context].clone()  # (B,) the start is a real frame and no end came since
    totals = []  # per horizon, on the device until the end: one read, not several per step
    for h in range(1, min(horizon, env.steps_left) + 1):
        t = context + h - 1  # the step whose action leads to frame t + 1
        frames, rewards, ends = env.step(batch.actions[:, t])
        steps = alive & batch.mask_padding[:, t]
        with_frame = steps & batch.mask_padding[:, t + 1]  # an episode's last step has no next frame stored
        mse = ((frames.float() - batch.observations[:, t + 1].float()) ** 2).flatten(1).mean(dim=1)
        tokens_right = (mse.new_zeros(()) if real_tokens is None else
                        ((env.tokens == real_tokens[:, h - 1]).float().mean(dim=1) * with_frame).sum())
        real_ends = batch.ends[:, t].bool()
        sign_right = rewards.sign() == batch.rewards[:, t].sign()
        rewarded = steps & (batch.rewards[:, t] != 0)
        totals.append(torch.stack([(mse * with_frame).sum(), tokens_right, with_frame.sum(), (sign_right & steps).sum(),
                                   (sign_right & rewarded).sum(), rewarded.sum(),
                                   ((ends.bool() == real_ends) & steps).sum(), steps.sum()]).double())
        alive &= ~real_ends
    if not totals:
        return None
    mse_sum, token_sum, frame_count, reward_hits, rewarded_hits, rewarded, end_hits, count = (
        torch.stack(totals).cpu().numpy().T)  # (H,) each
    measured = int(np.argmin(count > 0)) if (count == 0).any() else len(count)  # up to the first empty horizon
    if measured == 0:
        return None
    cut = slice(0, measured)
    with np.errstate(invalid="ignore", divide="ignore"):  # a horizon whose steps all ended has no frame: nan
        mse, token_accuracy = mse_sum[cut] / frame_count[cut], token_sum[cut] / frame_count[cut]
        nonzero_reward_accuracy = rewarded_hits[cut] / rewarded[cut]
    return PredictionError(np.arange(1, measured + 1), mse, reward_hits[cut] / count[cut], end_hits[cut] / count[cut],
                           count[cut].astype(np.int64), None if real_tokens is None else token_accuracy,
                           nonzero_reward_accuracy)


def measured_by_any(errors: dict[str, PredictionError]) -> list[str]:
    """The measures at least one of the world models has, in MEASURES' order."""
    return [name for name in MEASURES if any(name in error.measures for error in errors.values())]


def prediction_figure(errors: dict[str, PredictionError], path: Path) -> Path:
    """Frame error, reward and end accuracy against the horizon, one line per label (an epoch, a kind)."""
    from iris_wm.scores import plots

    measures = measured_by_any(errors)
    figure = plots.new_figure(3.7 * len(measures), 3.2)
    axes = figure.subplots(1, len(measures))
    for index, (label, error) in enumerate(errors.items()):
        for axis, name in zip(axes, measures, strict=True):
            if name in error.measures:
                axis.plot(error.horizons, getattr(error, name), marker="o", markersize=3, color=plots.color(index),
                          label=label)
    for axis, name in zip(axes, measures, strict=True):
        axis.set_title(MEASURES[name], fontsize=9)
        axis.set_xlabel("horizon (imagined steps)")
        plots.style(axis)
    axes[0].legend(fontsize=7)
    figure.tight_layout()
    return plots.save(figure, path)


def read_prediction(path: Path) -> PredictionError:
    """The prediction error an ``iris eval --world-model`` file holds, or the newest such file of a run folder's
    ``eval/``."""
    from iris_wm.errors import IrisError
    from iris_wm.run_folder import RunFolder
    from iris_wm.scores.files import load_json

    files = RunFolder(path).evaluations() if path.is_dir() else [path]
    for file in reversed(files):
        data = load_json(file)
        details = data.get("details") if isinstance(data, dict) else None
        if isinstance(details, dict) and details.get("prediction"):
            return PredictionError.from_json(details["prediction"])
    raise IrisError(f"{path} holds no world-model prediction error; measure one with "
                    f"`iris eval RUN_DIR --world-model`")


def prediction_report(errors: dict[str, PredictionError]):
    """World models side by side: each measure at each horizon, and the figure of them against the horizon."""
    from iris_wm.scores.report import Report, fixed_width, markdown_page

    measures = measured_by_any(errors)
    header = ["World model", "horizon", *(MEASURES[name] for name in measures), "steps"]
    body = [[label, str(h), *(f"{getattr(error, name)[i]:.4f}" if name in error.measures else "-" for name in measures),
             str(error.segments[i])] for label, error in errors.items() for i, h in enumerate(error.horizons)]
    note = ("Open-loop prediction from real context frames given the real actions, the world model's most likely "
            "tokens; frame MSE per pixel in [0, 1], token accuracy where the kind has tokens.")
    return Report(fixed_width(header, body), markdown_page("World-model prediction error", note, header, body),
                  {label: error.as_json() for label, error in errors.items()},
                  lambda folder: [prediction_figure(errors, folder / "prediction_error.png")])
