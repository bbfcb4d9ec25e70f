"""Reading embeddings and writing results.

``load_array`` reads .npy/.npz/.pt/.pth/.safetensors/.csv/.parquet without ever unpickling code;
``write_text_atomic``, ``save_json_atomic``, ``save_csv_atomic`` and ``save_figure_atomic`` write output files
atomically (a temporary file, then a rename), so an interrupted run never leaves a partial file.
"""

from infossl.io.embeddings import (SUPPORTED_SUFFIXES, load_array, save_csv_atomic, save_figure_atomic, save_json_atomic,
                                   write_text_atomic)

__all__ = ["SUPPORTED_SUFFIXES", "load_array", "save_csv_atomic", "save_figure_atomic", "save_json_atomic",
           "write_text_atomic"]
