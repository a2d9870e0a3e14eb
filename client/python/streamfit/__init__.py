"""Python client for streamfit, the online-learning gRPC service.

    import streamfit
    with streamfit.Client("127.0.0.1:50051") as client:
        client.create_model("m", task="binary", num_features=30)
        version = client.observe("m", X, y)
        p = client.predict("m", X, min_version=version)

Messages returned (ModelInfo, ModelSnapshot, DatasetInfo, RetrainJob) are the
generated protobuf classes of streamfit/v1/streamfit.proto, in `streamfit.pb2`.
"""

from streamfit.client import Client
from streamfit.errors import StreamfitError
from streamfit.features import HashedNamespace
from streamfit.v1 import streamfit_pb2 as pb2

__all__ = ["Client", "HashedNamespace", "StreamfitError", "pb2"]
__version__ = "1.0.0"
