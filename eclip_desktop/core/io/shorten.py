"""Long messages shortened at a word boundary, never inside a token: a path, a number or a tensor
shape cut in half ("torch.Size([768, 3") reads as a different, wrong value."""
from __future__ import annotations

ELLIPSIS = "\u2026"


def shorten(text: str, limit: int) -> str:
    """`text` when it fits in `limit` characters; else its words up to the limit and an ellipsis. A first
    word longer than the limit is kept whole: a long token is better than a wrong one."""
    text = " ".join(str(text).split())
    if len(text) <= limit:
        return text
    head = text[:limit + 1]
    cut = head.rfind(" ")
    if cut <= 0:
        return text.split(" ", 1)[0] + (ELLIPSIS if " " in text else "")
    return text[:cut].rstrip(",;:") + ELLIPSIS
