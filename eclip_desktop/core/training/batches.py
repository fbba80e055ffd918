"""What a run draws at each step: a random batch of a fixed data set (Shapes World scenes or a caption
folder), or the next batch of a stream of fresh scenes; and the pixels the model sees."""
from __future__ import annotations

import time

import numpy as np
import torch

from eclip_desktop.core.training.config import TrainConfig
from eclip_desktop.core.training.data import caption_folder_data, fresh_scene_batches, shapes_training_data

_MEAN = (0.48145466, 0.4578275, 0.40821073)
_STD = (0.26862954, 0.26130258, 0.27577711)


def pixels(batch: np.ndarray, device) -> torch.Tensor:
    """(B, H, W, 3) uint8 images -> the model's normalised (B, 3, H, W) input on `device`."""
    x = torch.from_numpy(batch).to(device).permute(0, 3, 1, 2).float() / 255.0
    mean = torch.tensor(_MEAN, device=device).view(1, 3, 1, 1)
    std = torch.tensor(_STD, device=device).view(1, 3, 1, 1)
    return (x - mean) / std


def caption_ids(captions) -> torch.Tensor:
    """One id per distinct caption: equal captions are each other's positives."""
    return torch.tensor(np.unique(np.array(captions), return_inverse=True)[1])


def _as_is(item):
    return item


def _one_thread(_worker_id: int) -> None:
    torch.set_num_threads(1)
    _die_with_parent()


def _die_with_parent() -> None:
    """Linux: the kernel sends this worker SIGKILL when the training process dies, however it dies
    (kill -9 included); a worker left behind held ~540 MB and a core."""
    import ctypes
    import signal
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return  # not Linux: the DataLoader's own parent check stops it within seconds


class _FreshScenes(torch.utils.data.IterableDataset):
    def __init__(self, cfg: TrainConfig, size: int, kinds, n_objects, start: int, rank: int, world: int):
        super().__init__()
        self.args = (cfg.data_seed, size, cfg.batch_size, start, cfg.steps, rank, world, kinds, n_objects)

    def __iter__(self):
        return fresh_scene_batches(*self.args)


def _fresh_stream(cfg: TrainConfig, size: int, kinds, n_objects, start: int, rank: int, world: int):
    """The batches of a --fresh-scenes run from `start` on, drawn by one worker process ahead of the
    training loop (on a 2-core machine it uses the core training leaves free)."""
    loader = torch.utils.data.DataLoader(_FreshScenes(cfg, size, kinds, n_objects, start, rank, world),
                                         batch_size=None, collate_fn=_as_is, num_workers=1, prefetch_factor=4,
                                         worker_init_fn=_one_thread)
    return iter(loader)


class Batches:
    """The run's data, prepared once (timed for the card); `begin(start)` then `next()` per step."""

    def __init__(self, cfg: TrainConfig, size: int, tokenizer, kinds, n_objects, rank: int, world: int):
        self.cfg, self.size, self.tokenizer = cfg, size, tokenizer
        self.kinds, self.n_objects, self.rank, self.world = kinds, n_objects, rank, world
        t0 = time.perf_counter()
        self.data = None
        if cfg.fresh_scenes:
            self.items, self.source, self.skipped = cfg.steps * cfg.batch_size * world, f"shapes:fresh:{cfg.data_seed}", 0
        else:
            self.data = (shapes_training_data(cfg.data_seed, cfg.scenes, size, kinds, n_objects) if cfg.data == "shapes"
                         else caption_folder_data(cfg.data, size))
            self.items, self.source, self.skipped = len(self.data.captions), self.data.source, len(self.data.skipped)
            self.tokens = tokenizer(self.data.captions)
            self.caption_ids = caption_ids(self.data.captions)
        self.prepare_seconds = time.perf_counter() - t0
        self.stream = None

    def begin(self, start: int) -> None:
        """Draws from step `start` on (a resumed run continues the fresh stream where it stopped)."""
        cfg = self.cfg
        # One generator for the whole run, replayed up to `start`: a resumed run draws the batches an
        # uninterrupted one would (seeding at `start` instead gave other batches and other weights).
        self.gen = torch.Generator().manual_seed(cfg.seed * 1000 + self.rank)
        if cfg.fresh_scenes:
            self.stream = _fresh_stream(cfg, self.size, self.kinds, self.n_objects, start, self.rank, self.world)
        else:
            for _ in range(start):
                self._draw()

    def _draw(self) -> torch.Tensor:
        n = self.items
        return torch.randint(0, n, (min(self.cfg.batch_size, n),), generator=self.gen)

    def close(self) -> None:
        """Stops the fresh-scene worker process now (it would otherwise outlive an interrupted run)."""
        stream, self.stream = self.stream, None
        shutdown = getattr(stream, "_shutdown_workers", None)
        if shutdown is not None:
            shutdown()

    def next(self) -> tuple[np.ndarray, torch.Tensor, torch.Tensor]:
        """(images (B, H, W, 3) uint8, caption tokens, caption ids)."""
        if self.stream is not None:
            images, captions = next(self.stream)
            return images, self.tokenizer(captions), caption_ids(captions)
        idx = self._draw()
        return self.data.images[idx.numpy()], self.tokens[idx], self.caption_ids[idx]

    def card(self) -> dict:
        return {"source": self.source, "items": self.items, "skipped": self.skipped, "seed": self.cfg.data_seed,
                "prepare_seconds": self.prepare_seconds, "fresh_scenes": self.cfg.fresh_scenes}
