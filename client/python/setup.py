"""Builds the `streamfit` Python client.

The gRPC code for streamfit/v1/streamfit.proto is generated at build time into
the build directory (never the source tree) as the subpackage `streamfit.v1`,
with the system `protoc` and `grpc_python_plugin` (Debian: protobuf-compiler
and protobuf-compiler-grpc). Debian's python3-grpc-tools bundles a protoc too
old for proto3 `optional` fields, so it is not used.

Environment overrides: STREAMFIT_PROTO_DIR (the directory holding
streamfit/v1/streamfit.proto; default ../../proto from this file), PROTOC and
GRPC_PYTHON_PLUGIN (default: found on PATH).
"""

import os
import shutil
import subprocess

from setuptools import setup
from setuptools.command.build_py import build_py

_HERE = os.path.dirname(os.path.abspath(__file__))
_PROTO = os.path.join("streamfit", "v1", "streamfit.proto")


def _tool(env_name, default):
    path = os.environ.get(env_name) or shutil.which(default)
    if not path:
        raise RuntimeError(
            f"{default} not found: install it (Debian: protobuf-compiler, "
            f"protobuf-compiler-grpc) or set {env_name}")
    return path


class BuildPyWithStubs(build_py):
    """build_py that also writes streamfit/v1/streamfit_pb2{,_grpc}.py."""

    def run(self):
        super().run()
        proto_dir = os.environ.get("STREAMFIT_PROTO_DIR") or os.path.join(
            _HERE, "..", "..", "proto")
        proto_dir = os.path.abspath(proto_dir)
        if not os.path.isfile(os.path.join(proto_dir, _PROTO)):
            raise RuntimeError(
                f"{_PROTO} not found under {proto_dir}: build from a streamfit "
                "checkout or set STREAMFIT_PROTO_DIR")
        out_dir = os.path.abspath(self.build_lib)
        subprocess.run(
            [_tool("PROTOC", "protoc"), f"-I{proto_dir}",
             f"--python_out={out_dir}", f"--grpc_python_out={out_dir}",
             "--plugin=protoc-gen-grpc_python=" +
             _tool("GRPC_PYTHON_PLUGIN", "grpc_python_plugin"),
             os.path.join(proto_dir, _PROTO)],
            check=True)
        init = os.path.join(out_dir, "streamfit", "v1", "__init__.py")
        with open(init, "w") as f:
            f.write('"""Generated from streamfit/v1/streamfit.proto."""\n')


setup(
    name="streamfit",
    version="1.0.0",
    description="Python client for the streamfit online-learning service",
    packages=["streamfit"],
    package_data={"streamfit": ["py.typed"]},
    python_requires=">=3.9",
    # Debian: python3-grpcio, python3-protobuf, python3-numpy.
    install_requires=["grpcio>=1.51", "protobuf>=3.21", "numpy>=1.21",
                      "xxhash>=3"],
    cmdclass={"build_py": BuildPyWithStubs},
)
