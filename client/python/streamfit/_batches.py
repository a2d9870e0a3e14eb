"""Splits numpy arrays or iterables of rows into packed DenseBatch chunks.

A 2-D numpy array is sliced without copying row by row; any other iterable of
rows is read `batch_size` rows at a time, so an input of any length is held in
memory one chunk at a time.
"""

import itertools
from typing import Any, Iterable, Iterator, Optional, Tuple

import numpy as np


def row_chunks(X: Any, batch_size: int) -> Iterator[np.ndarray]:
    """2-D float32 arrays of at most batch_size rows of X, all one width.

    Raises ValueError when X is not two-dimensional or a row's width differs.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    if isinstance(X, np.ndarray):
        if X.ndim != 2:
            raise ValueError(f"X must be 2-D (rows, features), got shape "
                             f"{X.shape}")
        for start in range(0, X.shape[0], batch_size):
            yield np.ascontiguousarray(X[start:start + batch_size],
                                       dtype=np.float32)
        return
    width = None
    rows = iter(X)
    row_index = 0
    while True:
        chunk = list(itertools.islice(rows, batch_size))
        if not chunk:
            return
        try:
            array = np.asarray(chunk, dtype=np.float32)
        except ValueError as e:
            raise ValueError(f"rows {row_index}..{row_index + len(chunk) - 1} "
                             f"of X do not form a 2-D array: {e}") from None
        if array.ndim != 2:
            raise ValueError(f"X must be an iterable of rows, got rows of "
                             f"shape {array.shape[1:]}")
        if width is None:
            width = array.shape[1]
        elif array.shape[1] != width:
            raise ValueError(f"rows {row_index}.. of X have {array.shape[1]} "
                             f"features, the first rows {width}")
        row_index += len(chunk)
        yield array


def value_chunks(values: Optional[Iterable[float]], batch_size: int,
                 dtype: Any) -> Iterator[Optional[np.ndarray]]:
    """1-D arrays of at most batch_size values; forever None if values is
    None."""
    if values is None:
        yield from itertools.repeat(None)
        return
    if isinstance(values, np.ndarray):
        flat = np.ravel(values)
        for start in range(0, flat.shape[0], batch_size):
            yield np.asarray(flat[start:start + batch_size], dtype=dtype)
        return
    it = iter(values)
    while True:
        chunk = list(itertools.islice(it, batch_size))
        if not chunk:
            return
        yield np.asarray(chunk, dtype=dtype)


def labeled_chunks(X: Any, y: Iterable[float],
                   weights: Optional[Iterable[float]], batch_size: int
                   ) -> Iterator[Tuple[np.ndarray, np.ndarray,
                                       Optional[np.ndarray]]]:
    """(rows, labels, weights or None) chunks; ValueError if X, y and weights
    do not have the same length."""
    _check_lengths(X, y, weights)
    row_it = row_chunks(X, batch_size)
    label_it = value_chunks(y, batch_size, np.float64)
    weight_it = value_chunks(weights, batch_size, np.float32)
    seen = 0
    for rows in row_it:
        labels = next(label_it, None)
        _check_chunk("y", labels, rows.shape[0], seen)
        w = next(weight_it, None)
        if weights is not None:
            _check_chunk("weights", w, rows.shape[0], seen)
        seen += rows.shape[0]
        yield rows, labels, w
    if next(label_it, None) is not None:
        raise ValueError(f"y has more values than X has rows ({seen})")
    if weights is not None and next(weight_it, None) is not None:
        raise ValueError(f"weights has more values than X has rows ({seen})")


def _check_lengths(X: Any, y: Any, weights: Any) -> None:
    """Compares lengths up front when all inputs have one."""
    try:
        rows = len(X)
        named = [("y", len(y))]
        if weights is not None:
            named.append(("weights", len(weights)))
    except TypeError:  # an iterator: checked chunk by chunk
        return
    for name, length in named:
        if length != rows:
            more = "more" if length > rows else "fewer"
            raise ValueError(f"{name} has {more} values ({length}) than X has "
                             f"rows ({rows})")


def _check_chunk(name: str, chunk: Optional[np.ndarray], rows: int,
                 seen: int) -> None:
    length = 0 if chunk is None else chunk.shape[0]
    if length < rows:
        raise ValueError(f"{name} has fewer values than X has rows (X has "
                         f"more than {seen + length})")
    if length > rows:
        raise ValueError(f"{name} has more values than X has rows "
                         f"({seen + rows})")
