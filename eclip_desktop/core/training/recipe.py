"""The recipe of the embedded family (docs/RESULTS.md): the defaults of `eclip-desktop train` are its
first stage, STAGE2 its second.

Kept apart from the trainer so the command line can show these defaults without importing torch.
Stage 1 learns shape cheaply at 128 px (4x4 tokens). The tiny ResNet at 128 px learns shape within
the CPU budget; the tiny ViTs stayed near chance there. Colour-free names come first in the caption
mix: with the colour in every caption, colour alone explains most of a batch and the models sat on
that plateau; glosses teach the text tower what ConVis reads.
Stage 2 continues every parameter at 224 px (`train --init`), where the 7x7 token grid can point at
an object at all: a perfect 4x4 map scores pointing 0.57-0.64 on these scenes, a 7x7 one 0.98.
"""
ARCHITECTURE = "eclip-tiny-rn128"
SCENES = 10000
STEPS = 2400
BATCH_SIZE = 128
OBJECTS = "1"
CAPTIONS = "name:0.35,template:0.25,short:0.2,gloss:0.1,hypernym_gloss:0.1"

# Stage 2: `train --model FAMILY_ARCHITECTURE --init <stage-1 weights>` with these settings.
FAMILY_ARCHITECTURE = "eclip-tiny-rn224"
STAGE2 = {"architecture": FAMILY_ARCHITECTURE, "scenes": 8000, "steps": 600, "batch_size": 64, "lr": 5e-4,
          "warmup": 50}
