#!/usr/bin/env bash
# Packed studies on the GPU: the pack step's equality with separate steps on CUDA, then the
# study-throughput benchmark at the paper's architecture on DBpedia lengths (one run alone,
# 4 separate runs with and without CUDA MPS, packs of 1, 4, 16, 32 with 4 settings per seed as
# in the stability study) and a whole packed epoch of 16.
# Run from the repository root with the DBpedia sample in .gpu/ (valid.txt, test.txt).
# Ran before the benchmark had --alone-warmup: the single runs warmed up 3 steps too (graphs
# partly captured); rerun as is, they now warm up 250.
set -u
export PYTHONUNBUFFERED=1 PYTHONPATH=$PWD
OUT=${OUT:-/tmp/out}; mkdir -p $OUT
{ nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv; python3 -c "import torch; print('torch', torch.__version__)"; } | tee $OUT/env_packs.txt
echo "== tests"; timeout 120 python3 -m pytest -q -p no:cacheprovider tests/test_packs.py 2>&1 | grep -E "AssertionError: \(|passed|failed" > $OUT/tests_packs.txt; cat $OUT/tests_packs.txt
echo "== study throughput"
timeout 330 python3 -m benchmarks.study_throughput --text-dir .gpu --arch paper --packs 1 4 16 32 --settings-per-seed 4 --separate 4 --mps \
  --steps 20 --warmup 3 --epoch 16 --epoch-sentences 16500 --profile 16 --out $OUT/study_throughput.json 2>&1 | grep -v '^ ' | tail -12
echo "== done"
