"""Client: the streamfit.v1.Learner service as Python methods.

Every method makes its RPCs on one shared channel and raises StreamfitError
(carrying the gRPC status code and message) when a call fails. A Client may be
used from several threads at once; close() it (or use it as a context manager)
when done.
"""

import hashlib
import os
import sys
import threading
from typing import (Any, Callable, Dict, Iterable, Iterator, List,
                    Optional, Sequence, Tuple, Union)

import grpc
import numpy as np

from streamfit import _batches, _enums
from streamfit.errors import StreamfitError
from streamfit.v1 import streamfit_pb2 as pb2
from streamfit.v1 import streamfit_pb2_grpc as pb2_grpc

ArrayLike = Any  # a 2-D numpy array or an iterable of rows
ProgressFn = Callable[[int, int], None]

_TERMINAL_JOB_STATES = frozenset({
    pb2.RETRAIN_SUCCEEDED, pb2.RETRAIN_FAILED, pb2.RETRAIN_CANCELLED,
    pb2.RETRAIN_ABORTED})


def _read_file(path: Optional[str]) -> Optional[bytes]:
    if path is None:
        return None
    with open(path, "rb") as f:
        return f.read()


class _Watch:
    """An iterator over a WatchModel stream's events; ends at its deadline
    or once cancelled, raises StreamfitError for any other end."""

    def __init__(self, call: Any) -> None:
        self._call = call

    def __iter__(self) -> "_Watch":
        return self

    def __next__(self) -> pb2.ModelEvent:
        try:
            return next(self._call)
        except grpc.RpcError as e:
            if e.code() in (grpc.StatusCode.DEADLINE_EXCEEDED,
                            grpc.StatusCode.CANCELLED):
                raise StopIteration from None
            raise StreamfitError.from_rpc_error(e) from None

    def cancel(self) -> None:
        self._call.cancel()


class Client:
    """A connection to a streamfit server.

    Args:
      address: "host:port" of the server.
      tls: connect with TLS (server certificate checked against `ca_file`, or
        the system's roots without it).
      token: sent as "authorization: Bearer <token>" on every call.
      ca_file, cert_file, key_file: PEM files for TLS; cert_file and key_file
        present a client certificate (mutual TLS).
      timeout: deadline in seconds of each unary call (streams of samples
        and retrain waits have none unless given).
      options: extra gRPC channel options, (name, value) pairs.
    """

    def __init__(self, address: str = "127.0.0.1:50051", *, tls: bool = False,
                 token: Optional[str] = None, ca_file: Optional[str] = None,
                 cert_file: Optional[str] = None,
                 key_file: Optional[str] = None, timeout: float = 30.0,
                 options: Sequence[Tuple[str, Any]] = ()) -> None:
        channel_options = [("grpc.max_receive_message_length", 256 << 20),
                           ("grpc.max_send_message_length", 256 << 20),
                           *options]
        if tls:
            credentials = grpc.ssl_channel_credentials(
                root_certificates=_read_file(ca_file),
                private_key=_read_file(key_file),
                certificate_chain=_read_file(cert_file))
            self._channel = grpc.secure_channel(address, credentials,
                                                channel_options)
        else:
            self._channel = grpc.insecure_channel(address, channel_options)
        self._stub = pb2_grpc.LearnerStub(self._channel)
        self._metadata = ((("authorization", f"Bearer {token}"),)
                          if token else ())
        self.timeout = timeout

    def close(self) -> None:
        """Closes the channel; calls in progress are cancelled."""
        self._channel.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    def _call(self, method: Any, request: Any,
              timeout: Optional[float] = None) -> Any:
        try:
            return method(request, timeout=timeout or self.timeout,
                          metadata=self._metadata)
        except grpc.RpcError as e:
            raise StreamfitError.from_rpc_error(e) from None

    # --- Models ---

    def create_model(self, name: str, task: Union[str, int] = "regression",
                     num_features: int = 0, **config: Any) -> pb2.ModelInfo:
        """Creates a model and returns its ModelInfo.

        Args:
          name: the model's name (ALREADY_EXISTS if taken).
          task: "regression", "binary" or "multiclass" (or a pb2.Task).
          num_features: the dense input width (0: sparse/named inputs only,
            which needs hash_bits).
          **config: any other ModelConfig field: num_classes, schedule
            ("constant", "invscaling"), learning_rate, power_t, l1, l2,
            disable_standardization, optimizer ("sgd", "adagrad", "ftrl",
            "adam", "normalized", "rls"), loss ("squared", "huber",
            "quantile", "poisson", "logistic", "hinge", "softmax"),
            ftrl_beta, adam_beta1, adam_beta2, huber_delta, quantile_tau,
            max_gradient, rls_ridge, rls_forgetting, hash_bits,
            interactions (["a:b", ("c", "d")]), class_weights, serving
            ("auto", "live", "averaged").
        """
        model_config = pb2.ModelConfig()
        _enums.fill(model_config, {"task": task, "num_features": num_features,
                                   **config})
        return self._call(self._stub.CreateModel, pb2.CreateModelRequest(
            name=name, config=model_config))

    def get_model(self, name: str) -> pb2.ModelInfo:
        """The model's config (defaults filled in), version and metrics."""
        return self._call(self._stub.GetModel, pb2.GetModelRequest(name=name))

    def list_models(self) -> List[pb2.ModelInfo]:
        """Every model, by name."""
        return list(self._call(self._stub.ListModels,
                               pb2.ListModelsRequest()).models)

    def delete_model(self, name: str) -> None:
        """Deletes the model and its data."""
        self._call(self._stub.DeleteModel, pb2.DeleteModelRequest(name=name))

    # --- Samples and predictions ---

    def observe(self, model: str, X: ArrayLike, y: Iterable[float],
                weights: Optional[Iterable[float]] = None, *,
                batch_size: int = 1024, max_in_flight: int = 8,
                progress: Optional[Callable[[int], None]] = None,
                timeout: Optional[float] = None) -> int:
        """Streams labeled examples to `model`; returns its final version.

        The rows go over one ObserveStream in requests of `batch_size` rows,
        at most `max_in_flight` of them unacknowledged; an ack means the
        request is durable and queued for the learner. The returned version is
        the one the model has after the last example; pass it as
        predict(min_version=...) to read your writes.

        Args:
          X: a 2-D array (rows, features) or an iterable of rows; iterables
            are read one batch at a time (bounded memory).
          y: one label per row (array or iterable).
          weights: optional importance weights, one per row.
          progress: called with the number of examples acked so far after
            each ack.
          timeout: an optional deadline in seconds for the whole stream.

        Raises:
          StreamfitError: the server refused a request (its `accepted` says
            how many examples were acked before; they stay applied).
          ValueError: X, y and weights disagree in length or X's rows in
            width; the requests before the bad one were sent and applied.
        """
        def bodies() -> Iterator[Dict[str, Any]]:
            for rows, labels, w in _batches.labeled_chunks(X, y, weights,
                                                           batch_size):
                batch = pb2.DenseBatch(num_features=rows.shape[1])
                batch.values.extend(rows.ravel())
                batch.labels.extend(labels)
                if w is not None:
                    batch.weights.extend(w)
                yield {"dense_batch": batch}

        return self._observe_stream(model, bodies(), max_in_flight, progress,
                                    timeout)

    def observe_examples(self, model: str, examples: Iterable[pb2.Example], *,
                         batch_size: int = 1024, max_in_flight: int = 8,
                         progress: Optional[Callable[[int], None]] = None,
                         timeout: Optional[float] = None) -> int:
        """Streams labeled streamfit.pb2.Example messages to `model`, as
        observe does; returns its final version.

        Examples carry any features: dense, sparse indices, named, or named
        features hashed here with HashedNamespace.add (the fast form).
        """
        def bodies() -> Iterator[Dict[str, Any]]:
            chunk: List[pb2.Example] = []
            for example in examples:
                chunk.append(example)
                if len(chunk) == batch_size:
                    yield {"examples": chunk}
                    chunk = []
            if chunk:
                yield {"examples": chunk}

        return self._observe_stream(model, bodies(), max_in_flight, progress,
                                    timeout)

    def _observe_stream(self, model: str, bodies: Iterator[Dict[str, Any]],
                        max_in_flight: int,
                        progress: Optional[Callable[[int], None]],
                        timeout: Optional[float]) -> int:
        """Sends ObserveRequest(**body) for each of `bodies` over one
        ObserveStream, at most `max_in_flight` unacknowledged."""
        if max_in_flight < 1:
            raise ValueError(f"max_in_flight must be >= 1, got {max_in_flight}")
        window = threading.Semaphore(max_in_flight)
        finished = threading.Event()
        input_errors: List[Exception] = []
        requests_sent = [0]

        def requests() -> Iterator[pb2.ObserveRequest]:
            try:
                for body in bodies:
                    while not window.acquire(timeout=0.1):
                        if finished.is_set():
                            return
                    requests_sent[0] += 1
                    yield pb2.ObserveRequest(
                        model=model if requests_sent[0] == 1 else "", **body)
            except ValueError as e:  # ends the stream; acked requests stay
                input_errors.append(e)

        call = self._stub.ObserveStream(requests(), timeout=timeout,
                                        metadata=self._metadata)
        accepted = 0
        version = None
        try:
            for ack in call:
                window.release()
                accepted += ack.accepted
                version = ack.model_version
                if progress is not None:
                    progress(accepted)
        except grpc.RpcError as e:
            raise StreamfitError.from_rpc_error(e, accepted) from None
        finally:
            finished.set()
            call.cancel()  # no effect once the call ended
        if input_errors:
            raise ValueError(f"{input_errors[0]} ({accepted} examples before "
                             "it were applied)") from input_errors[0]
        if version is None:  # nothing to send
            return self.get_model(model).model_version
        return version

    def _predict_responses(self, model: str, X: ArrayLike,
                           min_version: Optional[int], batch_size: int,
                           timeout: Optional[float],
                           at_version: Optional[int] = None
                           ) -> Iterator[pb2.PredictResponse]:
        for rows in _batches.row_chunks(X, batch_size):
            request = pb2.PredictRequest(model=model,
                                         min_version=min_version or 0)
            if at_version is not None:
                request.at_version = at_version
            request.dense_batch.num_features = rows.shape[1]
            request.dense_batch.values.extend(rows.ravel())
            yield self._call(self._stub.Predict, request, timeout)

    def predict(self, model: str, X: ArrayLike, *,
                min_version: Optional[int] = None,
                at_version: Optional[int] = None, batch_size: int = 4096,
                timeout: Optional[float] = None) -> np.ndarray:
        """One prediction per row of X, as a float64 array of shape [N].

        Regression: the estimate; binary: P(label = 1); multiclass: the most
        likely class. Rows go in requests of `batch_size`; each request's
        predictions come from one model version.

        Args:
          min_version: wait (up to the call's deadline) until the model has
            applied this many samples; DEADLINE_EXCEEDED otherwise.
          at_version: answer as the model was after exactly this many
            samples (bit-identical to what Predict answered then), rebuilt
            on the server; OUT_OF_RANGE once its data directory no longer
            holds that version.
        """
        parts = [np.fromiter((p.value for p in r.predictions), np.float64,
                             len(r.predictions))
                 for r in self._predict_responses(model, X, min_version,
                                                  batch_size, timeout,
                                                  at_version)]
        return np.concatenate(parts) if parts else np.zeros(0, np.float64)

    def predict_proba(self, model: str, X: ArrayLike, *,
                      min_version: Optional[int] = None,
                      at_version: Optional[int] = None,
                      batch_size: int = 4096,
                      timeout: Optional[float] = None) -> np.ndarray:
        """Class probabilities of a classifier, shape [N, classes].

        Binary models give [1 - p, p]; multiclass models their softmax.
        """
        parts = []
        for response in self._predict_responses(model, X, min_version,
                                                batch_size, timeout,
                                                at_version):
            for p in response.predictions:
                parts.append(list(p.scores) if p.scores
                             else [1.0 - p.value, p.value])
        return np.asarray(parts, dtype=np.float64).reshape(len(parts), -1)

    # --- Snapshots ---

    def snapshot(self, model: str, to_file: Optional[str] = None
                 ) -> pb2.ModelSnapshot:
        """A consistent copy of the model at one version.

        Args:
          to_file: also save it on the server under this plain name.
        """
        return self._call(self._stub.Snapshot, pb2.SnapshotRequest(
            model=model, to_file=to_file or ""))

    def restore(self, model: str, snapshot: Union[pb2.ModelSnapshot, str]
                ) -> pb2.ModelInfo:
        """Makes `snapshot` the model's state (a durable rollback to the
        snapshot's version).

        Args:
          snapshot: a ModelSnapshot, or the name of one saved on the server
            (snapshot(to_file=...)).
        """
        request = pb2.RestoreRequest(model=model)
        if isinstance(snapshot, str):
            request.snapshot_name = snapshot
        else:
            request.snapshot.CopyFrom(snapshot)
        return self._call(self._stub.Restore, request)

    def list_snapshots(self, model: str = "") -> List[pb2.SnapshotInfo]:
        """The snapshots saved on the server (of `model` only, if given),
        newest first."""
        return list(self._call(self._stub.ListSnapshots,
                               pb2.ListSnapshotsRequest(model=model)).snapshots)

    def delete_snapshot(self, name: str) -> None:
        """Deletes a snapshot saved on the server."""
        self._call(self._stub.DeleteSnapshot,
                   pb2.DeleteSnapshotRequest(name=name))

    # --- Datasets and retraining ---

    def upload_dataset(self, path: Union[str, os.PathLike], *,
                       format: Union[str, int] = "csv",
                       has_header: bool = False, label_column: str = "",
                       num_features: int = 0, skip_bad_rows: bool = False,
                       name: Optional[str] = None,
                       progress: Union[bool, ProgressFn] = True,
                       chunk_size: int = 1 << 20,
                       timeout: Optional[float] = None) -> pb2.DatasetInfo:
        """Uploads a dataset file; returns its DatasetInfo (its `id` is what
        retrain() takes).

        The file is checksummed first, so the server refuses a changed or
        truncated upload (DATA_LOSS).

        Args:
          format: "csv", "libsvm" or "examples".
          progress: True prints "uploaded X of Y bytes" to stderr; a callable
            is called with (bytes sent, total bytes) after each chunk.
        """
        digest = hashlib.sha256()
        total = 0
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(chunk_size), b""):
                digest.update(block)
                total += len(block)
        if progress is True:
            def report(sent: int, all_bytes: int) -> None:
                print(f"\ruploaded {sent} of {all_bytes} bytes",
                      end="\n" if sent == all_bytes else "",
                      file=sys.stderr, flush=True)
            progress_fn: Optional[ProgressFn] = report
        else:
            progress_fn = progress or None
        header = pb2.UploadDatasetRequest(
            has_header=has_header, label_column=label_column,
            num_features=num_features, skip_bad_rows=skip_bad_rows,
            name=name if name is not None else os.path.basename(path),
            total_bytes=total, sha256=digest.hexdigest())
        _enums.fill(header, {"format": format})

        def requests() -> Iterator[pb2.UploadDatasetRequest]:
            sent = 0
            first = True
            with open(path, "rb") as f:
                for block in iter(lambda: f.read(chunk_size), b""):
                    request = header if first else pb2.UploadDatasetRequest()
                    request.data = block
                    first = False
                    sent += len(block)
                    yield request
                    if progress_fn is not None:
                        progress_fn(sent, total)
            if first:
                yield header

        try:
            return self._stub.UploadDataset(requests(), timeout=timeout,
                                            metadata=self._metadata)
        except grpc.RpcError as e:
            raise StreamfitError.from_rpc_error(e) from None

    def list_datasets(self) -> List[pb2.DatasetInfo]:
        return list(self._call(self._stub.ListDatasets,
                               pb2.ListDatasetsRequest()).datasets)

    def delete_dataset(self, dataset_id: str) -> None:
        self._call(self._stub.DeleteDataset,
                   pb2.DeleteDatasetRequest(id=dataset_id))

    def retrain(self, model: str, dataset_id: str, *, algorithm: str = "",
                wait: bool = True,
                progress: Optional[Callable[[pb2.RetrainJob], None]] = None,
                timeout: Optional[float] = None,
                **options: Any) -> pb2.RetrainJob:
        """Starts a retrain job; with wait=True returns it once it ended.

        Args:
          algorithm: "full_batch_gd" (default), "minibatch_sgd",
            "least_squares" or "lbfgs".
          wait: follow the job (WatchRetrainJob) until it ends; a job that
            failed is returned (state RETRAIN_FAILED, `error` says why), not
            raised.
          progress: called with the job after each change while waiting.
          timeout: bounds the wait, in seconds (DEADLINE_EXCEEDED).
          **options: any other RetrainRequest field: epochs, max_iterations,
            holdout_fraction, swap_policy ("always", "if_better", "never"),
            warm_start, seed, l2, learning_rate, batch_size, tolerance.
        """
        request = pb2.RetrainRequest(model=model, dataset_id=dataset_id,
                                     algorithm=algorithm)
        _enums.fill(request, options)
        job = self._call(self._stub.Retrain, request)
        if not wait:
            return job
        if progress is not None:
            progress(job)
        try:
            for update in self._stub.WatchRetrainJob(
                    pb2.GetRetrainJobRequest(id=job.id), timeout=timeout,
                    metadata=self._metadata):
                job = update
                if progress is not None:
                    progress(job)
                if job.state in _TERMINAL_JOB_STATES:
                    break
        except grpc.RpcError as e:
            raise StreamfitError.from_rpc_error(e) from None
        return job

    def measure_batch_gap(self, model: str, *, window: int = 0,
                          algorithm: str = "",
                          timeout: Optional[float] = None) -> pb2.BatchGap:
        """How far the online model is from the batch optimum.

        Compares, on the model's last `window` samples (0: the server's
        10,000), the loss of each sample's prediction made just before it
        was learned with the loss of a batch fit of those samples
        ("least_squares" for regression and "lbfgs" for classifiers by
        default). The result is also kept in ModelInfo.batch_gap.
        """
        return self._call(self._stub.MeasureBatchGap,
                          pb2.MeasureBatchGapRequest(model=model,
                                                     window=window,
                                                     algorithm=algorithm),
                          timeout)

    # --- Champion and challengers ---

    def add_challenger(self, model: str, name: str,
                       from_version: Optional[int] = None,
                       **config: Any) -> pb2.Challenger:
        """Adds a challenger: a learner of another config that learns every
        sample `model` learns from now on and is compared with it.

        With `from_version`, an earlier version of the model, it starts
        there and learns the samples since from the server's log before it
        joins (OUT_OF_RANGE once the log no longer holds that version).
        `config` takes create_model's learning settings (optimizer,
        learning_rate, l2, interactions, ...); the task and input sizes are
        the model's, and so are its policies.
        """
        info = self.get_model(model)
        challenger_config = pb2.ModelConfig(
            task=info.config.task, num_features=info.config.num_features,
            num_classes=info.config.num_classes)
        _enums.fill(challenger_config, config)
        request = pb2.AddChallengerRequest(model=model, name=name,
                                           config=challenger_config)
        if from_version is not None:
            request.from_version = from_version
        return self._call(self._stub.AddChallenger, request)

    def list_challengers(self, model: str) -> pb2.ListChallengersResponse:
        """The model's challengers with their comparisons, and the ones that
        left because their config refused a sample."""
        return self._call(self._stub.ListChallengers,
                          pb2.ListChallengersRequest(model=model))

    def promote_challenger(self, model: str, name: str) -> pb2.ModelInfo:
        """Makes challenger `name` the served model at the model's current
        version (durable once this returns)."""
        return self._call(self._stub.PromoteChallenger,
                          pb2.PromoteChallengerRequest(model=model, name=name))

    def remove_challenger(self, model: str, name: str) -> None:
        self._call(self._stub.RemoveChallenger,
                   pb2.RemoveChallengerRequest(model=model, name=name))

    def watch_model(self, model: str, *, timeout: Optional[float] = None
                    ) -> Iterator[pb2.ModelEvent]:
        """The model's events as they happen (WatchModel): drifts, retrain
        jobs starting, swapping and ending, Restores.

        Iterating blocks until the next event; the iterator ends when
        `timeout` (seconds) passes, and raises NOT_FOUND once the model is
        deleted. Returns once the watch is in place. Call .cancel() on it to
        stop watching.
        """
        call = self._stub.WatchModel(pb2.WatchModelRequest(model=model),
                                     timeout=timeout,
                                     metadata=self._metadata)
        # The server sends the initial metadata once the watch is in place:
        # every event after this returns reaches the iterator.
        try:
            call.initial_metadata()
        except grpc.RpcError as e:
            raise StreamfitError.from_rpc_error(e) from None
        return _Watch(call)

    def get_job(self, job_id: str) -> pb2.RetrainJob:
        return self._call(self._stub.GetRetrainJob,
                          pb2.GetRetrainJobRequest(id=job_id))

    def list_jobs(self) -> List[pb2.RetrainJob]:
        """Every retrain job, oldest first."""
        return list(self._call(self._stub.ListRetrainJobs,
                               pb2.ListRetrainJobsRequest()).jobs)

    def cancel_job(self, job_id: str) -> pb2.RetrainJob:
        return self._call(self._stub.CancelRetrainJob,
                          pb2.CancelRetrainJobRequest(id=job_id))
