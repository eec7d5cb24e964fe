"""Ray's token-auth notice stays off the console; its other auth warnings do not.

A real run's console is checked in tests/shadow/test_replay_cli_rows.py.
"""

from __future__ import annotations

import logging

import pytest

from workers.cluster import AUTH_NOTICE_LOGGER


def test_the_token_auth_notice_is_dropped_and_other_auth_warnings_kept(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger(AUTH_NOTICE_LOGGER)
    with caplog.at_level(logging.WARNING, logger=AUTH_NOTICE_LOGGER):
        logger.warning("Token authentication is enabled for this Ray cluster. Set RAY_AUTH_MODE=disabled to opt out.")
        logger.warning("Token authentication is disabled; anyone who can reach the cluster can run code on it.")
    assert [r.getMessage()[:40] for r in caplog.records] == ["Token authentication is disabled; anyone"]

