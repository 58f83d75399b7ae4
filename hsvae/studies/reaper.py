"""The study driver's reaper: a detached process that outlives a killed `hsvae study run`
(SIGKILL leaves no handler a chance) and then stops what the driver started — Ray's local
processes, the training runs in their clones — and removes the study's clones folder.

    python -m hsvae.studies.reaper DRIVER_PID CLONES_DIR

It remembers the driver's descendants (pid and start time, so a reused pid is never killed)
while the driver lives; a driver that ends normally stops its reaper first."""
import shutil
import sys
import time

import psutil

POLL_S = 0.3


def descendants(process: psutil.Process) -> set:
    try:
        return {(p.pid, p.create_time()) for p in process.children(recursive=True)}
    except psutil.Error:
        return set()


def alive(pid: int, started: float):
    try:
        process = psutil.Process(pid)
        return process if process.create_time() == started and process.status() != psutil.STATUS_ZOMBIE else None
    except psutil.Error:
        return None


def reap(driver_pid: int, clones: str):
    driver, me = psutil.Process(driver_pid), psutil.Process()
    started, known = driver.create_time(), set()
    while alive(driver_pid, started):
        known |= descendants(driver)
        time.sleep(POLL_S)
    known.discard((me.pid, me.create_time()))  # the driver started this reaper too
    processes = [p for p in (alive(pid, t) for pid, t in known) if p]
    for process in list(processes):  # children started since the last look
        processes += [p for p in (alive(pid, t) for pid, t in descendants(process)) if p and p.pid != me.pid]
    for process in processes:
        try:
            process.kill()
        except psutil.Error:
            pass
    psutil.wait_procs(processes, timeout=10)
    shutil.rmtree(clones, ignore_errors=True)


if __name__ == "__main__":
    reap(int(sys.argv[1]), sys.argv[2])
