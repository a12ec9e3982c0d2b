"""The API never accepts so many connections that the process runs out of descriptors."""

from __future__ import annotations

from runledger.api.serving import FD_RESERVE, connection_cap
from runledger.core.settings import ApiSettings, DatabaseSettings


def test_the_setting_applies_when_the_open_file_limit_has_room_for_it():
    groups = {"api": ApiSettings(max_connections=4096), "database": DatabaseSettings(pool_max=10)}
    assert connection_cap(**groups, open_files=20_000) == 4096


def test_a_low_open_file_limit_lowers_the_cap_leaving_room_for_the_pool_and_clients():
    groups = {"api": ApiSettings(max_connections=4096), "database": DatabaseSettings(pool_max=10)}
    assert connection_cap(**groups, open_files=1024) == 1024 - FD_RESERVE - 10
