"""WordNet 3.0 noun hierarchy for concept-based explanations (ConVis).

``provider`` finds WordNet for nltk (offline first); ``hierarchy`` serves noun
synsets, concept sets and glosses from an on-disk cache.
"""
