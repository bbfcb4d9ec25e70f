"""Reading embeddings and checkpoints, writing results.

``load_array`` reads .npy/.npz/.pt/.pth/.safetensors/.csv/.parquet without ever unpickling code;
``iter_array_chunks``/``array_shape`` read the same files in row chunks (one pass, one chunk in memory);
``load_checkpoint`` loads model checkpoints safely (:mod:`~infossl.io.safe_load`: ``weights_only``,
safetensors; pickled modules and TorchScript only when trusted explicitly), ``is_checkpoint`` tells them from
embeddings (:mod:`~infossl.io.detect`), ``save_checkpoint`` / ``read_training_checkpoint`` write and read the
``infossl train`` format (:mod:`~infossl.io.train_format` defines it) and ``strip_prefixes``/``load_weights``
fit a state dict to a model (:mod:`~infossl.io.weights`); ``load_digits``/``load_inputs``/
``load_data`` give the inputs models run on;
``write_text_atomic``, ``save_json_atomic``, ``save_csv_atomic`` and ``save_figure_atomic`` write output files
atomically (a temporary file, then a rename), so an interrupted run never leaves a partial file.
"""

from infossl.io.detect import is_checkpoint
from infossl.io.embeddings import (
    SUPPORTED_SUFFIXES,
    load_array,
    save_csv_atomic,
    save_figure_atomic,
    save_json_atomic,
    write_text_atomic,
)
from infossl.io.inputs import load_data, load_digits, load_inputs
from infossl.io.locks import LockHeldError, lock_output_file, lock_run_dir
from infossl.io.safe_load import (Checkpoint, CheckpointSecurityWarning, load_checkpoint,
                                  read_training_checkpoint)
from infossl.io.streaming import array_shape, iter_array_chunks
from infossl.io.train_format import save_checkpoint
from infossl.io.weights import load_weights, strip_prefixes

__all__ = [
    "Checkpoint",
    "CheckpointSecurityWarning",
    "LockHeldError",
    "SUPPORTED_SUFFIXES",
    "array_shape",
    "is_checkpoint",
    "iter_array_chunks",
    "load_array",
    "load_checkpoint",
    "load_data",
    "load_digits",
    "load_inputs",
    "load_weights",
    "lock_output_file",
    "lock_run_dir",
    "read_training_checkpoint",
    "save_checkpoint",
    "save_csv_atomic",
    "save_figure_atomic",
    "save_json_atomic",
    "strip_prefixes",
    "write_text_atomic",
]
