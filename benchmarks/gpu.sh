#!/usr/bin/env bash
# The prepared run on a GPU machine (issue 9: the ENTITY union per encoder on a GPU, and its speed-up
# over CPU). Every stage is bounded by `timeout` and logs to OUT, so one stage's failure costs only itself:
#   1. the ENTITY union per encoder on CUDA: kgt.train's sized defaults (bf16 autocast of training steps),
#      EPOCHS epochs (default 2), then the whole validation split evaluated (section `entity_gpu`);
#   2. the same encoders on the same machine's CPUs, all cores, 10 steps each, s/epoch extrapolated
#      (section `entity_host-cpu`): the speed-up on one machine, beside the 2-core rows (`entity`);
#   3. `kgtransfer demo` on CUDA (pretrain -> fine-tune -> compare; device "auto" picks CUDA);
#   4. the test suite with CUDA visible (every test that trains with device "auto" trains on it; tests of the
#      optional extras and of the SPARQL server fail where those are missing or sockets are refused).
#
# Usage: bash benchmarks/gpu.sh OUT     (needs ../shared/data/ckge/ENTITY, as the benchmarks do)
# Writes OUT/{gpu.txt, entity_*.log, scaling_training.{json,md}, demo.log, pytest.log}.
# STAGES (default "gpu cpu demo tests") picks stages; the demo needs the `datasets` extra (Brick).
# Where the machine lacks rdflib/pyoxigraph and the data (as the lent H200 did), carry their wheels and ENTITY in
# an ignored folder .gpu/ and run: python3 -m pip install -q --no-index --no-deps --target /tmp/site .gpu/*.whl &&
#   export PYTHONPATH=$PWD:/tmp/site && mkdir -p ../shared/data/ckge && cp -r .gpu/ENTITY ../shared/data/ckge/ &&
#   STAGES="gpu cpu tests" bash benchmarks/gpu.sh $OUT
# A smoke run on a machine without a GPU: DEVICE=cpu EPOCHS=1 STEPS=2 ENCODERS=embedding STAGES="gpu cpu" bash ...
# (its rows go to sections entity_smoke-cpu and entity_smoke-host-cpu; drop them from the results after)
set -u
out=${1:?usage: bash benchmarks/gpu.sh OUT}
py=${PYTHON:-python3}
device=${DEVICE:-cuda}
epochs=${EPOCHS:-2}
steps=${STEPS:-10}
encoders=${ENCODERS:-rgcn compgcn embedding}
stages=" ${STAGES:-gpu cpu demo tests} "
# a smoke run (DEVICE other than cuda) writes sections of its own, never over the GPU machine's rows
tag_gpu=gpu tag_cpu=host-cpu
[[ $device == cuda* ]] || { tag_gpu="smoke-$device"; tag_cpu="smoke-host-cpu"; }
export PYTHONUNBUFFERED=1
mkdir -p "$out"

nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv >"$out/gpu.txt" 2>&1
$py -c "import torch, torch_geometric as g, kgtransfer
print('torch', torch.__version__, 'pyg', g.__version__, 'cuda', torch.cuda.is_available(), 'cpus', __import__('os').cpu_count())" \
    >>"$out/gpu.txt" 2>&1
cat "$out/gpu.txt"

if [[ $stages == *" gpu "* ]]; then
    for encoder in $encoders; do # one encoder per call: a run cut short by its timeout loses only itself
        echo "== $encoder on $device"
        timeout 100 $py benchmarks/scaling_training.py --sizes --encoders "$encoder" --epochs "$epochs" \
            --eval-every "$epochs" --device "$device" --tag "$tag_gpu" >>"$out/entity_gpu.log" 2>&1
        echo "rc $?"
        grep -E "^\{|failed|Error" "$out/entity_gpu.log" | tail -n 3 | cut -c1-600
    done
fi
if [[ $stages == *" cpu "* ]]; then
    for encoder in $encoders; do
        echo "== $encoder on $(nproc) CPU threads"
        timeout 40 $py benchmarks/scaling_training.py --sizes --encoders "$encoder" --max-steps "$steps" \
            --threads "$(nproc)" --device cpu --tag "$tag_cpu" >>"$out/entity_cpu.log" 2>&1
    done
fi
cp benchmarks/results/scaling_training.json benchmarks/results/scaling_training.md "$out/"

if [[ $stages == *" demo "* ]]; then
    echo "== demo"
    timeout 100 $py -m kgtransfer.cli demo >"$out/demo.log" 2>&1
    echo "demo rc $?"
    tail -n 15 "$out/demo.log"
fi
if [[ $stages == *" tests "* ]]; then
    echo "== tests with CUDA visible"
    # -v: each test's outcome as it ends, so a run cut short still names its failures (pytest-xdist: as there)
    timeout 190 $py -m pytest -p no:cacheprovider -p no:benchmark -n 14 -v --tb=line -W ignore tests \
        >"$out/pytest.log" 2>&1
    echo "pytest rc $?"
    grep -E "^(FAILED|ERROR) " "$out/pytest.log" | sort -u | cut -c1-300
    tail -n 1 "$out/pytest.log"
fi
