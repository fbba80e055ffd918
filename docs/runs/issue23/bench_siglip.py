"""The issue-23 speed target: first map of ViT-B-16-SigLIP against its bare `encode_image`, paired, one
run, CPU, with `eclip-desktop bench`'s own procedure (core/evaluation/bench.py: run_bench).

SigLIP tokenizes with a Hugging Face tokenizer this offline machine cannot fetch, so its tokenizer is
replaced by fixed token ids inside the model's vocabulary: the rows timed here ("first map", "switch
text, embedding cached") do not encode text inside the timed region; "new text encoded" rows time the
text tower on those ids. Random weights (the timing does not depend on them).

    python docs/runs/issue23/bench_siglip.py [repeats] > docs/runs/issue23/bench_siglip.txt
"""
import json
import sys

import torch

import eclip_desktop.core.model.loading as loading
from eclip_desktop.core.evaluation.bench import run_bench
from eclip_desktop.core.model.spec import ModelSpec


def fixed_ids(architecture):
    import open_clip
    text = open_clip.get_model_config(architecture)["text_cfg"]
    context, vocab = int(text.get("context_length", 64)), int(text.get("vocab_size", 32000))

    def tokenize(texts):
        return torch.stack([torch.arange(1, context + 1) * (1 + len(t)) % (vocab - 1) + 1 for t in texts])
    return tokenize


loading.build_tokenizer = fixed_ids
repeats = int(sys.argv[1]) if len(sys.argv) > 1 else 9
result = run_bench(ModelSpec("ViT-B-16-SigLIP", "random", "cpu"), repeats=repeats, methods=["itsm", "surgery"])
print(result["table"])
print(json.dumps({k: v for k, v in result.items() if k != "table"}, indent=1))
