"""Redis found through Sentinel: the redis+sentinel:// URL (redis_sentinel.py), the URL read from
a worker's Sentinel-managed client, and delivery and commands through a real Sentinel that
follow a failover (sentinel_group.py: a master, its replica and a Sentinel, real redis-servers)."""
import time
import uuid

import pytest
import redis

from z4j_agent import core
from z4j_agent._common import redis_url
from z4j_agent.config import ConfigError, load_config
from z4j_agent.redis_sentinel import SentinelUrl, make_url, parse

from test_agent import SECRET, read_events
from test_commands import FakeAgent, command


def test_a_sentinel_url_reads_back_as_it_was_made():
    url = make_url([("10.0.0.1", 26379), ("::1", 26380)], "my master", 3, "app", "p@ss:w/rd", "watcher", "s3cret")
    assert url == "redis+sentinel://app:p%40ss%3Aw%2Frd@10.0.0.1:26379,[::1]:26380/my%20master/3?sentinel_username=watcher&sentinel_password=s3cret"
    assert parse(url) == SentinelUrl([("10.0.0.1", 26379), ("::1", 26380)], "my master", 3, "app", "p@ss:w/rd", "watcher", "s3cret")
    tls = make_url([("h", 1)], "m", tls={"ssl_ca_certs": "/ca.pem"}, sentinel_tls=True)
    assert tls == "rediss+sentinel://h:1/m/0?ssl_ca_certs=%2Fca.pem&sentinel_ssl=true"
    assert parse(tls) == SentinelUrl([("h", 1)], "m", tls={"ssl_ca_certs": "/ca.pem"}, sentinel_tls=True)


def test_a_sentinel_url_may_leave_out_the_port_the_db_and_the_password():
    assert parse("redis+sentinel://a,b:26390/mymaster") == SentinelUrl([("a", 26379), ("b", 26390)], "mymaster")
    assert parse("redis+sentinel://:pw@a/m/1").password == "pw"


@pytest.mark.parametrize(("url", "says"), [
    ("redis+sentinel://a:26379", "names its sentinels and the master's name"),
    ("redis+sentinel:///mymaster", "names its sentinels and the master's name"),
    ("redis+sentinel://a:26379/mymaster/0/x", "the db number only"),
    ("redis+sentinel://a:26379/mymaster/zero", "the db number only"),
    ("redis+sentinel://a:port/mymaster", "host:port, not 'a:port'"),
    ("redis+sentinel://a/mymaster?ssl_ca_certs=/ca.pem", "not ssl_ca_certs"),  # TLS files without TLS: rediss+sentinel://
    ("redis+sentinel://a/mymaster?socket_timeout=1", "takes sentinel_username, sentinel_password, sentinel_ssl in its query, not socket_timeout"),
])
def test_a_malformed_sentinel_url_is_refused_saying_what_is_wrong(url, says):
    with pytest.raises(ValueError, match=says.replace("(", r"\(")):
        parse(url)
    with pytest.raises(ConfigError, match="^Z4J_BROKER_URL: "):
        load_config(broker_url=url)


def test_the_url_of_a_client_found_through_sentinel_names_its_sentinels_and_master():
    """What a worker made (RQ, Dramatiq, Huey: a sync client; arq, taskiq: an asyncio one) is
    read back as the URL the agent connects with; nothing connects here."""
    from redis.asyncio.sentinel import Sentinel as AsyncSentinel
    from redis.sentinel import Sentinel

    worker = Sentinel([("s1", 26379), ("s2", 26380)], sentinel_kwargs={"password": "watch"}, password="pw").master_for("mymaster", db=2)
    assert redis_url(worker) == "redis+sentinel://:pw@s1:26379,s2:26380/mymaster/2?sentinel_password=watch"
    plain_sentinels = AsyncSentinel([("s1", 26379)], ssl=True, ssl_ca_certs="/ca.pem").master_for("m")
    assert redis_url(plain_sentinels) == "rediss+sentinel://s1:26379/m/0?ssl_ca_certs=%2Fca.pem"
    tls_sentinels = Sentinel([("s1", 26379)], ssl=True, sentinel_kwargs={"ssl": True}).master_for("m")
    assert parse(redis_url(tls_sentinels)).sentinel_tls is True


def _stream(group, project):
    return group.master().xrange(f"z4j:events:{project}")


def test_the_agent_delivers_through_sentinel_and_follows_a_failover(sentinel_group):
    """After the master dies, the sentinel promotes its replica and the agent's next connection
    asks for it: the events of the outage wait in the buffer and arrive at the new master, none
    dropped. A fixed redis:// URL would go on trying the dead one."""
    project = f"sentinel-{uuid.uuid4().hex[:8]}"
    core.reset_agent()
    agent = core.get_agent(project=project, agent_id="agent-t", agent_secret=SECRET, broker_url=sentinel_group.url(), flush_interval=0.05)
    try:
        for i in range(5):
            agent.task_event("rq", "started", f"before-{i}", fields={"name": "t"})
        assert agent.flush(5)
        old = sentinel_group.master_port_now()
        sentinel_group._wait(lambda: sentinel_group.master().role()[0] == b"master" and redis.Redis(port=sentinel_group.replica_port).xlen(f"z4j:events:{project}") > 0,
                             "the replica to have the first events")
        new = sentinel_group.fail_master()
        assert new != old
        for i in range(5):
            agent.task_event("rq", "started", f"after-{i}", fields={"name": "t"})
        assert agent.flush(20)
        ids = [e["taskId"] for e in read_events(sentinel_group.master(), project)]
        assert ids == [f"before-{i}" for i in range(5)] + [f"after-{i}" for i in range(5)]
        assert agent.stats()["dropped"] == 0
    finally:
        core.reset_agent()


def test_commands_reach_a_worker_through_sentinel_after_a_failover(sentinel_group):
    from z4j_agent.commands import CommandListener, command_key

    agent = FakeAgent()
    listener = CommandListener(agent, "huey", "w1", sentinel_group.url(), {"echo": lambda args: {"echo": args["x"]}})
    assert listener.kind == "redis"
    stop = listener.start()
    try:
        for round in ("before", "after"):
            if round == "after":
                sentinel_group.fail_master()
            raw, body = command()
            sentinel_group.master().lpush(command_key("unit", "w1"), raw)
            deadline = time.time() + 20
            while time.time() < deadline and not any(e.get("commandId") == body["id"] for e in agent.sent):
                time.sleep(0.05)
            assert [e["commandId"] for e in agent.sent][-1] == body["id"], f"the command sent {round} the failover was not taken"
    finally:
        stop()


def test_the_agent_refuses_a_sentinel_that_does_not_know_the_master(sentinel_group):
    from z4j_agent.transport import RedisStreamTransport

    transport = RedisStreamTransport(sentinel_group.url().replace("/z4jmaster/", "/nosuchmaster/"), "a", "p", 100)
    with pytest.raises(redis.sentinel.MasterNotFoundError, match="nosuchmaster"):
        transport.send(b"{}", "sig")


def test_a_worker_on_tls_sentinels_of_a_private_ca_lends_the_agent_its_tls(tls_sentinel_group):
    """Master, replica and sentinel on TLS only (real redis-servers, a CA made for the run): the
    URL read from the worker's client says rediss+sentinel://, its CA, and TLS to the sentinels
    too; the agent delivers through it, and without the CA it is refused."""
    from redis.sentinel import Sentinel

    from sentinel_group import SERVICE

    group = tls_sentinel_group
    tls = {"ssl": True, "ssl_ca_certs": group.cafile}
    worker = Sentinel([("127.0.0.1", group.sentinel_port)], sentinel_kwargs=tls, **tls).master_for(SERVICE, db=3)
    assert worker.ping()  # the worker's own connection: these settings are right
    url = redis_url(worker)
    assert parse(url) == SentinelUrl([("127.0.0.1", group.sentinel_port)], SERVICE, 3, tls={"ssl_ca_certs": group.cafile}, sentinel_tls=True)
    assert group.delivered(url) == 1
    # With the system's CAs the sentinel's certificate is refused (redis-py says only that no
    # sentinel answered; the group works, as the delivery above shows).
    with pytest.raises(redis.sentinel.MasterNotFoundError):
        group.delivered(f"rediss+sentinel://127.0.0.1:{group.sentinel_port}/{SERVICE}/3?sentinel_ssl=true")
