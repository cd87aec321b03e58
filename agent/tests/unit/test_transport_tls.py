"""The agent's amqps:// connections, to a RabbitMQ behind TLS with a private CA that asks for a
client certificate (tls_rabbit.py), with each AMQP client this venv has (pika and py-amqp in the
celery venv, aio-pika in taskiq's): events delivered and commands taken when the URL names the
CA and the certificate, as aio-pika's own URL arguments do; refused when it does not (the
server's certificate is checked)."""
import ssl
import uuid

import pytest

from test_commands_amqp import CLIENTS
from test_transport_amqp import BATCH, PUBLISHERS, TRANSPORTS, _queue_op
from z4j_agent import amqp_commands
from z4j_agent.amqp_connect import share_context


def _delivered(client, url):
    """How many of one batch sent through `url` with `client` reached a new events queue."""
    queue = f"z4j-test-events-{uuid.uuid4().hex[:8]}"
    transport = TRANSPORTS[client](url, "agent-1", queue)
    try:
        transport.send(BATCH, "sig", 1)
        return _queue_op("count", queue)
    finally:
        transport.close()
        _queue_op("delete", queue)


@pytest.mark.parametrize("client", PUBLISHERS)
def test_events_reach_a_tls_rabbitmq_of_a_private_ca_named_in_the_url(client, tls_rabbit):
    assert _delivered(client, tls_rabbit.url(**tls_rabbit.all_files())) == 1


@pytest.mark.parametrize("client", PUBLISHERS)
def test_without_the_ca_the_servers_certificate_is_refused(client, tls_rabbit):
    url = tls_rabbit.url(certfile=tls_rabbit.certfile, keyfile=tls_rabbit.keyfile)  # the system's CAs only
    with pytest.raises(Exception) as raised:
        _delivered(client, url)
    assert "CERTIFICATE_VERIFY_FAILED" in _chain(raised.value)


@pytest.mark.parametrize("client", PUBLISHERS)
def test_no_verify_ssl_skips_the_servers_certificate_check(client, tls_rabbit):
    url = tls_rabbit.url(certfile=tls_rabbit.certfile, keyfile=tls_rabbit.keyfile, no_verify_ssl="1")
    assert _delivered(client, url) == 1


@pytest.mark.parametrize("client", PUBLISHERS)
def test_a_tls_file_that_cannot_be_read_is_named(client, tls_rabbit, tmp_path):
    """Said by the argument that names it: the agent's warning is where a user looks."""
    with pytest.raises(ValueError, match="cafile=/no/such/ca.pem: no such readable file"):
        _delivered(client, tls_rabbit.url(cafile="/no/such/ca.pem"))
    not_pem = tmp_path / "ca.pem"
    not_pem.write_text("not a certificate")
    if client != "py_amqp":  # py-amqp reads the files itself, as it connects
        with pytest.raises(ValueError, match=f"TLS files \\(cafile={not_pem}\\)"):
            _delivered(client, tls_rabbit.url(cafile=str(not_pem)))


@pytest.mark.parametrize("client", [c for c in PUBLISHERS if c != "py_amqp"])
def test_a_context_the_engine_shared_is_the_one_used(client, tls_rabbit):
    """Dramatiq's pika parameters and taskiq-aio-pika's ssl_context hold an SSLContext, not
    file names: the engine module shares it for the URL it made of them."""
    url = tls_rabbit.url(host="localhost")  # no TLS arguments (and no other test's URL)
    share_context(url, tls_rabbit.client_context())
    assert _delivered(client, url) == 1


def test_commands_are_taken_over_tls(client_library, tls_rabbit):
    queue = f"z4j-test-commands-{uuid.uuid4().hex[:8]}"
    listener = amqp_commands.open_queue(tls_rabbit.url(**tls_rabbit.all_files()), queue, 0.2)
    try:
        assert listener.take() is None  # connected, the queue declared, nothing in it
        _queue_op("publish", queue, b"a command")
        body, ack = listener.take()
        ack()
        assert body == b"a command"
    finally:
        listener.close()
        _queue_op("delete", queue)


@pytest.fixture(params=CLIENTS)
def client_library(request, monkeypatch):
    monkeypatch.setattr(amqp_commands, "client_library", lambda: request.param)
    return request.param


def _chain(err):
    """The texts of an error and its causes (pika and aio-pika wrap the SSL error)."""
    texts = []
    while err is not None and len(texts) < 10:
        texts.append(f"{type(err).__name__}: {err!r} {err}")
        err = err.__cause__ or err.__context__
    return " | ".join(texts)


def test_the_system_cas_are_what_an_amqps_url_without_a_cafile_trusts():
    from z4j_agent.amqp_connect import ssl_context

    context = ssl_context("amqps://h/%2F")
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert ssl_context("amqp://h/%2F") is None
