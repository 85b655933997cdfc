"""Certificates for `mailspec serve` tests: a test CA, a good server
certificate for localhost/127.0.0.1, and the bad ones the client tests
name with @cert: self-signed, expired, wrong-name (each DIR/NAME.pem with
its key). Made with python3-cryptography, in a directory of the test's."""

import datetime
import ipaddress
import os

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def _key():
    return ec.generate_private_key(ec.SECP256R1())


def _pem(key, cert):
    return (cert.public_bytes(serialization.Encoding.PEM) +
            key.private_bytes(serialization.Encoding.PEM,
                              serialization.PrivateFormat.PKCS8,
                              serialization.NoEncryption()))


def _cert(subject_cn, key, issuer_cn, issuer_key, names, start, end, ca=False):
    b = (x509.CertificateBuilder()
         .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject_cn)]))
         .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer_cn)]))
         .public_key(key.public_key())
         .serial_number(x509.random_serial_number())
         .not_valid_before(start).not_valid_after(end)
         .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if names:
        alt = [x509.DNSName(n) if not n[0].isdigit() else x509.IPAddress(ipaddress.ip_address(n))
               for n in names]
        b = b.add_extension(x509.SubjectAlternativeName(alt), critical=False)
    return b.sign(issuer_key, hashes.SHA256())


def make(directory):
    """Write ca.pem, server.pem (cert+key), self-signed.pem, expired.pem,
    wrong-name.pem into directory; returns the paths as a dict."""
    now = datetime.datetime.now(datetime.timezone.utc)
    day = datetime.timedelta(days=1)
    cak = _key()
    ca = _cert("mailspec serve test CA", cak, "mailspec serve test CA", cak, None,
               now - day, now + 30 * day, ca=True)
    good = ["localhost", "127.0.0.1"]
    out = {}

    def write(name, data):
        p = os.path.join(directory, name)
        with open(p, "wb") as f:
            f.write(data)
        out[name[:-4]] = p

    write("ca.pem", ca.public_bytes(serialization.Encoding.PEM))
    k = _key()
    write("server.pem", _pem(k, _cert("localhost", k, "mailspec serve test CA", cak, good,
                                      now - day, now + 30 * day)))
    k = _key()
    write("self-signed.pem", _pem(k, _cert("localhost", k, "localhost", k, good,
                                           now - day, now + 30 * day)))
    k = _key()
    write("expired.pem", _pem(k, _cert("localhost", k, "mailspec serve test CA", cak, good,
                                       now - 400 * day, now - 30 * day)))
    k = _key()
    write("wrong-name.pem", _pem(k, _cert("wrong.invalid", k, "mailspec serve test CA", cak,
                                          ["wrong.invalid"], now - day, now + 30 * day)))
    return out
