"""Reading embeddings and writing results.

``load_array`` reads .npy/.npz/.pt/.pth/.safetensors/.csv/.parquet without ever unpickling code;
``save_json_atomic`` and ``write_text_atomic`` write output files atomically.
"""

from infossl.io.embeddings import SUPPORTED_SUFFIXES, load_array, save_json_atomic, write_text_atomic

__all__ = ["SUPPORTED_SUFFIXES", "load_array", "save_json_atomic", "write_text_atomic"]
