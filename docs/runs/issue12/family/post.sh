#!/bin/bash
# Runs after the family: evaluation, fine-tune curve, remedy from the shifted sibling, other families on the suite.
while kill -0 $(cat /tmp/p12/base2.pid) 2>/dev/null; do sleep 10; done
cd /work/wt12
export PYTHONPATH=/work/wt12 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
E=.venv/bin/eclip-desktop
F=/tmp/p12/fam2
B=$F/base/native.safetensors
date; echo "== family eval"
.venv/bin/python packaging/scripts/evaluate_family.py --family $F --gen 300 --shapes 500 --methods itsm surgery --device cpu --json /tmp/p12/fam2_eval.json
date; echo "== base eval"
$E eval --dataset gen:300 --model eclip-tiny-vit64 --pretrained $B --pooling native --device cpu --json /tmp/p12/ev_base_gen300.json | tail -1
$E eval --dataset shapes:500 --model eclip-tiny-vit64 --pretrained $B --pooling native --device cpu --json /tmp/p12/ev_base_shapes500.json | tail -1
for P in avg masked_max; do for N in 50 100 200 800; do
  date; echo "== curve $P $N"
  $E train --pooling $P --model eclip-tiny-vit64 --pretrained $B --scenes 8000 --objects 1-3 --steps $N --batch-size 64 --lr 0.0005 --warmup 20 --unlock-blocks 3 --device cpu --checkpoint-every 0 --out /tmp/p12/curve/${P}_$N 2>&1 | tail -1
  $E eval --dataset gen:300 --model eclip-tiny-vit64 --pretrained /tmp/p12/curve/${P}_$N/$P.safetensors --pooling $P --device cpu --json /tmp/p12/ev_curve_${P}_${N}.json | tail -1
done; done
for N in 100 400; do
  date; echo "== remedy from avg $N"
  $E train --pooling masked_max --model eclip-tiny-vit64 --pretrained $F/avg.safetensors --guide $B --scenes 8000 --objects 1-3 --steps $N --batch-size 64 --lr 0.0005 --warmup 20 --unlock-blocks 3 --device cpu --checkpoint-every 0 --out /tmp/p12/remedy_$N 2>&1 | tail -1
  $E eval --dataset gen:300 --model eclip-tiny-vit64 --pretrained /tmp/p12/remedy_$N/masked_max.safetensors --pooling masked_max --device cpu --json /tmp/p12/ev_remedy_$N.json | tail -1
done
date; echo "== other families on gen:300"
$E eval --dataset gen:300 --model eclip-shapes-vit --pooling all --device cpu --json /tmp/p12/ev_famvit_gen300.json | tail -5
$E eval --dataset gen:300 --model eclip-shapes --pooling all --device cpu --json /tmp/p12/ev_famrn_gen300.json | tail -5
date; echo done
