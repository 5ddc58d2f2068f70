"""PPO from scratch inside a world model that iris-wm learned, then played in the real game.

A single file in the manner of CleanRL's ``ppo_atari.py``: the policy never sees the real game while
it trains; every transition comes from the world model of an iris-wm run, through
``WorldModelVectorEnv`` (a gymnasium vector env, batched on the device). At the end the policy plays
the run's real test game, and so does the uniformly random policy, for comparison.

    python examples/ppo_in_world_model.py outputs/2026-01-01/12-00-00 --total-steps 200000

Gymnasium's next-step autoreset: the step after an episode ends only starts the next episode (its
action is ignored), so those steps are left out of the loss, and the value of an episode's final
frame bootstraps a truncated (not a terminated) episode.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
from torch.distributions import Categorical


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("run", type=Path, help="an iris-wm run folder: its world model, starts and game")
    p.add_argument("--total-steps", type=int, default=200_000, help="imagined env steps to train for")
    p.add_argument("--num-envs", type=int, default=16, help="imagined episodes stepped together")
    p.add_argument("--num-steps", type=int, default=64, help="steps per env in each rollout")
    p.add_argument("--horizon", type=int, default=None, help="imagined steps per episode (default: the context)")
    p.add_argument("--learning-rate", type=float, default=2.5e-4)
    p.add_argument("--gamma", type=float, default=0.99)
    p.add_argument("--gae-lambda", type=float, default=0.95)
    p.add_argument("--num-minibatches", type=int, default=4)
    p.add_argument("--update-epochs", type=int, default=4)
    p.add_argument("--clip-coef", type=float, default=0.1)
    p.add_argument("--ent-coef", type=float, default=0.01)
    p.add_argument("--vf-coef", type=float, default=0.5)
    p.add_argument("--max-grad-norm", type=float, default=0.5)
    p.add_argument("--real-episodes", type=int, default=10, help="episodes in the real game, for each policy")
    p.add_argument("--real-max-steps", type=int, default=None, help="cap on a real episode's steps")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--device", default="auto")
    return p.parse_args(argv)


class Policy(nn.Module):
    """The Nature-DQN torso on 64x64 RGB frames, with a policy and a value head."""

    def __init__(self, num_actions: int) -> None:
        super().__init__()
        self.torso = nn.Sequential(
            layer_init(nn.Conv2d(3, 32, 8, stride=4)), nn.ReLU(),  # 64 -> 15
            layer_init(nn.Conv2d(32, 64, 4, stride=2)), nn.ReLU(),  # 15 -> 6
            layer_init(nn.Conv2d(64, 64, 3, stride=1)), nn.ReLU(),  # 6 -> 4
            nn.Flatten(), layer_init(nn.Linear(64 * 4 * 4, 512)), nn.ReLU(),
        )
        self.actor = layer_init(nn.Linear(512, num_actions), std=0.01)
        self.critic = layer_init(nn.Linear(512, 1), std=1.0)

    def features(self, obs: torch.Tensor) -> torch.Tensor:
        """obs (N, 64, 64, 3) uint8 -> (N, 512)."""
        return self.torso(obs.permute(0, 3, 1, 2).float() / 255)

    def value(self, obs: torch.Tensor) -> torch.Tensor:
        return self.critic(self.features(obs)).squeeze(-1)

    def act(self, obs: torch.Tensor, action: torch.Tensor | None = None):
        """-> (action, its log-probability, the policy's entropy, the value), each (N,)."""
        hidden = self.features(obs)
        dist = Categorical(logits=self.actor(hidden))
        action = dist.sample() if action is None else action
        return action, dist.log_prob(action), dist.entropy(), self.critic(hidden).squeeze(-1)


def layer_init(layer: nn.Module, std: float = np.sqrt(2), bias: float = 0.0) -> nn.Module:
    nn.init.orthogonal_(layer.weight, std)
    nn.init.constant_(layer.bias, bias)
    return layer


def real_returns(make_env, choose, episodes: int, seed: int) -> list[float]:
    """Returns of ``episodes`` episodes of the real game, actions from ``choose(obs (64, 64, 3))``."""
    env, returns = make_env(seed), []
    for episode in range(episodes):
        obs, _ = env.reset(seed=seed + episode)
        total, done = 0.0, False
        while not done:
            obs, reward, terminated, truncated, _ = env.step(choose(obs))
            total, done = total + float(reward), terminated or truncated
        returns.append(total)
    env.close()
    return returns


def main(argv: list[str] | None = None) -> dict[str, float]:
    import iris_wm
    from iris_wm.envs import get_env_kind
    from iris_wm.training.run_config import read_run_config

    args = parse_args(argv)
    torch.manual_seed(args.seed)
    run_config = read_run_config(args.run, [])
    world_model = iris_wm.load_agent(args.run, device=args.device)
    device = world_model.device
    envs = world_model.as_vector_env(args.run, num_envs=args.num_envs, horizon=args.horizon,
                                     game=run_config.env.id)
    policy = Policy(envs.single_action_space.n).to(device)
    optimizer = torch.optim.Adam(policy.parameters(), lr=args.learning_rate, eps=1e-5)

    # Rollout storage: (num_steps, num_envs) of each, on the device.
    shape = (args.num_steps, args.num_envs)
    obs = torch.zeros(shape + envs.single_observation_space.shape, dtype=torch.uint8, device=device)
    actions, logprobs, values = (torch.zeros(shape, device=device) for _ in range(3))
    rewards, terminations, dones = (torch.zeros(shape, device=device) for _ in range(3))
    valid = torch.zeros(shape, dtype=torch.bool, device=device)  # False: an autoreset step, no transition

    next_obs, _ = envs.reset(seed=args.seed)
    next_done = torch.zeros(args.num_envs, dtype=torch.bool, device=device)
    episode_return = torch.zeros(args.num_envs, device=device)
    imagined_returns: list[float] = []
    num_updates = max(1, args.total_steps // (args.num_steps * args.num_envs))
    start = time.time()

    for update in range(1, num_updates + 1):
        optimizer.param_groups[0]["lr"] = args.learning_rate * (1 - (update - 1) / num_updates)
        for step in range(args.num_steps):
            obs[step], valid[step] = next_obs, ~next_done
            with torch.no_grad():
                action, logprob, _, value = policy.act(next_obs)
            actions[step], logprobs[step], values[step] = action, logprob, value
            next_obs, reward, terminated, truncated, _ = envs.step(action)
            next_done = terminated | truncated
            rewards[step], terminations[step], dones[step] = reward, terminated.float(), next_done.float()
            episode_return += reward * valid[step]
            imagined_returns += episode_return[next_done].tolist()
            episode_return[next_done] = 0

        # Generalised advantage estimation; an ended episode's advantage does not reach back past its end.
        # Step t led to obs[t + 1] (after an end: the episode's final frame, whose value bootstraps a
        # truncated episode; the autoreset step comes after it).
        with torch.no_grad():
            next_values = torch.cat([values[1:], policy.value(next_obs).unsqueeze(0)])
            advantages = torch.zeros_like(rewards)
            last = torch.zeros(args.num_envs, device=device)
            for t in reversed(range(args.num_steps)):
                delta = rewards[t] + args.gamma * next_values[t] * (1 - terminations[t]) - values[t]
                last = delta + args.gamma * args.gae_lambda * (1 - dones[t]) * last
                advantages[t] = last
            returns = advantages + values

        # PPO's clipped objective over the valid steps, in minibatches.
        keep = valid.flatten().nonzero().squeeze(1)
        b_obs = obs.flatten(0, 1)[keep]
        b_actions, b_logprobs = actions.flatten()[keep], logprobs.flatten()[keep]
        b_advantages, b_returns = advantages.flatten()[keep], returns.flatten()[keep]
        minibatch_size = max(1, len(keep) // args.num_minibatches)
        for _ in range(args.update_epochs):
            order = torch.randperm(len(keep), device=device)
            for first in range(0, len(keep), minibatch_size):
                mb = order[first:first + minibatch_size]
                _, new_logprob, entropy, new_value = policy.act(b_obs[mb], b_actions[mb].long())
                ratio = (new_logprob - b_logprobs[mb]).exp()
                mb_adv = b_advantages[mb]
                mb_adv = (mb_adv - mb_adv.mean()) / (mb_adv.std(unbiased=False) + 1e-8)
                pg_loss = torch.max(-mb_adv * ratio,
                                    -mb_adv * ratio.clamp(1 - args.clip_coef, 1 + args.clip_coef)).mean()
                v_loss = 0.5 * (new_value - b_returns[mb]).pow(2).mean()
                loss = pg_loss - args.ent_coef * entropy.mean() + args.vf_coef * v_loss
                optimizer.zero_grad()
                loss.backward()
                nn.utils.clip_grad_norm_(policy.parameters(), args.max_grad_norm)
                optimizer.step()

        steps = update * args.num_steps * args.num_envs
        recent = np.mean(imagined_returns[-20:]) if imagined_returns else float("nan")
        print(f"update {update}/{num_updates}  imagined steps {steps}  imagined return (last 20 episodes) "
              f"{recent:.2f}  policy loss {pg_loss.item():.3f}  value loss {v_loss.item():.3f}  "
              f"{steps / (time.time() - start):.0f} steps/s", flush=True)

    # The real game: the trained policy, then the random policy, under the run's test settings.
    env_kind = get_env_kind(run_config.env.kind)
    test = run_config.env.test
    if args.real_max_steps is not None:
        test = replace(test, max_episode_steps=args.real_max_steps)

    def make_env(seed):
        return env_kind.make_env(replace(test, id=env_kind.resolve_id(run_config.env.id)), seed)

    @torch.no_grad()
    def trained(frame: np.ndarray) -> int:
        return int(policy.act(torch.tensor(frame, device=device).unsqueeze(0))[0])

    rng = np.random.default_rng(args.seed)
    random_policy = lambda frame: int(rng.integers(envs.single_action_space.n))  # noqa: E731
    results = {
        "imagined_return": float(np.mean(imagined_returns[-20:])) if imagined_returns else float("nan"),
        "imagined_episodes": len(imagined_returns),
        "real_return": float(np.mean(real_returns(make_env, trained, args.real_episodes, args.seed))),
        "random_real_return": float(np.mean(real_returns(make_env, random_policy, args.real_episodes, args.seed))),
    }
    print(f"{run_config.env.id}: return in the world model {results['imagined_return']:.2f} (last 20 imagined "
          f"episodes); in the real game {results['real_return']:.2f}, random policy "
          f"{results['random_real_return']:.2f} (mean of {args.real_episodes} episodes each)")
    return results


if __name__ == "__main__":
    from iris_wm.errors import IrisError

    try:
        main()
    except IrisError as error:  # bad input: one line, exit code 2
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)
