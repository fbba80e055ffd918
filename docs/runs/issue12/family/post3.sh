#!/bin/bash
while kill -0 $(cat /tmp/p12/post.pid) 2>/dev/null; do sleep 10; done
cd /work/wt12
export PYTHONPATH=/work/wt12 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
E=.venv/bin/eclip-desktop
F=resources/models/eclip-shapes-vit-ft
B=$F/base/native.safetensors
for P in avg masked_max; do
  date; echo "== seed1 $P"
  $E train --pooling $P --model eclip-tiny-vit64 --pretrained $B --scenes 8000 --objects 1-3 --steps 400 --batch-size 64 --lr 0.0005 --warmup 20 --unlock-blocks 3 --seed 1 --device cpu --checkpoint-every 0 --out /tmp/p12/seed1 2>&1 | tail -1
  $E eval --dataset gen:300 --model eclip-tiny-vit64 --pretrained /tmp/p12/seed1/$P.safetensors --pooling $P --device cpu --json /tmp/p12/ev_seed1_$P.json | tail -1
done
date; echo "== remedy from avg 1600"
$E train --pooling masked_max --model eclip-tiny-vit64 --pretrained $F/avg.safetensors --guide $B --scenes 8000 --objects 1-3 --steps 1600 --batch-size 64 --lr 0.0005 --warmup 20 --unlock-blocks 3 --device cpu --checkpoint-every 0 --out /tmp/p12/remedy_1600 2>&1 | tail -1
$E eval --dataset gen:300 --model eclip-tiny-vit64 --pretrained /tmp/p12/remedy_1600/masked_max.safetensors --pooling masked_max --device cpu --json /tmp/p12/ev_remedy_1600.json | tail -1
date; echo "== convis"
$E eval --dataset shapes:100 --method convis --model eclip-shapes-vit-ft --pooling native --pooling masked_max --device cpu --json /tmp/p12/ev_convis.json 2>&1 | tail -4
date; echo done
