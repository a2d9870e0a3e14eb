"""Throw-away certificate authorities and certificates for TLS tests, made
with the `openssl` command line tool in a directory the caller owns.

Each function returns the paths of the PEM files it wrote. Certificates are
valid for a day; server certificates name 127.0.0.1 and localhost.
"""

import os
import subprocess

OPENSSL_TIMEOUT = 60  # seconds per openssl run


def _openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True,
                   stdin=subprocess.DEVNULL, capture_output=True,
                   timeout=OPENSSL_TIMEOUT)


def make_ca(directory, name):
    """A self-signed CA; returns (cert_path, key_path)."""
    cert = os.path.join(directory, f"{name}.crt")
    key = os.path.join(directory, f"{name}.key")
    _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt",
             "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1",
             "-subj", f"/CN={name}", "-keyout", key, "-out", cert,
             "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign",
             cwd=directory)
    return cert, key


def make_cert(directory, name, ca, server):
    """A certificate with common name `name` signed by `ca` (cert, key); a
    server certificate (SANs 127.0.0.1 and localhost) if `server`, else a
    client one. Returns (cert_path, key_path)."""
    cert = os.path.join(directory, f"{name}.crt")
    key = os.path.join(directory, f"{name}.key")
    csr = os.path.join(directory, f"{name}.csr")
    ext = os.path.join(directory, f"{name}.ext")
    _openssl("req", "-newkey", "ec", "-pkeyopt",
             "ec_paramgen_curve:prime256v1", "-nodes", "-subj", f"/CN={name}",
             "-keyout", key, "-out", csr, cwd=directory)
    with open(ext, "w") as f:
        if server:
            f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\n"
                    "extendedKeyUsage=serverAuth\n")
        else:
            f.write("extendedKeyUsage=clientAuth\n")
    _openssl("x509", "-req", "-in", csr, "-CA", ca[0], "-CAkey", ca[1],
             "-CAcreateserial", "-days", "1", "-extfile", ext, "-out", cert,
             cwd=directory)
    return cert, key
