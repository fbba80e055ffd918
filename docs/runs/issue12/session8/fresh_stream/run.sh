cd /work/main
export OMP_NUM_THREADS=1
E=.venv/bin/eclip-desktop
R=RUN
$E train --pooling native --model eclip-tiny-vit64 --init resources/models/eclip-shapes-vit-ft/base/native.safetensors --fresh-scenes --data-seed 50 --seed 5 --objects 1-3 --steps 2000 --batch-size 128 --lr 0.0003 --warmup 50 --eval-every 500 --checkpoint-every 250 --device cpu --out $R/base
for d in gen:300 shapes:500 gen2:300; do $E eval --dataset $d --model eclip-tiny-vit64 --pretrained $R/base/native.safetensors --pooling native --device cpu --json $R/ev_${d/:/}.json; done
echo DONE
