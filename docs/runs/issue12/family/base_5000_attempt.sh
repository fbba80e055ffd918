#!/bin/bash
cd /work/wt12
export PYTHONPATH=/work/wt12 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
date
.venv/bin/eclip-desktop train --pooling all --model eclip-tiny-vit64 --base-pooling native --base-steps 5000 \
  --init resources/models/eclip-shapes-vit/native.safetensors --scenes 30000 --objects 1-3 --batch-size 128 \
  --lr 0.0005 --warmup 100 --eval-every 500 --checkpoint-every 250 --finetune-steps 400 --unlock-blocks 3 \
  --device cpu --out /tmp/p12/fam "$@"
date
