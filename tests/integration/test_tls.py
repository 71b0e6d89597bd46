"""TLS end to end: https with curl and Python's ssl verified against a test CA
made here with the `openssl` command, --self-signed, protocol versions, ALPN,
plain HTTP / garbage / stalled handshakes on the TLS port, keep-alive and
pipelining, SIGHUP reload, 10 MiB downloads on every backend, resumption with
openssl s_client, TLS echo with half-close, and each client-side error
message in plain words."""
import hashlib
import os
import shutil
import signal
import socket
import ssl
import subprocess
import time

import pytest

from conftest import BACKENDS, SOCKKIT, TIMEOUT, backend_or_skip, run
from http_util import Conn, wait_for

def tls_built():
    """A build without OpenSSL (WITH_TLS=no) refuses tls:// up front."""
    r = subprocess.run([SOCKKIT, "connect", "tls://127.0.0.1:1", "-k"], capture_output=True,
                       timeout=TIMEOUT)
    return b"TLS is not built in" not in r.stderr


pytestmark = [
    pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl command missing"),
    pytest.mark.skipif(not tls_built(), reason="sockkit built without OpenSSL (WITH_TLS=no)"),
]


def openssl(*args, cwd=None, input=None):
    r = subprocess.run(["openssl"] + list(args), cwd=cwd, capture_output=True, input=input,
                       timeout=TIMEOUT)
    assert r.returncode == 0, r.stderr.decode(errors="replace")
    return r.stdout


CA_CNF = """[ ca ]
default_ca = test
[ test ]
database = index.txt
new_certs_dir = .
serial = serial
default_md = sha256
policy = pol
copy_extensions = copy
[ pol ]
commonName = supplied
"""


class Pki:
    """A test CA and certificates signed by it, as PEM files in dir."""

    def __init__(self, d):
        self.dir = str(d)
        openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                "-keyout", "ca.key", "-out", "ca.pem", "-subj", "/CN=sockkit test CA",
                "-days", "2", "-addext", "basicConstraints=critical,CA:TRUE",
                "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=self.dir)
        with open(self.path("ca.cnf"), "w") as f:
            f.write(CA_CNF)
        open(self.path("index.txt"), "w").close()
        # Several certificates share the subject CN=localhost.
        with open(self.path("index.txt.attr"), "w") as f:
            f.write("unique_subject = no\n")
        with open(self.path("serial"), "w") as f:
            f.write("1000\n")
        self.leaf("ec", "DNS:localhost,IP:127.0.0.1,IP:::1")
        self.leaf("rsa", "DNS:localhost,IP:127.0.0.1")
        self.leaf("other", "DNS:other.example")
        self.leaf("ec2", "DNS:localhost,IP:127.0.0.1")
        self.leaf("expired", "DNS:localhost,IP:127.0.0.1",
                  dates=("-startdate", "20200101000000Z", "-enddate", "20200201000000Z"))

    def path(self, name):
        return os.path.join(self.dir, name)

    def leaf(self, name, san, dates=("-days", "2")):
        if name.startswith("rsa"):
            key = ["-newkey", "rsa:2048"]
        else:
            key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"]
        openssl("req", "-new", *key, "-nodes", "-keyout", name + ".key", "-out", name + ".csr",
                "-subj", "/CN=localhost", "-addext", "subjectAltName=" + san, cwd=self.dir)
        openssl("ca", "-batch", "-config", "ca.cnf", "-cert", "ca.pem", "-keyfile", "ca.key",
                "-in", name + ".csr", "-out", name + ".pem", "-notext", *dates, cwd=self.dir)
        # A chain file: the leaf first, then the CA.
        with open(self.path(name + ".chain.pem"), "w") as out:
            for part in (name + ".pem", "ca.pem"):
                with open(self.path(part)) as f:
                    out.write(f.read())


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return Pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    d = tmp_path_factory.mktemp("www")
    with open(d / "index.html", "w") as f:
        f.write("<h1>hello over TLS</h1>\n")
    with open(d / "big.bin", "wb") as f:
        f.write(os.urandom(10 << 20))
    return str(d)


def tls_port(srv):
    return int(srv.ep("tls://").rsplit(":", 1)[1])


def ssl_ctx(pki=None, alpn=None):
    if pki is None:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    else:
        ctx = ssl.create_default_context(cafile=pki.path("ca.pem"))
    if alpn:
        ctx.set_alpn_protocols(alpn)
    return ctx


def tls_conn(port, pki=None, host="localhost", alpn=None):
    raw = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
    s = ssl_ctx(pki, alpn).wrap_socket(raw, server_hostname=host)
    return Conn(port, sock=s)


def https_ok(port, pki=None):
    with tls_conn(port, pki) as c:
        r = c.request("GET", "/")
        assert r.status == 200 and b"hello over TLS" in r.body
        return c.sock


def serve_https(server, pki, root, *extra, cert="ec"):
    return server("serve", "http", root, "--listen", "tls://127.0.0.1:0", "--listen",
                  "127.0.0.1:0", "--cert", pki.path(cert + ".chain.pem"), "--key",
                  pki.path(cert + ".key"), "--workers", "1", *extra)


def test_curl_and_python_verified(server, pki, root):
    srv = serve_https(server, pki, root)
    port = tls_port(srv)
    r = subprocess.run(["curl", "-sS", "--cacert", pki.path("ca.pem"), "--resolve",
                        "localhost:%d:127.0.0.1" % port, "https://localhost:%d/" % port,
                        "-w", "%{http_code} %{http_version}"],
                       capture_output=True, timeout=TIMEOUT)
    assert r.returncode == 0, r.stderr
    assert r.stdout.endswith(b"200 1.1") and b"hello over TLS" in r.stdout
    # Python's ssl checks the chain and the host name.
    with tls_conn(port, pki, alpn=["h2", "http/1.1"]) as c:
        assert c.sock.version() == "TLSv1.3"
        assert c.sock.selected_alpn_protocol() == "http/1.1"
        assert c.request("GET", "/").status == 200
    # The plain listener of the same process still speaks HTTP.
    with Conn(srv.port("tcp://")) as c:
        assert c.request("GET", "/").status == 200
    # A host name the certificate does not carry is refused by the client.
    with pytest.raises(ssl.SSLCertVerificationError):
        tls_conn(port, pki, host="other.example")


def test_rsa_key(server, pki, root):
    srv = serve_https(server, pki, root, cert="rsa")
    with tls_conn(tls_port(srv), pki) as c:
        assert c.request("GET", "/").status == 200
        assert "ECDSA" not in c.sock.cipher()[0]


def test_self_signed_fingerprint(server, root):
    srv = server("serve", "http", root, "--listen", "tls://127.0.0.1:0", "--self-signed")
    port = tls_port(srv)
    fp = srv._err.decode().split("SHA-256 fingerprint ")[1].split()[0]
    r = subprocess.run(["curl", "-sSk", "https://127.0.0.1:%d/" % port], capture_output=True,
                       timeout=TIMEOUT)
    assert r.returncode == 0 and b"hello over TLS" in r.stdout
    s_client = subprocess.run(["openssl", "s_client", "-connect", "127.0.0.1:%d" % port,
                               "-servername", "localhost"], input=b"", capture_output=True,
                              timeout=TIMEOUT)
    pem = s_client.stdout[s_client.stdout.index(b"-----BEGIN CERTIFICATE"):]
    out = openssl("x509", "-noout", "-fingerprint", "-sha256", "-ext", "subjectAltName",
                  input=pem).decode()
    assert ("Fingerprint=" + fp) in out
    assert "DNS:localhost" in out and "IP Address:127.0.0.1" in out and "IP Address:0:0:0:0:0:0:0:1" in out


def test_old_protocol_refused(server, pki, root):
    srv = serve_https(server, pki, root, "-v")
    port = tls_port(srv)
    r = subprocess.run(["openssl", "s_client", "-connect", "127.0.0.1:%d" % port, "-tls1_1",
                        "-cipher", "DEFAULT@SECLEVEL=0"], input=b"", capture_output=True,
                       timeout=TIMEOUT)
    assert r.returncode != 0
    assert b"alert protocol version" in r.stderr and b"Cipher is (NONE)" in r.stdout
    https_ok(port, pki)
    assert wait_for(lambda: b"no shared TLS protocol version" in read_err(srv), 2)


def read_err(srv):
    """What the server printed on stderr so far (non-blocking)."""
    import select
    fd = srv.proc.stderr.fileno()
    while select.select([fd], [], [], 0)[0]:
        chunk = os.read(fd, 65536)
        if not chunk:
            break
        srv._err += chunk
    return srv._err


@pytest.mark.parametrize("backend", ["epoll", "threads"])
def test_plain_http_garbage_and_stall(server, pki, root, backend):
    srv = serve_https(server, pki, root, "--tls-timeout", "1", "-v", "--backend", backend)
    port = tls_port(srv)
    # Plain HTTP to the TLS port: a clear-text 400 that says what to do.
    with Conn(port) as c:
        r = c.request("GET", "/")
        assert r.status == 400 and b"https://" in r.body
        assert c.closed_within(2)
    https_ok(port, pki)
    # Garbage: closed cleanly (a FIN, not a reset), no reply.
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as s:
        s.sendall(b"\x00\x01\x02 garbage \xff" * 10)
        s.settimeout(3)
        assert s.recv(100) == b""
    https_ok(port, pki)
    # A client that stalls mid-handshake is closed by the deadline.
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as s:
        s.sendall(b"\x16\x03\x01\x02\x00\x01")
        t0 = time.monotonic()
        s.settimeout(5)
        try:
            assert s.recv(100) == b""
        except ConnectionResetError:
            pass
        assert 0.8 < time.monotonic() - t0 < 3.5
    https_ok(port, pki)
    err = read_err(srv)
    assert b"plain HTTP sent to a TLS port" in err
    assert b"not TLS" in err
    assert b"TLS handshake timeout" in err


@pytest.mark.parametrize("backend", ["epoll", "poll", "threads"])
def test_keepalive_and_pipelining(server, pki, root, backend):
    srv = serve_https(server, pki, root, "--backend", backend)
    with tls_conn(tls_port(srv), pki) as c:
        for _ in range(3):
            assert c.request("GET", "/").status == 200
        c.send(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n" * 5 +
               b"GET /big.bin HTTP/1.1\r\nHost: t\r\nRange: bytes=0-99\r\n\r\n")
        for _ in range(5):
            r = c.read_response()
            assert r.status == 200 and b"hello" in r.body
        r = c.read_response()
        assert r.status == 206 and len(r.body) == 100


def peer_fingerprint(sock):
    return hashlib.sha256(sock.getpeercert(binary_form=True)).hexdigest()


def file_fingerprint(path):
    der = openssl("x509", "-in", path, "-outform", "DER")
    return hashlib.sha256(der).hexdigest()


def test_sighup_reload(server, pki, root, tmp_path):
    cert, key = str(tmp_path / "live.pem"), str(tmp_path / "live.key")
    shutil.copy(pki.path("ec.chain.pem"), cert)
    shutil.copy(pki.path("ec.key"), key)
    srv = server("serve", "http", root, "--listen", "tls://127.0.0.1:0", "--cert", cert,
                 "--key", key)
    port = tls_port(srv)
    old = tls_conn(port, pki)
    assert old.request("GET", "/").status == 200
    assert peer_fingerprint(old.sock) == file_fingerprint(pki.path("ec.pem"))
    # A broken file: logged, the old pair stays.
    with open(cert, "w") as f:
        f.write("garbage\n")
    srv.signal(signal.SIGHUP)
    assert wait_for(lambda: b"reload failed" in read_err(srv), 3)
    with tls_conn(port, pki) as c:
        assert peer_fingerprint(c.sock) == file_fingerprint(pki.path("ec.pem"))
    # A good new pair: new connections get it, the old one keeps working.
    shutil.copy(pki.path("ec2.chain.pem"), cert)
    shutil.copy(pki.path("ec2.key"), key)
    srv.signal(signal.SIGHUP)
    assert wait_for(lambda: b"certificate reloaded" in read_err(srv), 3)
    with tls_conn(port, pki) as c:
        assert peer_fingerprint(c.sock) == file_fingerprint(pki.path("ec2.pem"))
        assert c.request("GET", "/").status == 200
    assert old.request("GET", "/").status == 200
    old.close()


@pytest.mark.parametrize("backend", BACKENDS)
def test_10mib_download(server, pki, root, backend):
    backend_or_skip(backend)
    srv = serve_https(server, pki, root, "--backend", backend)
    with open(os.path.join(root, "big.bin"), "rb") as f:
        want = hashlib.sha256(f.read()).hexdigest()
    with tls_conn(tls_port(srv), pki) as c:
        r = c.request("GET", "/big.bin")
        assert r.status == 200 and len(r.body) == 10 << 20
        assert hashlib.sha256(r.body).hexdigest() == want
        # The connection stays usable after the bulk transfer.
        assert c.request("GET", "/").status == 200


def test_resumption_with_s_client(server, pki, root, tmp_path):
    srv = serve_https(server, pki, root)
    port = tls_port(srv)
    sess = str(tmp_path / "sess.pem")
    req = b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
    base = ["openssl", "s_client", "-connect", "127.0.0.1:%d" % port, "-CAfile",
            pki.path("ca.pem"), "-ign_eof"]
    r1 = subprocess.run(base + ["-sess_out", sess], input=req, capture_output=True, timeout=TIMEOUT)
    assert b"hello over TLS" in r1.stdout and b"New, TLSv1.3" in r1.stdout
    r2 = subprocess.run(base + ["-sess_in", sess], input=req, capture_output=True, timeout=TIMEOUT)
    assert b"hello over TLS" in r2.stdout
    assert b"Reused, TLSv1.3" in r2.stdout, r2.stdout.decode(errors="replace")


@pytest.mark.parametrize("backend", ["epoll", "threads"])
def test_echo_half_close(server, backend):
    srv = server("serve", "echo", "tls://127.0.0.1:0", "--self-signed", "--backend", backend,
                 "--alpn", "sockkit-echo")
    port = tls_port(srv)
    data = os.urandom(1 << 20)
    r = run(["connect", "tls://127.0.0.1:%d" % port, "-k", "-v", "--alpn", "other,sockkit-echo"],
            input=data, timeout=30)
    assert r.returncode == 0, r.stderr
    assert r.stdout == data
    assert b"ALPN: sockkit-echo" in r.stderr
    assert b"-k/--insecure" in r.stderr


def test_renegotiation_refused_and_explained(server):
    """A TLS 1.2 client asking to renegotiate is refused; -v explains the
    alert it then sends as that, not as a cipher mismatch, and the server
    goes on serving."""
    srv = server("serve", "echo", "tls://127.0.0.1:0", "--self-signed", "-v")
    port = tls_port(srv)
    c = subprocess.Popen(["openssl", "s_client", "-tls1_2", "-connect", "127.0.0.1:%d" % port],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        c.stdin.write(b"hello\n")
        c.stdin.flush()
        time.sleep(0.5)
        c.stdin.write(b"R\n")  # s_client: renegotiate
        c.stdin.flush()
        wait_for(lambda: b"closed (TLS error)" in read_err(srv), timeout=TIMEOUT)
    finally:
        c.kill()
        c.wait()
    err = read_err(srv).decode(errors="replace")
    assert "renegotiation was refused" in err, err
    assert "no shared cipher" not in err, err
    with tls_conn(port) as t:
        t.sock.sendall(b"still here")
        assert t.sock.recv(100) == b"still here"


def test_discard_over_tls(server):
    srv = server("serve", "discard", "tls://127.0.0.1:0", "--self-signed")
    r = run(["connect", "tls://127.0.0.1:%d" % tls_port(srv), "-k"], input=os.urandom(300000))
    assert r.returncode == 0 and r.stdout == b""


def test_listen_and_connect(pki):
    lp = subprocess.Popen([SOCKKIT, "listen", "tls://127.0.0.1:0", "--cert",
                           pki.path("ec.chain.pem"), "--key", pki.path("ec.key")],
                          stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        line = lp.stderr.readline().decode()
        assert line.startswith("listening on tls://127.0.0.1:")
        port = int(line.rsplit(":", 1)[1])
        c = subprocess.Popen([SOCKKIT, "connect", "tls://localhost:%d" % port, "--cacert",
                              pki.path("ca.pem"), "-v", "-4"], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        lp.stdin.write(b"from listener\n")
        lp.stdin.close()
        lp.stdin = None  # communicate() below must not touch it again
        cout, cerr = c.communicate(b"from client\n", timeout=TIMEOUT)
        lout, _ = lp.communicate(timeout=TIMEOUT)
        assert lout == b"from client\n" and cout == b"from listener\n"
        assert c.returncode == 0 and lp.returncode == 0
        for fact in (b"TLS version: TLSv1.3", b"cipher: TLS_", b"certificate subject: /CN=localhost",
                     b"certificate issuer: /CN=sockkit test CA", b"certificate expires: ",
                     b"verification: ok", b"session resumed: no"):
            assert fact in cerr, cerr
    finally:
        if lp.poll() is None:
            lp.kill()
            lp.wait()


def test_reload_promised_only_where_sighup_reloads():
    """Servers reload --cert/--key on SIGHUP and say so; `listen` keeps the
    signal's usual meaning (it ends the command), so its help must not
    promise a reload."""
    assert b"SIGHUP re-reads" in run(["serve", "http", "--help"]).stdout
    assert b"SIGHUP re-reads" in run(["serve", "echo", "--help"]).stdout
    assert b"SIGHUP" not in run(["listen", "--help"]).stdout


def test_listen_handshake_failure_names_peer():
    """`listen` says which peer failed its handshake, and why, once."""
    lp = subprocess.Popen([SOCKKIT, "listen", "tls://127.0.0.1:0", "--self-signed",
                           "--tls-timeout", "0.5"], stdin=subprocess.PIPE,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        lp.stderr.readline()  # the fingerprint
        port = int(lp.stderr.readline().decode().rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as s:
            local = "127.0.0.1:%d" % s.getsockname()[1]
            _, err = lp.communicate(timeout=TIMEOUT)
        assert lp.returncode == 1
        assert err.decode().strip() == \
            "sockkit listen: %s: TLS handshake with the peer timed out after 0.5 s" % local, err
    finally:
        if lp.poll() is None:
            lp.kill()
            lp.wait()


def connect_error(port, *args, timeout=TIMEOUT):
    r = run(["connect", "tls://%s" % port if ":" in str(port) else "tls://127.0.0.1:%d" % port]
            + list(args), input=b"", timeout=timeout)
    assert r.returncode == 1, r
    return r.stderr.decode()


def test_client_error_messages(server, pki, root):
    srv = serve_https(server, pki, root)
    port = tls_port(srv)
    err = connect_error(port)
    assert "certificate signed by an unknown CA" in err
    # The OpenSSL error stack only with -v.
    assert "openssl:" not in err
    assert "openssl:" in connect_error(port, "-v")
    # With the CA it verifies (the control case).
    r = run(["connect", "tls://localhost:%d" % port, "--cacert", pki.path("ca.pem"), "-4"],
            input=b"GET / HTTP/1.0\r\n\r\n")
    assert r.returncode == 0 and b"hello over TLS" in r.stdout, r.stderr
    other = serve_https(server, pki, root, cert="other")
    err = connect_error("localhost:%d" % tls_port(other), "--cacert", pki.path("ca.pem"), "-4")
    assert "certificate is for other.example, not localhost" in err
    expired = serve_https(server, pki, root, cert="expired")
    err = connect_error(tls_port(expired), "--cacert", pki.path("ca.pem"))
    assert "certificate has expired" in err
    # A plain HTTP port answers the ClientHello in plain text.
    err = connect_error(srv.port("tcp://"), "--cacert", pki.path("ca.pem"))
    assert "the server answered in plain text (is it an http:// port?)" in err
    # A server that never answers.
    with socket.socket() as quiet:
        quiet.bind(("127.0.0.1", 0))
        quiet.listen(1)
        err = connect_error(quiet.getsockname()[1], "--tls-timeout", "0.5")
        assert "TLS handshake with 127.0.0.1 timed out after 0.5 s" in err
    # A server that only speaks TLS 1.1.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        old_port = probe.getsockname()[1]
    old = subprocess.Popen(["openssl", "s_server", "-accept", "127.0.0.1:%d" % old_port,
                            "-cert", pki.path("ec.pem"), "-key", pki.path("ec.key"), "-tls1_1",
                            "-cipher", "DEFAULT@SECLEVEL=0", "-naccept", "1"],
                           stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        # s_server prints ACCEPT once it listens.
        for _ in range(5):
            if b"ACCEPT" in old.stdout.readline():
                break
        err = connect_error(old_port, "--cacert", pki.path("ca.pem"))
        assert "no shared TLS protocol version" in err
    finally:
        old.kill()
        old.wait()


def test_client_certificate(pki):
    """connect --cert/--key presents a client certificate to a server that
    asks for one (openssl s_server -Verify)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    srv = subprocess.Popen(["openssl", "s_server", "-accept", "127.0.0.1:%d" % port,
                            "-cert", pki.path("ec.pem"), "-key", pki.path("ec.key"),
                            "-Verify", "1", "-CAfile", pki.path("ca.pem"),
                            "-verify_return_error", "-naccept", "1"],
                           stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        for _ in range(5):
            if b"ACCEPT" in srv.stdout.readline():
                break
        r = run(["connect", "tls://localhost:%d" % port, "-4", "--cacert", pki.path("ca.pem"),
                 "--cert", pki.path("ec2.chain.pem"), "--key", pki.path("ec2.key")],
                input=b"hello from a client with a certificate\n")
        out, _ = srv.communicate(timeout=TIMEOUT)
        assert b"hello from a client with a certificate" in out
        assert b"subject=CN = localhost" in out or b"subject=CN=localhost" in out, out
        assert r.returncode == 0, r.stderr
    finally:
        if srv.poll() is None:
            srv.kill()
            srv.wait()


def test_usage_errors(pki, root):
    r = run(["serve", "http", root, "--listen", "tls://127.0.0.1:0"])
    assert r.returncode == 2 and b"--cert FILE and --key FILE, or --self-signed" in r.stderr
    r = run(["serve", "http", root, "--listen", "127.0.0.1:0", "--self-signed"])
    assert r.returncode == 2 and b"need a tls:// endpoint" in r.stderr
    r = run(["serve", "http", root, "--listen", "tls://127.0.0.1:0", "--cert", "/nonexistent.pem",
             "--key", pki.path("ec.key")])
    assert r.returncode == 1 and b"certificate /nonexistent.pem: No such file or directory" in r.stderr
    r = run(["serve", "http", root, "--listen", "tls://127.0.0.1:0", "--cert",
             pki.path("ec.pem"), "--key", pki.path("rsa.key")])
    assert r.returncode == 1 and b"does not match" in r.stderr
    enc = os.path.join(pki.dir, "enc.key")
    if not os.path.exists(enc):
        openssl("pkey", "-in", pki.path("ec.key"), "-aes256", "-passout", "pass:secret", "-out",
                enc)
    r = run(["serve", "http", root, "--listen", "tls://127.0.0.1:0", "--cert", pki.path("ec.pem"),
             "--key", enc], input=b"")
    assert r.returncode == 1 and b"is encrypted" in r.stderr, r.stderr
    r = run(["connect", "127.0.0.1:1", "-k"])
    assert r.returncode == 2 and b"TLS options need a tls:// endpoint" in r.stderr
    r = run(["connect", "tls://127.0.0.1:1", "--cacert", "/nonexistent.pem"])
    assert r.returncode == 1 and b"--cacert /nonexistent.pem" in r.stderr
