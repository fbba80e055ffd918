"""The recipe of the embedded family (docs/RESULTS.md), as the defaults of `eclip-desktop train`.

Kept apart from the trainer so the command line can show these defaults without importing torch.
The tiny ResNet at 128 px learns shape within the CPU budget; the tiny ViTs stayed near chance there.
Colour-free names come first in the caption mix: with the colour in every caption, colour alone
explains most of a batch and the models sat on that plateau; glosses teach the text tower what
ConVis reads.
"""
ARCHITECTURE = "eclip-tiny-rn128"
SCENES = 10000
STEPS = 2400
BATCH_SIZE = 128
OBJECTS = "1"
CAPTIONS = "name:0.35,template:0.25,short:0.2,gloss:0.1,hypernym_gloss:0.1"
