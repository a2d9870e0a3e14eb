"""The one exception type the streamfit client raises for a failed call."""

from typing import Optional

import grpc


class StreamfitError(Exception):
    """A streamfit call failed.

    Attributes:
      code: the gRPC status code (grpc.StatusCode), e.g. NOT_FOUND.
      message: the server's status message, e.g. "model 'x' not found".
      accepted: for observe(), the examples the server acked before the
        failure (they stay applied); None for other calls.
    """

    def __init__(self, code: grpc.StatusCode, message: str,
                 accepted: Optional[int] = None) -> None:
        super().__init__(f"{code.name}: {message}")
        self.code = code
        self.message = message
        self.accepted = accepted

    @classmethod
    def from_rpc_error(cls, error: grpc.RpcError,
                       accepted: Optional[int] = None) -> "StreamfitError":
        """Converts a grpc.RpcError (which is also a grpc.Call)."""
        code = error.code() if hasattr(error, "code") else None
        details = error.details() if hasattr(error, "details") else None
        return cls(code or grpc.StatusCode.UNKNOWN, details or str(error),
                   accepted)
