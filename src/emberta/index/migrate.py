"""The migration job: start (adapter, new index, migration.json), re-encode in blocks, swap in. The files and
what readers do meanwhile are described in migration.py."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np

from emberta.errors import OptionError
from emberta.index import layout
from emberta.index.embedding import encoder_settings
from emberta.index.index import Index
from emberta.index.migration import (
    ADAPTER,
    DEFAULT_FIT_ON,
    FOLDER,
    next_path,
    read_migration,
    swap_in,
    write_state,
)

BLOCK = 512


@layout.reports_full_disk
def migrate_index(path: str | Path, to_model: str, *, encoder_options: dict | None = None, encoder=None,
                  adapter: str | Path | None = None, fit_on: int | None = None, method: str = "procrustes",
                  block: int = BLOCK, batch_size: int = 32,
                  on_start: Callable[[dict], None] | None = None,
                  on_progress: Callable[[int], None] | None = None) -> dict:  # fmt: skip
    """Move the index at `path` to the model `to_model` (load_encoder options `encoder_options`; `encoder`: one
    already loaded). Queries are answered through an adapter from the start: the folder `adapter` (from
    `emberta align fit`, new model -> the index's model) or, by default, one fitted (`method`) on `fit_on`
    documents of the index (default min(5000, documents)): their texts encoded by the new model against their
    stored vectors. Then every document is re-encoded into a new index that replaces this one at the end.
    Run again after a kill, it resumes. on_start(progress) is called once the adapter serves queries;
    on_progress(k) after each block of k documents. Returns the progress at the end."""
    path = Path(path)
    if encoder is None:
        from emberta.encoders import load_encoder

        encoder = load_encoder(to_model, **(encoder_options or {}))
    with Index.open(path, writable=True) as old:
        migration = old.migration
        if migration is not None and migration.fingerprint != encoder.fingerprint:
            raise OptionError(
                f"{path} is already migrating to {migration.target.get('spec')!r} (fingerprint "
                f"{migration.fingerprint[:12]}), not to {to_model!r}; resume that one, or cancel it with "
                f"`emberta index migrate {path} --cancel`"
            )
        encoded: dict[int, np.ndarray] = {}
        if migration is None:
            if encoder.fingerprint == old.config["fingerprint"]:
                raise OptionError(f"{path} already holds vectors of {to_model!r}; nothing to migrate")
            encoded = _start(old, to_model, encoder_options, encoder, adapter, fit_on, method)
            migration = read_migration(path)
        elif adapter is not None or fit_on is not None:
            raise OptionError(f"{path}: the migration is resumed with the adapter it started with; drop --adapter "
                              "and --fit-on, or cancel it first (--cancel)")  # fmt: skip
        if on_start is not None:
            on_start(migration.progress())
        with Index.open(next_path(path), writable=True, encoder=encoder) as new:
            _copy_documents(old, new, encoder, block, batch_size, on_progress, encoded)
            new.flush()
        final = migration.progress()
        swap_in(path)
    return final


def _start(old: Index, to_model: str, encoder_options: dict | None, encoder, adapter_folder, fit_on,
           method) -> dict[int, np.ndarray]:  # fmt: skip
    """Write the adapter and the empty new index, then migration.json (the start). Returns the new model's
    vectors of the documents a fitted adapter was fitted on, by slot, so that re-encoding reuses them."""
    path = old.path
    shutil.rmtree(path / FOLDER, ignore_errors=True)  # what a start killed before migration.json left
    shutil.rmtree(next_path(path), ignore_errors=True)
    settings = encoder_settings(to_model, encoder_options, encoder)
    if adapter_folder is not None:
        if fit_on is not None:
            raise OptionError("give --adapter or --fit-on, not both")
        adapter, maps_to, encoded = _checked_adapter(adapter_folder, old, encoder), "encoder", {}
    else:
        (adapter, encoded), maps_to = _fitted_adapter(old, to_model, encoder, settings, fit_on, method), "index"
    (path / FOLDER).mkdir(exist_ok=True)
    adapter.save(path / FOLDER / ADAPTER)
    config = layout.new_config(settings, encoder.fingerprint, encoder.dim, old.ann_spec.as_dict(), False)
    config["migrated_from"] = {"encoder": old.config.get("encoder"), "fingerprint": old.config["fingerprint"]}
    Index.initialise(next_path(path), config, [], encoder=encoder).close()
    write_state(path, {**settings, "dim": int(encoder.dim)}, maps_to, len(old))
    return encoded


def _checked_adapter(folder, old: Index, encoder):
    """The adapter in `folder`, which must map the new model's vectors into the index's model's."""
    from emberta.align import Adapter

    adapter = Adapter.load(folder)
    if adapter.source["fingerprint"] != encoder.fingerprint:
        raise OptionError(
            f"{folder} maps vectors of {adapter.source.get('name')!r} ({adapter.source['fingerprint'][:12]}), not of "
            f"the new model {encoder.name!r} ({encoder.fingerprint[:12]}); fit one with `emberta align fit --source "
            f"NEW --target OLD`"
        )
    if adapter.target["fingerprint"] != old.config["fingerprint"]:
        raise OptionError(
            f"{folder} maps into the space of {adapter.target.get('name')!r} ({adapter.target['fingerprint'][:12]}), "
            f"but {old.path} holds vectors of fingerprint {old.config['fingerprint'][:12]}; fit one with the "
            "index's model as --target"
        )
    return adapter


def _fitted_adapter(old: Index, to_model: str, encoder, settings: dict, fit_on: int | None, method: str):
    """An adapter fitted on up to `fit_on` documents: the new model's vectors of their texts against the vectors
    the index stores for them (so the old model need not be loaded). Returns (adapter, {slot: new vector})."""
    from emberta.align import Adapter, fit_pairs, model_record

    live = np.sort(old.store.live_slots())
    n = min(DEFAULT_FIT_ON if fit_on is None else fit_on, len(live))
    if n < 2:
        raise OptionError(f"{old.path} holds {len(live)} documents; fitting an adapter needs at least 2 (or give "
                          "--adapter from `emberta align fit`)")  # fmt: skip
    chosen = np.sort(np.random.default_rng(0).choice(live, size=n, replace=False))
    docs = old.store.documents(chosen)
    texts = [docs[int(s)][1] for s in chosen]
    source = encoder.encode(texts, prompt_name=settings["document_prompt_name"], show_progress=False)
    target = np.asarray(old.vectors.view(old.slots)[chosen], dtype=np.float32)
    transform, report = fit_pairs(source, target, method)
    old_side = {"name": (old.config.get("encoder") or {}).get("name"), "spec": (old.config.get("encoder") or {})
                .get("spec"), "fingerprint": old.config["fingerprint"], "dim": old.dim, "space": "index"}  # fmt: skip
    adapter = Adapter(transform, model_record(to_model, encoder), old_side, method, report)
    return adapter, dict(zip(chosen.tolist(), source, strict=True))


def _copy_documents(old: Index, new: Index, encoder, block: int, batch_size: int, on_progress,
                    encoded: dict[int, np.ndarray]) -> None:  # fmt: skip
    """Every live document of `old`, in slot order, encoded by `encoder` into `new`, one commit per block;
    documents `new` already holds (a resumed run) are skipped, and those in `encoded` (slot -> vector, the
    adapter's fitting sample) are not encoded again."""
    prompt = (new.config.get("encoder") or {}).get("document_prompt_name")
    live = np.sort(old.store.live_slots())
    for start in range(0, len(live), block):
        chunk = live[start : start + block]
        docs = old.store.documents(chunk)
        present = new.store.existing([docs[int(s)][0] for s in chunk])
        slots = [int(s) for s in chunk if docs[int(s)][0] not in present]
        rows = [docs[s] for s in slots]
        if rows:
            vectors = np.zeros((len(slots), encoder.dim), dtype=np.float32)
            missing = [i for i, s in enumerate(slots) if s not in encoded]
            if missing:
                vectors[missing] = encoder.encode([rows[i][1] for i in missing], prompt_name=prompt,
                                                  batch_size=batch_size, show_progress=False)  # fmt: skip
            for i, s in enumerate(slots):
                if s in encoded:
                    vectors[i] = encoded[s]
            new.add([r[1] for r in rows], [r[0] for r in rows], [r[2] for r in rows], vectors=vectors,
                    fingerprint=encoder.fingerprint, save_ann=False)  # fmt: skip
        if on_progress is not None:
            on_progress(len(chunk))
