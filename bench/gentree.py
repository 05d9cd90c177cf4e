#!/usr/bin/python3
"""gentree.py LEDIR N [--names K] [--pool P] [--start I]: a certbot-shaped
tree of N lineages (bench-NNNNN.example.test, K names each), keys taken
from a pool of P (half RSA-2048, half ECDSA P-256) so generation stays
quick, leaves issued by one test intermediate. Layout as certbot writes it:
live/NAME/{cert,chain,fullchain,privkey}.pem -> ../../archive/NAME/<kind>1.pem.
Keys are written 0600 into LEDIR only (generated now, never committed)."""
import argparse
import datetime
import os
import sys

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

ap = argparse.ArgumentParser()
ap.add_argument("le")
ap.add_argument("n", type=int)
ap.add_argument("--names", type=int, default=2)
ap.add_argument("--pool", type=int, default=8)
ap.add_argument("--start", type=int, default=0)
ap.add_argument("--version", type=int, default=1,
                help="archive version to write and link (renewals)")
args = ap.parse_args()

ca_dir = os.path.join(args.le, ".bench-ca")
os.makedirs(ca_dir, exist_ok=True)
now = datetime.datetime.utcnow()


def pem_key(k):
    return k.private_bytes(serialization.Encoding.PEM,
                           serialization.PrivateFormat.PKCS8,
                           serialization.NoEncryption())


def load_or_make_ca():
    kp, cp = os.path.join(ca_dir, "int.key"), os.path.join(ca_dir, "int.pem")
    if os.path.exists(kp):
        with open(kp, "rb") as f:
            key = serialization.load_pem_private_key(f.read(), None)
        with open(cp, "rb") as f:
            return key, x509.load_pem_x509_certificate(f.read())
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "snisync bench CA")])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
            .sign(key, hashes.SHA256()))
    fd = os.open(kp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(pem_key(key))
    with open(cp, "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    return key, cert


ca_key, ca_cert = load_or_make_ca()
ca_pem = ca_cert.public_bytes(serialization.Encoding.PEM)
pool = []
for i in range(args.pool):
    kp = os.path.join(ca_dir, "pool%d.key" % i)
    if os.path.exists(kp):
        with open(kp, "rb") as f:
            pool.append(serialization.load_pem_private_key(f.read(), None))
        continue
    k = rsa.generate_private_key(65537, 2048) if i % 2 == 0 else \
        ec.generate_private_key(ec.SECP256R1())
    fd = os.open(kp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(pem_key(k))
    pool.append(k)
pool_pem = [pem_key(k) for k in pool]

live, arch = os.path.join(args.le, "live"), os.path.join(args.le, "archive")
for d in (live, arch):
    os.makedirs(d, mode=0o700, exist_ok=True)
v = args.version
for i in range(args.start, args.start + args.n):
    lin = "bench-%05d.example.test" % i
    names = [lin] + ["n%d.%s" % (j, lin) for j in range(1, args.names)]
    ki = (i * 7 + v) % len(pool)
    key = pool[ki]
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, lin)]))
            .issuer_name(ca_cert.subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1, seconds=v))
            .not_valid_after(now + datetime.timedelta(days=90))
            .add_extension(x509.SubjectAlternativeName(
                [x509.DNSName(n) for n in names]), False)
            .sign(ca_key, hashes.SHA256()))
    cpem = cert.public_bytes(serialization.Encoding.PEM)
    ad, ld = os.path.join(arch, lin), os.path.join(live, lin)
    os.makedirs(ad, exist_ok=True)
    os.makedirs(ld, exist_ok=True)
    files = {"cert": cpem, "chain": ca_pem, "fullchain": cpem + ca_pem,
             "privkey": pool_pem[ki]}
    for kind, data in files.items():
        p = os.path.join(ad, "%s%d.pem" % (kind, v))
        mode = 0o600 if kind == "privkey" else 0o644
        fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
    # certbot's swap order: unlink + symlink, cert, privkey, chain, fullchain
    for kind in ("cert", "privkey", "chain", "fullchain"):
        link = os.path.join(ld, kind + ".pem")
        if os.path.lexists(link):
            os.unlink(link)
        os.symlink("../../archive/%s/%s%d.pem" % (lin, kind, v), link)
print("%d lineages in %s" % (args.n, args.le), file=sys.stderr)
