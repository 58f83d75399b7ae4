"""Studies: a named grid over params (conf/studies.yaml) times replicate training
seeds, each point run as one DVC experiment, on Ray or on this machine without it.

A point runs in its own clone of the current commit (DVC holds a repository lock, so runs
cannot share a workspace): `dvc exp run --name NAME -S ...` there, then `dvc exp push` of the
experiment back to the user's repository (a path on a shared filesystem, with the DVC cache
shared through `cache.dir`; or a git remote plus a DVC remote). The experiment's name is the
study's name and a hash of its overrides, so a point already run for this commit is skipped:
a killed study resumes.
"""
import concurrent.futures
import contextlib
import ctypes
import hashlib
import json
import os
import signal
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from hsvae.core.config import ParamError
from hsvae.pipeline.params import compose, load, validate
from hsvae.studies.grid import STUDIES, load_studies, study_points


class StudyError(ParamError):
    pass


def counted(n: int, noun: str) -> str:
    """'1 run', '2 runs': a count the user reads."""
    return f"{n} {noun}{'' if n == 1 else 's'}"


# ---- the points of a study

def format_value(value) -> str:
    """A params value as Hydra override syntax (what `dvc exp run -S` takes)."""
    if isinstance(value, list):
        return "[" + ",".join(format_value(v) for v in value) + "]"
    return repr(value) if isinstance(value, float) else str(value)


def study_runs(studies: dict, name: str, extra=()) -> list:
    """[(experiment name, overrides)] for every replicate x setting, replicate by replicate (a
    study stopped half-way has every setting at the same number of replicates); `extra` are the
    user's own `-S key=value` overrides applied to every run (e.g. preset=paper)."""
    if name not in studies:
        raise StudyError(f"study {name!r}: not in {STUDIES}; expected one of {', '.join(studies)}")
    study = studies[name]
    runs = []
    for replicate in range(study["replicates"]):
        for setting in study_points(study):
            overrides = [*extra, *(f"{k}={format_value(v)}" for k, v in setting.items()), f"train.seed={replicate}"]
            digest = hashlib.sha256(json.dumps(overrides).encode()).hexdigest()[:10]
            runs.append((f"{name}-{digest}", overrides))
    return runs


# ---- running

def _git(*args, cwd=".") -> str:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True).stdout.strip()


def existing_experiments(commit: str, repo=".") -> set:
    """Names of the experiments whose baseline is `commit` (refs/exps/ab/cdef.../NAME)."""
    refs = _git("for-each-ref", "--format=%(refname)", f"refs/exps/{commit[:2]}/{commit[2:]}/", cwd=repo)
    return {ref.rsplit("/", 1)[1] for ref in refs.splitlines() if ref}


def experiment_ref(commit: str, name: str) -> str:
    return f"refs/exps/{commit[:2]}/{commit[2:]}/{name}"


def clones_folder(study: str, repo=".") -> Path:
    """Where this machine keeps the clones of the study's running points: one folder per study
    and repository, so that two checkouts running a study of one name never share it."""
    digest = hashlib.sha256(str(Path(repo).resolve()).encode()).hexdigest()[:8]
    return Path(tempfile.gettempdir()) / f"hsvae-study-{study}-{digest}"


def _die_with_parent():
    """In a child process: the kernel kills it when the Ray worker that started it dies."""
    PR_SET_PDEATHSIG = 1
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def _clone(source, commit, work, cache_dir, call, env):
    """A clone of `source` at `commit` in `work`, its outputs stored in the user's cache."""
    call("git", "clone", "-q", "--no-checkout", source, ".")
    call("git", "checkout", "-q", commit)
    if cache_dir:  # shared filesystem: outputs land in the user's cache directly
        call("dvc", "cache", "dir", "--local", cache_dir)
    else:  # machines share no filesystem: start from the DVC remote's outputs
        subprocess.run(["dvc", "pull", "-q"], cwd=work, env=env, capture_output=True)


def _failure(failure: subprocess.CalledProcessError) -> str:
    lines = [line for line in (failure.stderr or failure.stdout or "").splitlines() if line.strip()]
    return " | ".join(lines[-3:]) or f"exit code {failure.returncode}"


def _experiment(name, overrides, cache_dir, call):
    call("dvc", "exp", "run", "-q", "--name", name, *(arg for o in overrides for arg in ("-S", o)))
    call("dvc", "exp", "push", *(["--no-cache"] if cache_dir else []), "origin", name)


def _workspace(clones, name, threads):
    folder = Path(tempfile.gettempdir()) / clones
    folder.mkdir(parents=True, exist_ok=True)
    work = tempfile.mkdtemp(prefix=f"{name}-", dir=folder)
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads), "DVC_NO_ANALYTICS": "1"}

    def call(*cmd):
        return subprocess.run(cmd, cwd=work, env=env, capture_output=True, text=True, check=True,
                              preexec_fn=_die_with_parent if sys.platform == "linux" else None)

    return work, env, call


def run_point(source: str, commit: str, name: str, overrides: list, cache_dir: str | None, threads: int,
              clones: str) -> dict:
    """One point: clone `source` at `commit` into a folder of $TMPDIR/`clones` (on the machine
    that runs it), run the experiment, push it back to `source`. Returns {"name", "error" (None
    or the last lines of the failure), "seconds"}."""
    start = time.time()
    work, env, call = _workspace(clones, name, threads)
    try:
        _clone(source, commit, work, cache_dir, call, env)
        _experiment(name, overrides, cache_dir, call)
        error = None
    except subprocess.CalledProcessError as failure:
        error = _failure(failure)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return {"name": name, "error": error, "seconds": time.time() - start}


# What a point's clone runs: a change elsewhere (dvc.lock, results) does not change the runs.
RUN_INPUTS = ("hsvae", "stages", "conf", "params.yaml", "dvc.yaml", "pyproject.toml", "requirements.txt")


def check_runs(params, name: str, extra) -> list:
    """Every run of the study, checked before any clone is made: the extras composed as
    `dvc exp run -S` composes them (an unknown key fails here), then every setting of
    conf/studies.yaml applied to those params and checked (load_studies). Returns study_runs(...)."""
    composed = compose(extra) if extra else None  # Hydra's refusal names the -S itself
    try:
        composed = validate(composed) if extra else params
    except ParamError as error:
        raise StudyError(f"-S {' '.join(extra)}: {error}") from None
    return study_runs(load_studies(composed), name, extra)


def _uncommitted_inputs() -> list:
    return _git("status", "--porcelain", "--untracked-files=no", "--", *RUN_INPUTS).splitlines()


def _start_reaper(clones: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "hsvae.studies.reaper", str(os.getpid()), str(clones)],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)


def _kill_descendants(but: int):
    import psutil

    for process in psutil.Process().children(recursive=True):
        if process.pid != but:
            with contextlib.suppress(psutil.Error):
                process.kill()


def _terminate_as_interrupt(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


def _on_ray(todo, run, address, cpus_per_run, gpus_per_run, ray_dir):
    """Each run a Ray task; yields run_point's results as they finish. Ray's session files
    live in `ray_dir`, which the study removes."""
    import ray

    ray.init(address=address, include_dashboard=False, log_to_driver=False, configure_logging=False,
             **({} if address else {"_temp_dir": str(ray_dir)}))
    try:
        task = ray.remote(run).options(num_cpus=cpus_per_run, num_gpus=gpus_per_run, max_retries=0)
        names = {task.remote(name, overrides): name for name, overrides in todo}
        pending = list(names)
        while pending:
            finished, pending = ray.wait(pending, num_returns=1)
            try:
                yield ray.get(finished[0])
            except ray.exceptions.RayError as error:  # the task's worker or node was lost
                yield {"name": names[finished[0]], "error": f"Ray: {str(error).splitlines()[0]}"}
    finally:
        ray.shutdown()


def _here(todo, run, jobs):
    """`jobs` runs at a time on this machine, without Ray; yields results as they finish."""
    with concurrent.futures.ThreadPoolExecutor(jobs) as pool:
        futures = [pool.submit(run, name, overrides) for name, overrides in todo]
        try:
            for future in concurrent.futures.as_completed(futures):
                yield future.result()
        finally:
            for future in futures:
                future.cancel()


def run_study(name: str, extra=(), address=None, cpus_per_run=1.0, gpus_per_run=0.0, git_remote=None,
              progress=True, jobs=0) -> dict:
    """Run the study's missing points, each with `cpus_per_run` threads: on Ray (an embedded
    one, or the cluster at `address`; `gpus_per_run` a Ray GPU share), or with `jobs` > 0,
    `jobs` at a time on this machine without Ray. Returns {"ran", "skipped", "failed": {name:
    error}}. Stopped by Ctrl-C, SIGTERM or SIGKILL, it leaves no process and no clone behind."""
    from tqdm import tqdm

    params = load("params.yaml")
    runs = check_runs(params, name, list(extra))
    dirty = _uncommitted_inputs()
    if dirty:
        raise StudyError("a study runs the committed code and settings: commit these first: "
                         + ", ".join(line.split(None, 1)[1] for line in dirty))
    commit = _git("rev-parse", "HEAD")
    done = existing_experiments(commit)
    todo = [(n, o) for n, o in runs if n not in done]
    if git_remote:
        source, cache_dir = git_remote, None
    else:
        source = str(Path(".").resolve())
        cache_dir = str(Path(subprocess.run(["dvc", "cache", "dir"], capture_output=True, text=True,
                                            check=True).stdout.strip()).resolve())
    print(f"study {name}: {counted(len(runs), 'run')}, {len(runs) - len(todo)} already done for commit {commit[:7]}, "
          f"{len(todo)} to run{'' if jobs else ' on Ray'}")
    failed = {}
    if todo:
        clones = clones_folder(name)
        shutil.rmtree(clones, ignore_errors=True)  # left by a killed study
        clones.mkdir(parents=True)
        reaper = _start_reaper(clones)
        previous = signal.signal(signal.SIGTERM, _terminate_as_interrupt)
        threads = max(1, int(cpus_per_run))

        def run(run_name, overrides):
            return run_point(source, commit, run_name, overrides, cache_dir, threads, clones.name)

        results = (_here(todo, run, jobs) if jobs
                   else _on_ray(todo, run, address, cpus_per_run, gpus_per_run, clones / "ray"))
        try:
            with tqdm(total=len(runs), initial=len(runs) - len(todo), desc=f"study {name}", unit="run",
                      disable=None if progress else True) as bar:
                for result in results:
                    if result["error"]:
                        failed[result["name"]] = result["error"]
                        tqdm.write(f"run {result['name']} failed: {result['error']}")
                    elif git_remote:
                        subprocess.run(["dvc", "exp", "pull", git_remote, result["name"]], check=True,
                                       capture_output=True)
                    bar.update(1)
        except BaseException:
            if jobs:  # the pool's threads wait on their runs: stop those first
                _kill_descendants(but=reaper.pid)
            raise
        finally:
            results.close()
            signal.signal(signal.SIGTERM, previous)
            reaper.kill()  # the driver cleans up itself; the reaper is for a driver killed outright
            reaper.wait()
            shutil.rmtree(clones, ignore_errors=True)
    return {"ran": len(todo) - len(failed), "skipped": len(runs) - len(todo), "failed": failed}
