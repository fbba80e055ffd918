set -x
cd /work/main
export OMP_NUM_THREADS=1
E=.venv/bin/eclip-desktop
P=/work/runs/listprobe
FRESH=docs/runs/issue12/session7/fresh/native.safetensors
LIST=name:0.25,template:0.2,short:0.15,gloss:0.1,hypernym_gloss:0.1,list:0.2
base() { $E train --pooling native --model eclip-tiny-vit64 --init $FRESH --scenes 30000 --data-seed 30 --seed 4 --objects 1-3 --steps 500 --batch-size 128 --lr 0.0003 --warmup 50 --eval-every 0 --checkpoint-every 0 --device cpu "$@"; }
ft() { $E train --pooling masked_max --model eclip-tiny-vit64 --scenes 8000 --objects 1-3 --steps 400 --batch-size 64 --lr 0.0005 --warmup 20 --unlock-blocks 3 --tau topk --checkpoint-every 0 --device cpu "$@"; }
ev() { for k in 2 1; do $E eval --dataset shapes:200:1000:$k --model eclip-tiny-vit64 --pretrained $1/masked_max.safetensors --pooling masked_max --device cpu --json $1/shapes_$k.json; done
       $E eval --dataset gen:200:2000:2 --model eclip-tiny-vit64 --pretrained $1/masked_max.safetensors --pooling masked_max --device cpu --json $1/gen_2.json; }
base --captions $LIST --out $P/base_list
ft --pretrained $P/base_list/native.safetensors --out $P/ft_list
ev $P/ft_list
base --out $P/base_ctrl
ft --pretrained $P/base_ctrl/native.safetensors --out $P/ft_ctrl
ev $P/ft_ctrl
ft --pretrained $P/base_list/native.safetensors --captions $LIST --out $P/ft_list2
ev $P/ft_list2
echo PROBE DONE
