"""Three service processes on one PostgreSQL behind nginx configured as shipped: they start
together on an empty database, a login made through the load balancer holds on every instance,
and a killed instance costs no request and comes back."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aiohttp
import pytest

from visioregul.integration.store.db import current_revision, head_revision

from .harness import PASSWORD, USERNAME, Cluster

pytestmark = pytest.mark.postgres

_BOUND = 30.0
"""How long a state the tests wait for may take to come (a bound, not a timing)."""


def _browser() -> aiohttp.ClientSession:
    """A client that keeps cookies, as a browser does (the load balancer's host is an IP
    address, whose cookies aiohttp drops unless told otherwise)."""
    return aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))


async def _login(http: aiohttp.ClientSession, cluster: Cluster) -> str:
    """Sign in through the load balancer as a browser does; returns the CSRF token."""
    async with http.post(
        f"{cluster.lb_url}/console/login",
        data={"username": USERNAME, "password": PASSWORD, "position": "PJSIP/1001"},
        headers={"Origin": cluster.lb_url},
        allow_redirects=False,
    ) as response:
        assert response.status == 303, await response.text()
        assert response.headers["Location"] == "/console"
    return str((await _me(http, cluster))["csrf_token"])


async def _me(http: aiohttp.ClientSession, cluster: Cluster) -> dict[str, Any]:
    async with http.get(f"{cluster.lb_url}/console/api/me") as response:
        assert response.status == 200, await response.text()
        body: dict[str, Any] = await response.json()
        return body


async def _served_me(cluster: Cluster, since: int, count: int) -> list[tuple[int, list[str]]]:
    """Status and instances tried of the ``count`` requests after the first ``since``, each a
    ``/console/api/me``."""
    served = await cluster.served_since(since, count)
    assert all(request.startswith("GET /console/api/me ") for *_, request in served), served
    return [(status, tried) for status, tried, _request in served]


async def test_given_three_instances_started_at_once_on_an_empty_database_then_each_is_ready_and_hears_the_others(  # noqa: E501
    cluster_started_at_once: Cluster,
) -> None:
    cluster = cluster_started_at_once
    assert await current_revision(cluster.database_url) == head_revision()
    for name in cluster.names:
        status, body = await cluster.readyz(name)
        assert (status, body) == (
            200,
            {
                "status": "ready",
                "instance": "ready",
                "instance_id": name,
                "database": "up",
                "telephony": "up",
                "other_instances": "heard",
            },
        )
    # Plain round robin: three requests through the load balancer, three instances.
    async with aiohttp.ClientSession() as http:
        seen = set()
        for _ in cluster.names:
            async with http.get(f"{cluster.lb_url}/readyz") as response:
                assert response.status == 200
                seen.add((await response.json())["instance_id"])
    assert seen == set(cluster.names)


async def test_given_a_login_through_the_load_balancer_then_every_instance_honours_it(
    cluster: Cluster,
) -> None:
    async with _browser() as http:
        token = await _login(http, cluster)
        before = len(cluster.served())
        for _ in range(10):
            me = await _me(http, cluster)
            assert (me["account"]["username"], me["position"], me["csrf_token"]) == (
                USERNAME,
                "PJSIP/1001",
                token,
            )
    served = await _served_me(cluster, before, 10)
    assert [status for status, _tried in served] == [200] * 10
    # Each request was answered by one instance, and every instance answered some.
    assert all(len(tried) == 1 for _status, tried in served), served
    assert {tried[0] for _status, tried in served} == set(cluster.names)


async def test_given_an_instance_killed_then_requests_through_the_load_balancer_go_on_and_it_comes_back(  # noqa: E501
    cluster: Cluster,
) -> None:
    dead = cluster.names[1]
    async with _browser() as http:
        await _login(http, cluster)
        await cluster.kill(dead)
        assert cluster.instance(dead).pid is None
        before = len(cluster.served())
        for _ in range(10):
            assert (await _me(http, cluster))["account"]["username"] == USERNAME
        served = await _served_me(cluster, before, 10)
        assert [status for status, _tried in served] == [200] * 10
        # The dead instance was tried and the request passed on (proxy_next_upstream), until
        # nginx left it out; no request was answered by it.
        assert any(tried[:1] == [dead] and len(tried) == 2 for _status, tried in served), served
        assert all(tried[-1] != dead for _status, tried in served), served
        for name in cluster.names:
            if name != dead:
                assert (await cluster.readyz(name))[0] == 200

        await cluster.start(dead)
        body = await cluster.wait_ready(dead)
        assert (body["instance_id"], body["other_instances"]) == (dead, "heard")
        # nginx tries it again after fail_timeout: the same login is honoured there too.
        deadline = time.monotonic() + _BOUND
        while True:
            before = len(cluster.served())
            assert (await _me(http, cluster))["account"]["username"] == USERNAME
            if (await _served_me(cluster, before, 1)) == [(200, [dead])]:
                break
            assert time.monotonic() < deadline, f"{dead} gets no request: {cluster.served()}"
            await asyncio.sleep(0.2)


async def test_given_an_instance_stopped_as_systemd_does_then_it_exits_cleanly_and_requests_go_on(
    cluster: Cluster,
) -> None:
    stopped = cluster.names[0]
    async with _browser() as http:
        await _login(http, cluster)
        assert await cluster.stop(stopped) == 0
        before = len(cluster.served())
        for _ in range(6):
            assert (await _me(http, cluster))["account"]["username"] == USERNAME
        served = await _served_me(cluster, before, 6)
        assert [status for status, _tried in served] == [200] * 6
        assert all(tried[-1] != stopped for _status, tried in served), served
        for name in cluster.names[1:]:
            assert (await cluster.readyz(name))[0] == 200
        # Restarted with the same configuration, as `systemctl restart` does.
        await cluster.start(stopped)
        body = await cluster.wait_ready(stopped)
        assert (body["instance_id"], body["other_instances"]) == (stopped, "heard")
