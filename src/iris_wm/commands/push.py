"""``iris push RUN hf://OWNER/REPO``: a run's agent on the Hugging Face Hub, in iris-wm's format
(``agent.safetensors`` + ``agent.yaml``), with a model card (README.md: the run's config, its
evaluation scores, how to load it) and one test episode's video."""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from pathlib import Path

from iris_wm.run_folder import RunFolder

VIDEO = "episode.mp4"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", type=Path, help="the run folder iris train created")
    parser.add_argument("repo", help="hf://OWNER/REPO[@BRANCH]: created if it does not exist")
    parser.add_argument("--message", default="iris-wm agent", help="the hub commit's message")


def run(args: argparse.Namespace) -> int:
    from iris_wm.checkpoint.hub import parse_reference, upload_folder

    reference = parse_reference(args.repo, needs_file=False)
    with tempfile.TemporaryDirectory(prefix="iris-push-") as folder:
        files = stage_upload(args.run_dir, Path(folder), str(reference))
        print(f"uploading {', '.join(sorted(p.name for p in files))} to {reference}", flush=True)
        url = upload_folder(Path(folder), str(reference), args.message)
    print(f"pushed {args.run_dir} -> {url}\nload it with iris_wm.load_agent(\"{reference}/agent.safetensors\")")
    return 0


def stage_upload(run_dir: Path, folder: Path, reference: str) -> list[Path]:
    """The files to upload, in ``folder``: the latest checkpoint's agent, the model card, a video."""
    from iris_wm.checkpoint.agent_files import CONFIG_FILE, WEIGHTS_FILE
    from iris_wm.checkpoint.run_checkpoint import latest_checkpoint
    from iris_wm.errors import IrisError

    run = RunFolder(run_dir)
    if not run.config_file.is_file():
        raise IrisError(f"{run_dir} is not an iris-wm run folder (no {run.config_file}); give the folder iris train "
                        f"created")
    checkpoint = latest_checkpoint(run)
    if checkpoint is None:
        raise IrisError(f"{run_dir} has no completed epoch yet; push it once it has a checkpoint")
    files = [Path(shutil.copy2(checkpoint / name, folder / name)) for name in (WEIGHTS_FILE, CONFIG_FILE)]
    videos = sorted(run.episode_media("test").glob("*.mp4"))
    if videos:
        files.append(Path(shutil.copy2(videos[-1], folder / VIDEO)))
    card = folder / "README.md"
    card.write_text(model_card(run, RunFolder.epoch_of(checkpoint), reference, bool(videos)), encoding="utf-8")
    return [*files, card]


def model_card(run: RunFolder, epochs: int, reference: str, has_video: bool) -> str:
    from omegaconf import OmegaConf

    config = OmegaConf.load(run.config_file)
    kind, game = config.agent.kind, config.env.id
    lines = ["---", "library_name: iris-wm", "tags: [reinforcement-learning, world-models, " f"{config.env.kind}]",
             "---", "", f"# {kind} on {game}", "",
             f"An iris-wm agent ({kind}, {config.env.kind} {game}), trained {epochs} "
             f"epochs with seed {config.common.seed}.", "", "```python", "import iris_wm",
             f'agent = iris_wm.load_agent("{reference}/agent.safetensors")', "```", "",
             f"`iris eval {reference}/agent.safetensors --env {game}` evaluates it with the paper's test protocol.", ""]
    scores = evaluation_scores(run)
    if scores:
        lines += ["## Evaluation", "", "| file | episodes | mean return | score |", "|---|---:|---:|---:|"]
        lines += [f"| {name} | {details['episodes']} | {details['mean']:.2f} | {score:.2f} |"
                  for name, details, score in scores]
        lines.append("")
    if has_video:
        lines += ["## A test episode", "", f"[{VIDEO}]({VIDEO})", ""]
    lines += ["## Config", "", "```yaml", OmegaConf.to_yaml(config).rstrip(), "```", ""]
    return "\n".join(lines)


def evaluation_scores(run: RunFolder) -> list[tuple[str, dict, float]]:
    """(file, details, score) of each ``iris eval`` / ``iris benchmark`` result in ``RUN/eval/``."""
    scores = []
    for path in sorted(run.eval_dir.glob("*.json")):
        data = json.loads(path.read_text())
        score = next((value[0] for value in data.values() if isinstance(value, list)), None)
        if "details" in data and score is not None:
            scores.append((path.name, data["details"], score))
    return scores
