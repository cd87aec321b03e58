"""Sends the integration scenario to the test app and prints the ids as JSON.

Scenario: add (succeeds), fail (fails), flaky (retries then succeeds, with a secret kwarg),
a chain add(1,1) | add(2) | add(3), and a group of three adds.
"""
import json
import sys
import uuid

from celery import chain, group

from tasks import add, app, fail, flaky

key = uuid.uuid4().hex
ids = {}
ids["add"] = add.delay(2, 3).id
ids["fail"] = fail.delay("expected failure").id
ids["flaky"] = flaky.apply_async(args=[key], kwargs={"password": "hunter2"}).id
c = chain(add.s(1, 1), add.s(2), add.s(3)).apply_async()
# The chain's result is its last task; walk parents back to the first.
links = []
node = c
while node is not None:
    links.append(node.id)
    node = node.parent
ids["chain"] = list(reversed(links))
g = group(add.s(i, i) for i in range(3)).apply_async()
ids["group"] = [r.id for r in g.results]
app.close()
json.dump(ids, sys.stdout)
