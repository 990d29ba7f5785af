"""sentence-transformers modules for the options ST has no module for: hidden layer selection and
PromptBERT mask-token pooling. Imported only by the torch backend."""

from __future__ import annotations

import torch
from sentence_transformers.base.modules.module import Module


class LayerSelect(Module):
    """Replace token_embeddings with the hidden states of layer `layer` (0 = embeddings output; negative
    counts from the last layer). Needs the transformer to return hidden states."""

    config_keys = ["layer"]  # noqa: RUF012 - sentence-transformers declares it a plain class list

    def __init__(self, layer: int):
        super().__init__()
        self.layer = layer

    def forward(self, features: dict, **kwargs) -> dict:
        features["token_embeddings"] = features["all_layer_embeddings"][self.layer]
        return features

    def save(self, output_path: str, *args, safe_serialization: bool = True, **kwargs) -> None:
        self.save_config(output_path)


class MaskTokenPooling(Module):
    """PromptBERT pooling: the sentence vector is the token state at the template's mask token.

    from_end: the mask follows the text in the template, so the last mask token of the input is the
    template's (a text may contain the mask string too); otherwise it is the first.
    """

    config_keys = ["embedding_dimension", "mask_token_id", "from_end"]  # noqa: RUF012

    def __init__(self, embedding_dimension: int, mask_token_id: int, from_end: bool):
        super().__init__()
        self.embedding_dimension = embedding_dimension
        self.mask_token_id = mask_token_id
        self.from_end = from_end

    def forward(self, features: dict, **kwargs) -> dict:
        tokens = features["token_embeddings"]
        is_mask = (features["input_ids"] == self.mask_token_id).to(torch.int32)
        if not bool(is_mask.any(dim=1).all()):
            raise RuntimeError("an input lost its mask token to truncation")  # _fit_to_length prevents this
        positions = torch.arange(is_mask.shape[1], device=is_mask.device)
        if self.from_end:
            index = (is_mask * positions).argmax(dim=1)
        else:
            index = (is_mask * (is_mask.shape[1] - positions)).argmax(dim=1)
        gather = index.view(-1, 1, 1).expand(-1, 1, tokens.shape[-1])
        features["sentence_embedding"] = torch.gather(tokens, 1, gather).squeeze(1)
        return features

    def get_embedding_dimension(self) -> int:
        return self.embedding_dimension

    def save(self, output_path: str, *args, safe_serialization: bool = True, **kwargs) -> None:
        self.save_config(output_path)
