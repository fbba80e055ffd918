#!/bin/bash
cd /work/wt12
export PYTHONPATH=/work/wt12 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
E=.venv/bin/eclip-desktop
V=resources/models/eclip-shapes-vit/native.safetensors
R=resources/models/eclip-shapes/native.safetensors
date
$E train --pooling avg --model eclip-tiny-vit64 --pretrained $V --scenes 8000 --objects 1-3 --steps 400 --batch-size 64 --lr 5e-4 --warmup 20 --unlock-blocks 1 --device cpu --out /tmp/p12/vit_avg_u1
date
$E train --pooling masked_max --model eclip-tiny-vit64 --pretrained $V --scenes 8000 --objects 1-3 --steps 400 --batch-size 64 --lr 5e-4 --warmup 20 --unlock-blocks 3 --device cpu --out /tmp/p12/vit_mm_u3
date
$E train --pooling avg --model eclip-tiny-vit64 --pretrained $V --scenes 8000 --objects 1-3 --steps 400 --batch-size 64 --lr 5e-4 --warmup 20 --unlock-blocks 3 --device cpu --out /tmp/p12/vit_avg_u3
date
$E train --pooling avg --model eclip-tiny-rn224 --pretrained $R --scenes 4000 --objects 1-3 --steps 300 --batch-size 64 --lr 3e-4 --warmup 20 --unlock-blocks 2 --device cpu --out /tmp/p12/rn_avg_u2
date
