"""What the contract tests are given by their Rust harness (tests/system, `clients`): a
tenant-sim over HTTPS with a scenario loaded, and the names in it. Each value comes from the
environment; a missing one is a clear error, not a skip."""

import os
from dataclasses import dataclass

import pytest


def _need(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        raise RuntimeError(
            f"{name} is not set: run these tests through the Rust harness "
            "(cargo nextest run -p detour-system clients)"
        )
    return value


@dataclass(frozen=True)
class Tenant:
    base: str
    host: str
    tenant_id: str
    client_id: str
    secret: str
    users: list
    deleted_user: str
    sku: str
    jira_user: str
    jira_token: str
    jira_issue: str
    snow_user: str
    snow_password: str
    snow_incident: str


@pytest.fixture(scope="session")
def tenant() -> Tenant:
    base = _need("SIM_HTTPS")
    return Tenant(
        base=base,
        host=base.removeprefix("https://"),
        tenant_id=_need("SIM_TENANT_ID"),
        client_id=_need("SIM_CLIENT_ID"),
        secret=_need("SIM_CLIENT_SECRET"),
        users=_need("SIM_USERS").split(","),
        deleted_user=_need("SIM_DELETED_USER"),
        sku=_need("SIM_SKU"),
        jira_user=_need("SIM_JIRA_USER"),
        jira_token=_need("SIM_JIRA_TOKEN"),
        jira_issue=_need("SIM_JIRA_ISSUE"),
        snow_user=_need("SIM_SNOW_USER"),
        snow_password=_need("SIM_SNOW_PASSWORD"),
        snow_incident=_need("SIM_SNOW_INCIDENT"),
    )
