"""No network, ever: the Hugging Face libraries are put in offline mode before they are imported."""

from __future__ import annotations

import os


def force_offline() -> None:
    """Set the offline switches of huggingface_hub and transformers, and quiet their progress bars."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    os.environ["HF_DATASETS_OFFLINE"] = "1"
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
