"""An alpha/beta grid on DVC's queue, run by two workers, compared with exp show and plots diff."""
import json
import time

import pytest

from tests.pipeline_utils import run, tiny_repo


def metric(exp, path, *keys):
    value = exp["data"]["metrics"][path]["data"]
    for key in keys:
        value = value[key]
    return value


@pytest.mark.slow(seconds=47)
def test_queued_alpha_grid_runs_and_alpha_controls_sparsity(tmp_path):
    repo = tiny_repo(tmp_path, {"models": ["hsvae"], "baselines": [], "train": {"epochs": 3}})
    run(["dvc", "exp", "run", "--queue", "-S", "model.alpha=0.2,20", "-S", "model.beta=1"], repo)
    run(["dvc", "queue", "start", "-j", "2"], repo)
    deadline, status = time.time() + 400, ""
    while time.time() < deadline:
        time.sleep(3)
        # until both landed (their refs) or one failed, poll git: `dvc queue status` is a DVC
        # process of seconds on the cores the two workers use
        refs = run(["git", "for-each-ref", "--format=%(refname)", "refs/exps/"], repo).stdout.split()
        if "refs/exps/celery/failed" not in refs and sum(ref.count("/") == 4 for ref in refs) < 2:
            continue
        status = run(["dvc", "queue", "status"], repo).stdout
        if "Queued" not in status and "Running" not in status:
            break
    assert status.count("Success") == 2, status
    shown = json.loads(run(["dvc", "exp", "show", "--json"], repo).stdout)
    experiments = [e for commit in shown for e in (commit.get("experiments") or [])]
    ah = {}
    for exp in experiments:
        revision = exp["revs"][0]
        alpha = revision["data"]["params"]["params.yaml"]["data"]["model"]["alpha"]
        ah[alpha] = metric(revision, "reports/summary.json", "hsvae", "ah_sample")
        assert 0 <= metric(revision, "reports/summary.json", "hsvae", "accuracy") <= 1
    assert set(ah) == {0.2, 20}
    # alpha/(alpha+beta) = 0.17 -> dense codes; 0.95 -> sparse codes
    assert ah[20] > ah[0.2] + 0.1
    names = run(["dvc", "exp", "ls", "--name-only"], repo).stdout.split()
    run(["dvc", "plots", "diff", *names, "-o", "plots"], repo)
    assert (repo / "plots" / "index.html").stat().st_size > 1000
