#!/usr/bin/env bash
# The one GPU measurement script: tests that need CUDA, step throughput, whole runs (new code
# and the previous commit's code on the same data). Writes everything to $OUT.
set -u
export PYTHONUNBUFFERED=1
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site .whl/*.whl >/dev/null 2>&1
export PYTHONPATH=/tmp/site:$PWD
OUT=${OUT:-/tmp/out}; mkdir -p $OUT
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee $OUT/env.txt
python3 -c "import torch; print('torch', torch.__version__, torch.version.cuda, torch.backends.cudnn.version())" | tee -a $OUT/env.txt
echo "== tests"; timeout 80 python3 -m pytest -q -p no:cacheprovider tests/test_training_step.py tests/test_models.py 2>&1 | tail -30 > $OUT/tests.txt; tail -4 $OUT/tests.txt
echo "== step"; timeout 170 python3 -m benchmarks.train_throughput --text-dir .gpu --warmup 250 --steps 200 --out $OUT/step_paper.json 2>&1 | grep -v '^ ' | tail -8
echo "== run auto (bf16, graphs), fused CE"; timeout 130 python3 -m benchmarks.pipeline_timing --corpus .gpu/dbpedia --models hsvae --work /tmp/w1 -S preset=paper -S train.precision=auto -S train.ce_chunk=4096 --out $OUT/run_auto.json 2>&1 | tail -3
echo "== run fp32 eager, 5 epochs"; timeout 70 python3 -m benchmarks.pipeline_timing --corpus .gpu/dbpedia --models hsvae --work /tmp/w2 -S preset=paper -S train.precision=fp32 -S train.cuda_graphs=false -S train.epochs=5 --step-steps 100 --out $OUT/run_fp32.json 2>&1 | tail -3
echo "== previous code fp32, 5 epochs"; (cd .gpu/base && PYTHONPATH=/tmp/site:$PWD timeout 70 python3 benchmarks/pipeline_timing.py --corpus ../dbpedia --models hsvae --work /tmp/w3 -S arch.embedding_dim=256 -S arch.hidden_dim=512 -S train.batch_size=256 -S train.epochs=5 -S train.ce_chunk=0 -S train.grad_clip=0.0 -S train.eval_batch_size=128 -S data.vocab_size=20000 -S train.precision=fp32 --out $OUT/run_base_fp32.json 2>&1 | tail -3)
echo "== done"
