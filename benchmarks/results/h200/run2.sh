#!/usr/bin/env bash
# Second GPU measurement: graphed step variants, whole runs after the evaluation fix, and one
# paper-size DBpedia run (140k training sentences: the 28k released valid+test sentences x 5).
set -u
export PYTHONUNBUFFERED=1
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site .whl/*.whl >/dev/null 2>&1
export PYTHONPATH=/tmp/site:$PWD
OUT=${OUT:-/tmp/out}; mkdir -p $OUT
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee $OUT/env2.txt
echo "== tests"; timeout 60 python3 -m pytest -q -p no:cacheprovider tests/test_training_step.py 2>&1 | tail -30 > $OUT/tests2.txt; tail -3 $OUT/tests2.txt
echo "== step"; timeout 90 python3 -m benchmarks.train_throughput --text-dir .gpu --warmup 250 --steps 200 --configs fp32+graphs tf32+graphs bf16+graphs bf16+graphs+plain-ce --out $OUT/step_graphs.json 2>&1 | grep -v '^ ' | tail -5
for eb in 128 512; do echo "== run auto eval_batch $eb"; timeout 50 python3 -m benchmarks.pipeline_timing --corpus .gpu/dbpedia --models hsvae --work /tmp/w$eb -S preset=paper -S train.precision=auto -S train.ce_chunk=4096 -S train.eval_batch_size=$eb --out $OUT/run_auto_eval$eb.json 2>&1 | tail -1; done
mkdir -p /tmp/paper && python3 - <<'PY'
from pathlib import Path
D, P = Path(".gpu"), Path("/tmp/paper")
text = D.joinpath("valid.txt").read_text().splitlines() + D.joinpath("test.txt").read_text().splitlines()
labels = [str(i // 1000) for i in range(14000)] * 2  # 1,000 per class, classes in order in both files
P.joinpath("train.txt").write_text("\n".join(text * 5) + "\n"); P.joinpath("train_class_label.txt").write_text("\n".join(labels * 5) + "\n")
for split, name in (("valid", "valid"), ("test", "test")):
    P.joinpath(f"{split}.txt").write_text(D.joinpath(f"{name}.txt").read_text())
    P.joinpath(f"{split}_class_label.txt").write_text("\n".join(str(i // 1000) for i in range(14000)) + "\n")
P.joinpath("vocab.txt").write_text(D.joinpath("dbpedia/vocab.txt").read_text())
PY
echo "== paper-size run"; timeout 200 python3 -m benchmarks.pipeline_timing --corpus /tmp/paper --models hsvae --work /tmp/wp -S preset=paper -S train.precision=auto -S train.ce_chunk=4096 -S train.eval_batch_size=512 --out $OUT/run_paper_size.json 2>&1 | tail -1
echo "== done"
