#!/usr/bin/env bash
# After packs swap the CUDA generator's state objects (no host-device copy per member): the
# pack tests on CUDA, and one run alone, 4 separate runs, packs of 16 and 32 (4 settings per seed).
# Ran before the benchmark had --alone-warmup: the single runs warmed up 3 steps too (graphs
# partly captured); rerun as is, they now warm up 250.
set -u
export PYTHONUNBUFFERED=1 PYTHONPATH=$PWD
OUT=${OUT:-/tmp/out}; mkdir -p $OUT
{ nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv; python3 -c "import torch; print('torch', torch.__version__)"; } | tee $OUT/env_packs.txt
echo "== tests"; timeout 60 python3 -m pytest -q -p no:cacheprovider tests/test_packs.py 2>&1 | grep -E "Error|passed|failed" | tail -8
echo "== study throughput"
timeout 150 python3 -m benchmarks.study_throughput --text-dir .gpu --arch paper --packs 16 32 --settings-per-seed 4 --separate 4 \
  --steps 20 --warmup 3 --out $OUT/study_throughput_rng.json 2>&1 | grep -v '^ ' | tail -6
echo "== done"
