"""speed.py's projections: a run sums its epochs, each with the phases that train in it and the
collection while it lasts, per-step times interpolated between the measured dataset sizes."""

import pytest

from benchmarks.projection import Schedule, project_paths, run_seconds

SCHEDULE = Schedule(epochs=4, collect_until=3, steps={"tokenizer": 10, "world_model": 20, "actor_critic": 30},
                    start_after={"tokenizer": 0, "world_model": 1, "actor_critic": 2})
PER_STEP = {1: {"tokenizer": 1.0, "world_model": 2.0, "actor_critic": 3.0},  # measured at epochs 1 and 3
            3: {"tokenizer": 3.0, "world_model": 4.0, "actor_critic": 5.0}}


def test_a_run_sums_the_phases_each_epoch_trains_and_its_collection():
    epoch_1 = 10 * 1.0 + 7  # the tokenizer only, and a collection
    epoch_2 = 10 * 2.0 + 20 * 3.0 + 7  # halfway between the measured epochs
    epoch_3 = 10 * 3.0 + 20 * 4.0 + 30 * 5.0 + 7
    epoch_4 = 10 * 3.0 + 20 * 4.0 + 30 * 5.0  # held at epoch 3's times; collection has stopped
    assert run_seconds(SCHEDULE, PER_STEP, collection=7) == pytest.approx(epoch_1 + epoch_2 + epoch_3 + epoch_4)


def test_each_path_gets_its_measured_epochs_and_its_run():
    projections = project_paths(SCHEDULE, "paper", {"optimised": PER_STEP}, None, 4, "batches 1/1/1")
    assert [(p.what, p.seconds) for p in projections] == [
        ("whole epoch at epoch 1's dataset", 10 * 1.0 + 20 * 2.0 + 30 * 3.0),
        ("whole epoch at epoch 3's dataset", 10 * 3.0 + 20 * 4.0 + 30 * 5.0),
        ("4-epoch run", pytest.approx(run_seconds(SCHEDULE, PER_STEP, collection=0.0)))]
    assert "collection not measured" in projections[-1].how
