"""A Redis master, its replica and a Sentinel watching them, each a real redis-server on a free
port of 127.0.0.1, for the tests of the agent's redis+sentinel:// connections and of a failover
under them. Made by a test fixture and gone with it (data in a temporary directory)."""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import redis

SERVICE = "z4jmaster"


def _free_ports(n: int) -> list[int]:
    """n distinct free ports: the sockets are held together while the kernel picks (one by one,
    a port let go may be picked again, and a server left without its port never starts)."""
    sockets = [socket.socket() for _ in range(n)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


class SentinelGroup:
    """`tls`: every server (the sentinel too) speaks TLS only, with a certificate of a CA made for
    the run (`cafile`); clients show none."""

    def __init__(self, tls: bool = False) -> None:
        if shutil.which("redis-server") is None:
            raise RuntimeError("redis-server is not installed: run scripts/setup-system.sh")
        self.dir = tempfile.mkdtemp(prefix="z4j-sentinel-")
        self.master_port, self.replica_port, self.sentinel_port = _free_ports(3)
        self.cafile = os.path.join(self.dir, "ca.pem") if tls else None
        self._tls_args: tuple[str, ...] = ()
        try:
            self._start_all(tls)
        except BaseException:
            # The fixture never gets the group to stop: the servers already daemonized would
            # outlive the test run.
            self.stop()
            raise

    def _start_all(self, tls: bool) -> None:
        if tls:
            from tls_proxy import make_certificates

            make_certificates(self.dir)
            files = ("--tls-cert-file", os.path.join(self.dir, "server.pem"), "--tls-key-file", os.path.join(self.dir, "server.key"),
                     "--tls-ca-cert-file", self.cafile)
            self._tls_args = (*files, "--tls-replication", "yes", "--tls-auth-clients", "no")
        # The replica's first sync at once: diskless, a master waits 5 s by default for more replicas.
        self._server(self.master_port, "master", "--repl-diskless-sync-delay", "0")
        self._server(self.replica_port, "replica", "--replicaof", "127.0.0.1", str(self.master_port))
        # The sentinel reads a server's INFO when it first connects and then every 10 s: started
        # before the replica's sync is done, it may hear of the replica, or of its link being up,
        # only 10 or 20 s later. Once the sync is done, its first reads do.
        self._wait(lambda: self._client(self.replica_port).info("replication").get("master_link_status") == "up",
                   "the replica's first sync")
        conf = os.path.join(self.dir, "sentinel.conf")
        with open(conf, "w") as f:
            # Down after a second: a failover in the tests takes seconds, not the default 30.
            listen = f"port 0\ntls-port {self.sentinel_port}\n" + "".join(f"{k[2:]} {v}\n" for k, v in zip(self._tls_args[::2], self._tls_args[1::2])) if tls else f"port {self.sentinel_port}\n"
            f.write(f"{listen}bind 127.0.0.1\ndir {self.dir}\n"
                    f"sentinel monitor {SERVICE} 127.0.0.1 {self.master_port} 1\n"
                    f"sentinel down-after-milliseconds {SERVICE} 1000\nsentinel failover-timeout {SERVICE} 10000\n")
        self._start("sentinel", conf, "--sentinel")
        # A failover needs a replica the sentinel has heard from and whose link to the master is up.
        self._wait(lambda: any(r["flags"] == "slave" and r["master-link-status"] == "ok" for r in self.sentinel().sentinel_slaves(SERVICE)),
                   "the sentinel to see a good replica")

    def _server(self, port: int, name: str, *args: str) -> None:
        listen = ("--port", "0", "--tls-port", str(port), *self._tls_args) if self.cafile else ("--port", str(port))
        self._start(name, *listen, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", self.dir, "--dbfilename", f"{name}.rdb", *args)

    def _start(self, name: str, *args: str) -> None:
        pidfile = os.path.join(self.dir, f"{name}.pid")
        subprocess.run(["redis-server", *args, "--daemonize", "yes", "--pidfile", pidfile,
                        "--logfile", os.path.join(self.dir, f"{name}.log")], check=True)
        # The command returns once the server has forked; the pid file is written only after it
        # has bound its port. Until then stop() could not find it, and a server that cannot bind
        # never writes it: its log says why.
        self._wait(lambda: os.path.exists(pidfile), f"{name} to start", timeout=10)

    def _wait(self, ready, what: str, timeout: float = 20.0) -> None:
        """Polls `ready` until it is true; past `timeout`, fails saying what it waited for, with
        the servers' logs."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                if ready():
                    return
            except redis.RedisError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"waited {timeout:.0f} s for {what}{self._logs()}")
            time.sleep(0.1)

    def _logs(self, lines: int = 15) -> str:
        """The last lines of each server's log, for a setup that did not come up."""
        told = []
        for name in ("master", "replica", "sentinel"):
            try:
                with open(os.path.join(self.dir, f"{name}.log"), errors="replace") as f:
                    told.append(f"\n--- {name}.log (last {lines} lines)\n" + "".join(f.readlines()[-lines:]))
            except OSError as err:
                told.append(f"\n--- {name}.log: {err.strerror}")
        return "".join(told)

    def url(self, db: int = 0, **query: str) -> str:
        import urllib.parse

        return f"redis+sentinel://127.0.0.1:{self.sentinel_port}/{SERVICE}/{db}" + ("?" + urllib.parse.urlencode(query) if query else "")

    def _client(self, port: int, db: int = 0) -> redis.Redis:
        tls = {"ssl": True, "ssl_ca_certs": self.cafile} if self.cafile else {}
        return redis.Redis(port=port, db=db, socket_timeout=3, **tls)

    def sentinel(self) -> redis.Redis:
        return self._client(self.sentinel_port)

    def master_port_now(self) -> int:
        # execute_command, not sentinel_get_master_addr_by_name: redis-py 6's passes its parser
        # an `once` it does not take (TypeError) on a plain client
        return int(self.sentinel().execute_command("SENTINEL GET-MASTER-ADDR-BY-NAME", SERVICE)[1])

    def master(self, db: int = 0) -> redis.Redis:
        """A plain client of whichever server is the master now."""
        return self._client(self.master_port_now(), db)

    def delivered(self, url: str) -> int:
        """How many events one batch the agent sends through `url` added to the master's stream
        (of a project of its own), in the URL's db."""
        import uuid

        from z4j_agent.redis_sentinel import parse
        from z4j_agent.transport import RedisStreamTransport

        project = f"sentinel-{uuid.uuid4().hex[:8]}"
        transport = RedisStreamTransport(url, "agent-1", project, 1000)
        try:
            transport.send(b"{}", "sig", 1)
            return self.master(parse(url).db).xlen(f"z4j:events:{project}")
        finally:
            transport.close()

    def fail_master(self) -> int:
        """Stops the master as a crash would (no save), waits for the sentinel to promote the
        replica, and returns the new master's port."""
        old = self.master_port_now()
        try:
            self._client(old).shutdown(nosave=True)
        except redis.ConnectionError:  # the server closes the connection as it goes
            pass
        self._wait(lambda: self.master_port_now() != old and self._client(self.master_port_now()).role()[0] == b"master", "the failover")
        return self.master_port_now()

    def stop(self) -> None:
        for name in ("sentinel", "replica", "master"):
            try:
                with open(os.path.join(self.dir, f"{name}.pid")) as f:
                    os.kill(int(f.read()), signal.SIGKILL)
            except (OSError, ValueError):  # gone already (a failed master)
                pass
        shutil.rmtree(self.dir, ignore_errors=True)
