"""huey_consumer for greenlet workers (-k greenlet), as Huey's docs start one: gevent's
monkey-patch first, then the consumer. Takes huey_consumer's arguments."""
from gevent import monkey

monkey.patch_all()

from huey.bin.huey_consumer import consumer_main  # noqa: E402 (after the patch)

consumer_main()
