"""ConVis: saliency maps for WordNet concepts from window ranks (docs/CONVIS.md)."""
from eclip_desktop.core.convis.engine import ConceptMap, ConVis, RankMatrix
from eclip_desktop.core.convis.gloss_bank import (
           GlossBank,
           convis_cache_dir,
           load_gloss_bank,
)
from eclip_desktop.core.convis.sets import concept_set_by_name, shapes_concept_set
from eclip_desktop.core.convis.windows import WindowParams

__all__ = ["ConVis", "ConceptMap", "RankMatrix", "GlossBank", "WindowParams", "convis_cache_dir",
           "load_gloss_bank", "concept_set_by_name", "shapes_concept_set"]
