"""Task types as pure functions of (embeddings, gold data) -> metrics, following MTEB's protocol.

Nothing here imports torch or the encoders: any float32 (n, dim) matrix can be scored.
"""
