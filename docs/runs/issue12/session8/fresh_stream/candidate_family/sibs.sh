cd /work/main
export OMP_NUM_THREADS=1
E=.venv/bin/eclip-desktop
B=docs/runs/issue12/session8/fresh_stream/native.safetensors
R=RUN
ft() { $E train --pooling $1 --model eclip-tiny-vit64 --pretrained $B --scenes 8000 --objects 1-3 --steps 400 --batch-size 64 --lr 0.0005 --warmup 20 --unlock-blocks 3 --tau topk --checkpoint-every 0 --device cpu --out $R/family > $R/sib_$1.log 2>&1; }
(ft native; ft max) &
(ft avg; ft masked_max) &
wait
$E eval --dataset gen:300 --model $R/family --pooling all --device cpu --json $R/ev_gen300.json > $R/ev_gen300.log 2>&1 &
$E eval --dataset gen2:300 --model $R/family --pooling all --device cpu --json $R/ev_gen2300.json > $R/ev_gen2300.log 2>&1
wait
echo DONE
