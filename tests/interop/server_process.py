"""Runs a streamfit-server binary as a child process for interop tests.

ServerProcess starts the server on a free loopback port (--address=127.0.0.1:0)
with its own data directory and learns the port from the line
"streamfit-server listening on 127.0.0.1:PORT" that the server prints once it
is serving. stop() always ends the child, by PID: SIGTERM, then SIGKILL after
a bounded wait. Not thread-safe; one test fixture owns one instance.
"""

import importlib
import re
import signal
import subprocess
import sys
import tempfile
import threading
import unittest

_LISTENING = re.compile(rb"streamfit-server listening on (127\.0\.0\.1:\d+)")
# Printed when the port answers health checks, before recovery.
_RECOVERING = re.compile(rb"streamfit-server recovering on (127\.0\.0\.1:\d+)")


class ServerProcess:

    def __init__(self, binary, data_dir, extra_args=()):
        self.command = [binary, "--address=127.0.0.1:0",
                        f"--data_dir={data_dir}", *extra_args]
        self.address = None  # "127.0.0.1:PORT" once serving
        self.recovering_address = None  # the same port, while recovering
        self.preexec_fn = None  # run in the child before exec (e.g. rlimits)
        self._process = None
        self._reader = None
        self._lines = []
        self._lines_lock = threading.Lock()
        self._ready = threading.Event()  # set on the listening line or EOF
        self._recovering = threading.Event()  # the recovering line or EOF

    def start(self, timeout=30, until_recovering=False):
        """Starts the server; raises RuntimeError if it is not serving within
        `timeout` seconds (the caller must still call stop()). With
        `until_recovering`, returns as soon as the port answers health checks
        (recovery under way) and sets recovering_address only."""
        self._process = subprocess.Popen(
            self.command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, preexec_fn=self.preexec_fn)
        # The reader drains the pipe for the child's whole life, so a chatty
        # server never blocks on a full pipe.
        self._reader = threading.Thread(target=self._read_output, daemon=True)
        self._reader.start()
        if until_recovering:
            self._recovering.wait(timeout)
            if self.recovering_address is None:
                raise RuntimeError(
                    f"{' '.join(self.command)} is not recovering after "
                    f"{timeout}s; output:\n{self.output()}")
            return
        self._ready.wait(timeout)
        if self.address is None:
            code = self._process.poll()
            what = (f"exited with code {code}" if code is not None
                    else f"is not serving after {timeout}s")
            raise RuntimeError(
                f"{' '.join(self.command)} {what}; output:\n{self.output()}")

    def stop(self, grace=10):
        """Stops the server if it runs; returns its exit code."""
        if self._process is None:
            return None
        if self._process.poll() is None:
            self._process.send_signal(signal.SIGTERM)
            try:
                self._process.wait(grace)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(grace)
        self._reader.join(grace)
        self._process.stdout.close()
        return self._process.returncode

    def kill(self):
        """Ends the server with SIGKILL (no final checkpoint); returns its
        exit code."""
        self._process.kill()
        return self.stop()

    def signal(self, number):
        """Sends signal `number` to the server's PID."""
        self._process.send_signal(number)

    def wait(self, timeout):
        """Waits up to `timeout` seconds for the server to exit; returns its
        exit code (raises subprocess.TimeoutExpired)."""
        return self._process.wait(timeout)

    def output(self):
        """Everything the server has printed so far (stdout and stderr)."""
        with self._lines_lock:
            return b"".join(self._lines).decode(errors="replace")

    def _read_output(self):
        for line in self._process.stdout:  # ends when the child exits
            with self._lines_lock:
                self._lines.append(line)
            match = _RECOVERING.search(line)
            if match and self.recovering_address is None:
                self.recovering_address = match.group(1).decode()
                self._recovering.set()
            match = _LISTENING.search(line)
            if match and self.address is None:
                self.address = match.group(1).decode()
                self._ready.set()
        self._ready.set()  # EOF: let start() fail at once
        self._recovering.set()


def start_for_test_class(test_class, binary, extra_args=()):
    """Starts a server for a unittest.TestCase class (call from setUpClass).

    Class cleanups, registered before the start so that they also run when it
    fails, stop the server and remove its data directory.
    """
    data_dir = tempfile.TemporaryDirectory(prefix="streamfit-interop-")
    test_class.addClassCleanup(data_dir.cleanup)
    server = ServerProcess(binary, data_dir.name, extra_args)
    test_class.addClassCleanup(server.stop)
    server.start()
    return server


def connect_for_test_class(test_class, address, timeout):
    """An insecure channel to `address` (no HTTP proxy), ready within
    `timeout` seconds; a class cleanup closes it."""
    import grpc  # pylint: disable=import-outside-toplevel
    channel = grpc.insecure_channel(
        address, options=[("grpc.enable_http_proxy", 0)])
    test_class.addClassCleanup(channel.close)
    grpc.channel_ready_future(channel).result(timeout=timeout)
    return channel


# The generated modules of the v1 API, by the global names tests use.
LEARNER_STUBS = {"pb2": "streamfit.v1.streamfit_pb2",
                 "pb2_grpc": "streamfit.v1.streamfit_pb2_grpc"}


def run_tests(parser, test_globals, stubs=None):
    """Runs a test module's tests: parses its own arguments with `parser`
    (the rest go to unittest) into test_globals["ARGS"]; with `stubs`
    ({global name: module}), imports those generated modules from the
    directory given by --stubs into test_globals first."""
    args, rest = parser.parse_known_args()
    test_globals["ARGS"] = args
    if stubs:
        sys.path.insert(0, args.stubs)
        for name, module in stubs.items():
            test_globals[name] = importlib.import_module(module)
    unittest.main(argv=[sys.argv[0], *rest])
