"""Tokens the way Microsoft's own libraries get them: MSAL's client-credentials flow and
azure-identity's ClientSecretCredential, each pointed at tenant-sim as a private authority
(instance discovery off), trusting its CA through the usual environment variables."""

import msal
from azure.identity import ClientSecretCredential

GRAPH = "https://graph.microsoft.com/.default"
EXCHANGE = "https://outlook.office365.com/.default"


def test_msal_gets_a_token_for_each_resource_and_reuses_it(tenant):
    app = msal.ConfidentialClientApplication(
        tenant.client_id,
        client_credential=tenant.secret,
        authority=f"{tenant.base}/{tenant.tenant_id}",
        instance_discovery=False,
    )
    for scope in (GRAPH, EXCHANGE):
        result = app.acquire_token_for_client(scopes=[scope])
        assert "access_token" in result, result
        assert result["token_type"].lower() == "bearer"
        again = app.acquire_token_for_client(scopes=[scope])
        assert again["access_token"] == result["access_token"], "served from MSAL's cache"


def test_msal_reports_a_wrong_secret_in_the_platforms_words(tenant):
    app = msal.ConfidentialClientApplication(
        tenant.client_id,
        client_credential="not-the-secret",
        authority=f"{tenant.base}/{tenant.tenant_id}",
        instance_discovery=False,
    )
    result = app.acquire_token_for_client(scopes=[GRAPH])
    assert result.get("error") == "invalid_client", result
    assert 7000215 in result.get("error_codes", []), result


def test_azure_identity_gets_a_token_from_a_private_authority(tenant):
    credential = ClientSecretCredential(
        tenant.tenant_id,
        tenant.client_id,
        tenant.secret,
        authority=tenant.base,
        disable_instance_discovery=True,
    )
    token = credential.get_token(GRAPH)
    assert token.token
    assert token.expires_on > 0
