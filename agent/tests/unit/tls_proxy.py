"""A broker behind TLS with a private CA, for the tests of the agent's amqps:// and rediss://
connections: a TLS proxy on 127.0.0.1 (a server certificate of a CA made for the run, a client
certificate required) in front of the test RabbitMQ's or Redis's plain port. The handshake is
real and so is the broker behind it; only the broker's own TLS listener is not (CI's have none).
Plain (start_plain), it stands for a node of a cluster that can be made to go away."""
from __future__ import annotations

import asyncio
import functools
import os
import ssl
import subprocess
import tempfile
import threading
import urllib.parse
from dataclasses import dataclass
from typing import Callable


@dataclass(frozen=True)
class TlsProxy:
    port: int
    cafile: str  # the private CA
    certfile: str  # a client certificate of that CA, and its key
    keyfile: str
    base: str  # the URL to the proxy, without a host: "amqps://guest:guest@{host}:{port}/%2F"

    def url(self, host: str = "127.0.0.1", **tls: str) -> str:
        """The URL to the proxy, with these query arguments (cafile=..., no_verify_ssl=1)."""
        query = "?" + urllib.parse.urlencode(tls) if tls else ""
        return self.base.format(host=host, port=self.port) + query

    def all_files(self) -> dict[str, str]:
        return {"cafile": self.cafile, "certfile": self.certfile, "keyfile": self.keyfile}

    def client_context(self) -> ssl.SSLContext:
        """What a worker would make to connect: trusts the CA, shows the client certificate."""
        context = ssl.create_default_context(cafile=self.cafile)
        context.load_cert_chain(self.certfile, self.keyfile)
        return context


def _openssl(*args: str, cwd: str) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def make_certificates(directory: str) -> None:
    """ca.pem, server.pem/key (for 127.0.0.1 and localhost) and client.pem/key, EC keys (fast)."""
    key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    _openssl("req", "-x509", *key, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=z4j test CA",
             "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=directory)
    for name, ext in (("server", "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth"),
                      ("client", "extendedKeyUsage=clientAuth")):
        with open(os.path.join(directory, f"{name}.ext"), "w") as f:
            f.write(f"{ext}\nauthorityKeyIdentifier=keyid\nkeyUsage=critical,digitalSignature\n")
        _openssl("req", *key, "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN=z4j test {name}", cwd=directory)
        _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-days", "2",
                 "-extfile", f"{name}.ext", "-out", f"{name}.pem", cwd=directory)


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, ssl.SSLError):
        pass
    finally:
        writer.close()


async def _forward(upstream: tuple[str, int], client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
    try:
        up_reader, up_writer = await asyncio.open_connection(*upstream)
    except OSError:
        client_writer.close()
        return
    await asyncio.gather(_pipe(client_reader, up_writer), _pipe(up_reader, client_writer))


def start(upstream_url: str, base: str) -> tuple[TlsProxy, Callable[[], None]]:
    """Starts a proxy to the host and port of `upstream_url` on a free port (a thread with its
    own event loop); returns it, its URLs made of `base`, and a stop."""
    directory = tempfile.mkdtemp(prefix="z4j-tls-")
    make_certificates(directory)
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=os.path.join(directory, "ca.pem"))
    server_context.load_cert_chain(os.path.join(directory, "server.pem"), os.path.join(directory, "server.key"))
    server_context.verify_mode = ssl.CERT_REQUIRED  # a client certificate of the CA, or no handshake
    port, stop = _serve(upstream_url, server_context)
    files = {n: os.path.join(directory, f) for n, f in (("cafile", "ca.pem"), ("certfile", "client.pem"), ("keyfile", "client.key"))}
    return TlsProxy(port, base=base, **files), stop


def start_plain(upstream_url: str) -> tuple[int, Callable[[], None]]:
    """A plain TCP proxy to the host and port of `upstream_url`, on a free port: a node of a
    cluster in the tests of failover lists, whose stop is the node going away (its connections
    cut, its port refusing)."""
    return _serve(upstream_url, None)


def _serve(upstream_url: str, server_context: ssl.SSLContext | None) -> tuple[int, Callable[[], None]]:
    plain = urllib.parse.urlsplit(upstream_url)
    loop = asyncio.new_event_loop()
    server = loop.run_until_complete(asyncio.start_server(functools.partial(_forward, (plain.hostname, plain.port)), "127.0.0.1", 0, ssl=server_context))
    thread = threading.Thread(target=loop.run_forever, name="z4j-test-tls-proxy", daemon=True)
    thread.start()

    async def shutdown() -> None:
        server.close()
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in tasks:  # the connections still forwarded
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def stop() -> None:
        asyncio.run_coroutine_threadsafe(shutdown(), loop).result(5)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)

    return server.sockets[0].getsockname()[1], stop
