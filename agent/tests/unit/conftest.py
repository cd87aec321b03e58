import os

import pytest
import redis

REDIS_URL = os.environ.get("Z4J_TEST_AGENT_REDIS_URL", "redis://127.0.0.1:6379/14")


@pytest.fixture
def redis_client():
    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.ConnectionError as err:  # fail, never skip: CI starts Redis
        pytest.fail(f"Redis is not reachable at {REDIS_URL} ({err}); start it with `bash scripts/services.sh start`")
    yield client
    client.close()
