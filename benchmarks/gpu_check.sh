#!/usr/bin/env bash
# Every GPU check of agent.speed in one call: the CUDA tests, then benchmarks/speed.py --device cuda
# at the paper's sizes (the rows and projections of issue 15), logs and JSON under $OUT.
#
#   bash benchmarks/gpu_check.sh            # from the repository root, on a machine with CUDA
#
# Made for one call on a lent H200 (15 minutes of device time in all, start-up included): each step
# is bounded with `timeout`, so the script ends within about 9 minutes (30 + 150 + 170 + 140 + 50 s),
# and the steps run in order of what matters most, each writing its files as it goes: a step cut
# short keeps the rows it measured (speed.py rewrites its JSON after every measurement).
#   1. carried wheels, if any (below)
#   2. CUDA tests: tests/agents/iris/test_speed_options.py (cuda token passes equal to eager, bf16 +
#      TF32 + compiled losses with the frame cache, fused optimizer), the transformer's and the
#      reference path's tests, Δ-IRIS's bf16 test
#   3. imagination and actor-critic rows: reference, optimised, fixed, compiled, cuda-graphs and its
#      bf16 / TF32 / bf16+TF32 variants; projected actor-critic epoch (200 steps)
#   4. epoch rows at epoch 50's and epoch 500's dataset sizes (reference, optimised cached, fastest =
#      every agent.speed option) and collection; projected whole epochs and the 600-epoch run
#   5. world-model step rows (eager and compiled loss)
# $OUT (default ./gpu_out) gets at most 8 files, as the device tool brings back: summary.txt (the
# machine, each step's exit status and seconds), tests.log, speed-ac.{log,json}, speed-epoch.{log,json},
# speed-wm.{log,json}. Exit status 124 in summary.txt: that step ran out of time.
#
# The machine has its own python3 (3.12) with PyTorch (CUDA), numpy, pytest, pytest-xdist, PyYAML,
# safetensors, tqdm, tensorboard, psutil, Pillow, matplotlib, imageio. What it lacks travels as
# wheels: put them in .whl/ here (ignored: `echo /.whl/ >> .git/info/exclude`), e.g. the versions
# this project's .venv holds:
#   python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
#     --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
#     -d .whl hydra-core==1.3.8 omegaconf==2.3.1 gymnasium==1.4.0 ale-py==0.12.1 farama-notifications==0.0.6 \
#     imageio-ffmpeg==0.8.1
#   python3 -m pip wheel --no-deps -w .whl antlr4-python3-runtime==4.9.3   # published as source only
# (one version of each), and name .whl in the device call's carry. This script installs them with
#   python3 -m pip install -q --no-index --no-deps --target /tmp/site .whl/*.whl   (PYTHONPATH=/tmp/site)
# The project itself runs from src/ (PYTHONPATH), not installed.
set -u
cd "$(dirname "$0")/.."
OUT=${OUT:-./gpu_out}
mkdir -p "$OUT"
SUMMARY="$OUT/summary.txt"
export PYTHONUNBUFFERED=1 OMP_NUM_THREADS=${OMP_NUM_THREADS:-8}

{
  date
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>&1
  python3 -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda, torch.cuda.is_available())"
} >"$SUMMARY" 2>&1

if compgen -G ".whl/*.whl" >/dev/null; then
  timeout 30 python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site .whl/*.whl >>"$SUMMARY" 2>&1
  echo "wheels: exit $?" >>"$SUMMARY"
  export PYTHONPATH=/tmp/site
fi
export PYTHONPATH="$PWD/src:$PWD${PYTHONPATH:+:$PYTHONPATH}"

# step NAME SECONDS COMMAND...: the command's output in $OUT/NAME.log, its status and time in the summary
step() {
  local name=$1 limit=$2 started=$SECONDS status
  shift 2
  timeout -k 10 "$limit" "$@" >"$OUT/$name.log" 2>&1
  status=$?
  echo "$name: exit $status after $((SECONDS - started)) s (limit $limit s)" | tee -a "$SUMMARY"
  tail -n 40 "$OUT/$name.log"
}

step tests 150 python3 -m pytest -q -n 0 -rs tests/agents/iris/test_speed_options.py tests/models/test_transformer.py \
  tests/test_reference_path.py tests/agents/delta_iris/test_bf16.py

speed() {
  local name=$1 limit=$2
  shift 2
  step "$name" "$limit" python3 benchmarks/speed.py --device cuda --sizes paper --json "$OUT/$name.json" "$@"
}
speed speed-ac 170 --only imagination actor_critic --repeats 3
speed speed-epoch 140 --only collection epoch --like-epoch 50 500 --epoch-steps 4 --repeats 1 \
  --epoch-paths reference cached fastest
speed speed-wm 50 --only world_model --repeats 3
echo "done after $SECONDS s" | tee -a "$SUMMARY"
