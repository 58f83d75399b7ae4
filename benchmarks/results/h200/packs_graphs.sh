#!/usr/bin/env bash
# Packs as CUDA graphs: the CUDA tests of packs and graphed steps, then the study-throughput
# benchmark at the paper's architecture on DBpedia lengths — one run alone, 4 separate runs,
# packs of 1, 4, 16, 32 (4 settings per seed, as the stability study) timed once every batch
# shape is captured, and a whole packed epoch of 16 (captures and validation included).
# Run from the repository root with the DBpedia sample in .gpu/ (valid.txt, test.txt).
set -u
export PYTHONUNBUFFERED=1 PYTHONPATH=$PWD
OUT=${OUT:-/tmp/out}; mkdir -p $OUT
{ nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv; python3 -c "import torch; print('torch', torch.__version__)"; } | tee $OUT/env_packs_graphs.txt
echo "== tests"; timeout 150 python3 -m pytest -q -p no:cacheprovider tests/test_packs.py tests/test_training_step.py > $OUT/tests_packs_graphs.txt 2>&1; grep -E "^E |passed|failed" $OUT/tests_packs_graphs.txt | head -40
echo "== study throughput"
timeout 330 python3 -m benchmarks.study_throughput --text-dir .gpu --arch paper --packs 1 4 16 32 --settings-per-seed 4 --separate 4 \
  --steps 20 --epoch 16 --epoch-sentences 16500 --out $OUT/study_throughput_graphs.json 2>&1 | grep -v '^ ' | tail -14
echo "== done"
