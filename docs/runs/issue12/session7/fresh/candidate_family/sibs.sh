cd /work/main
export OMP_NUM_THREADS=1
E=.venv/bin/eclip-desktop
B=/work/runs/fresh/native.safetensors
ft() { $E train --pooling $1 --model eclip-tiny-vit64 --pretrained $B --scenes 8000 --objects 1-3 --steps 400 --batch-size 64 --lr 0.0005 --warmup 20 --unlock-blocks 3 $2 --device cpu --out /work/runs/freshfam/sib_$1 > /work/runs/freshfam/sib_$1.log 2>&1; }
(ft native ""; ft max "") &
(ft avg ""; ft masked_max "--tau topk") &
wait
mkdir -p /work/runs/freshfam/family
for p in native avg max masked_max; do cp /work/runs/freshfam/sib_$p/$p.safetensors /work/runs/freshfam/sib_$p/$p.json /work/runs/freshfam/family/; done
$E eval --dataset gen:300 --model /work/runs/freshfam/family --pooling all --device cpu --json /work/runs/freshfam/ev_gen300.json > /work/runs/freshfam/ev_gen300.log 2>&1 &
OMP_NUM_THREADS=1 $E eval --dataset gen2:300 --model /work/runs/freshfam/family --pooling all --device cpu --json /work/runs/freshfam/ev_gen2300.json > /work/runs/freshfam/ev_gen2300.log 2>&1
wait
