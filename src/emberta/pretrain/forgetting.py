"""Active forgetting: re-initialise the token embeddings every K steps of pretraining."""

from __future__ import annotations

import torch
from transformers import TrainerCallback


def reset_token_embeddings(model, std: float, optimizer=None) -> None:
    """Draw the model's input token embeddings anew from N(0, std²) (the padding row, if any, zeroed) and clear
    the optimizer's running moments of that matrix. A tied output layer shares the matrix and is reset with it."""
    embedding = model.get_input_embeddings()
    with torch.no_grad():
        embedding.weight.normal_(mean=0.0, std=std)
        if getattr(embedding, "padding_idx", None) is not None:
            embedding.weight[embedding.padding_idx].zero_()
    if optimizer is not None:
        state = optimizer.state.get(embedding.weight)
        for value in (state or {}).values():
            if torch.is_tensor(value) and value.shape == embedding.weight.shape:
                value.zero_()


class ActiveForgetting(TrainerCallback):
    """Active forgetting (Chen et al. 2023, "Improving Language Plasticity via Pretraining with Active
    Forgetting", NeurIPS): during pretraining the token embedding layer is re-initialised every `every` updates
    while the body keeps learning, so the body learns to work with embeddings it has just met; such a model
    later adapts to a new language (new embeddings, frozen body) faster and with less data.

    every: K, the reset period in optimizer steps (the paper uses 1000 on long runs). std: the
    initialisation's standard deviation (the model config's initializer_range). No reset happens on the last
    step, so the saved model keeps trained embeddings.

    >>> trainer.add_callback(ActiveForgetting(every=100, std=model.config.initializer_range))
    """

    def __init__(self, every: int, std: float = 0.02):
        if every < 1:
            raise ValueError("every must be at least 1")
        self.every = every
        self.std = std
        self.resets = 0

    def on_step_end(self, args, state, control, model=None, optimizer=None, **kwargs):
        step = state.global_step
        if model is not None and step % self.every == 0 and step < state.max_steps:
            reset_token_embeddings(model, self.std, optimizer)
            self.resets += 1
        return control
