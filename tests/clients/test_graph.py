"""Microsoft Graph through Microsoft's own Python SDK (msgraph-sdk, on kiota and httpx), with
the options any user of a private base URL sets: the request adapter's base URL and the
authentication provider's allowed host. Every call Detour makes, and those an integrator
makes around them."""

import asyncio

import pytest
from azure.identity.aio import ClientSecretCredential
from kiota_abstractions.base_request_configuration import RequestConfiguration
from kiota_abstractions.headers_collection import HeadersCollection
from kiota_authentication_azure.azure_identity_authentication_provider import (
    AzureIdentityAuthenticationProvider,
)
from msgraph import GraphRequestAdapter, GraphServiceClient
from msgraph.generated.models.assigned_license import AssignedLicense
from msgraph.generated.models.on_premises_sync_behavior import OnPremisesSyncBehavior
from msgraph.generated.models.user import User
from msgraph.generated.users.item.assign_license.assign_license_post_request_body import (
    AssignLicensePostRequestBody,
)
from msgraph.generated.users.users_request_builder import UsersRequestBuilder
from msgraph_core import PageIterator
from msgraph_core.requests.batch_request_content import BatchRequestContent
from msgraph_core.requests.batch_request_item import BatchRequestItem


def run(coroutine):
    return asyncio.run(coroutine)


def graph(tenant) -> GraphServiceClient:
    credential = ClientSecretCredential(
        tenant.tenant_id,
        tenant.client_id,
        tenant.secret,
        authority=tenant.base,
        disable_instance_discovery=True,
    )
    auth = AzureIdentityAuthenticationProvider(
        credential,
        scopes=["https://graph.microsoft.com/.default"],
        allowed_hosts=[tenant.host.split(":")[0]],
    )
    adapter = GraphRequestAdapter(auth)
    adapter.base_url = f"{tenant.base}/v1.0"
    return GraphServiceClient(request_adapter=adapter)


def eventual(**query):
    """An advanced query: `ConsistencyLevel: eventual`, with these query parameters."""
    headers = HeadersCollection()
    headers.add("ConsistencyLevel", "eventual")
    parameters = UsersRequestBuilder.UsersRequestBuilderGetQueryParameters(**query)
    return RequestConfiguration(headers=headers, query_parameters=parameters)


def test_a_user_is_read_by_upn_and_by_id_with_select(tenant):
    async def go():
        client = graph(tenant)
        upn = tenant.users[0]
        config = RequestConfiguration(
            query_parameters=UsersRequestBuilder.UsersRequestBuilderGetQueryParameters(
                select=["id", "userPrincipalName", "onPremisesSyncEnabled", "proxyAddresses"]
            )
        )
        by_upn = await client.users.by_user_id(upn).get(request_configuration=config)
        assert by_upn.user_principal_name.lower() == upn.lower()
        assert by_upn.on_premises_sync_enabled is True
        by_id = await client.users.by_user_id(by_upn.id).get()
        assert by_id.id == by_upn.id
        assert by_id.display_name

    run(go())


def test_users_are_filtered_paged_and_counted(tenant):
    async def go():
        client = graph(tenant)
        first = await client.users.get(
            request_configuration=RequestConfiguration(
                query_parameters=UsersRequestBuilder.UsersRequestBuilderGetQueryParameters(
                    top=2, select=["id", "userPrincipalName"]
                )
            )
        )
        assert len(first.value) == 2
        assert first.odata_next_link
        seen = []
        pages = PageIterator(first, client.request_adapter)
        await pages.iterate(lambda user: seen.append(user.user_principal_name) or True)
        assert {u.lower() for u in tenant.users} <= {u.lower() for u in seen}

        upn = tenant.users[1]
        matching = await client.users.get(
            request_configuration=RequestConfiguration(
                query_parameters=UsersRequestBuilder.UsersRequestBuilderGetQueryParameters(
                    filter=f"userPrincipalName eq '{upn}'"
                )
            )
        )
        assert [u.user_principal_name.lower() for u in matching.value] == [upn.lower()]

        address = f"smtp:{upn}"
        counted = await client.users.get(
            request_configuration=eventual(
                filter=f"proxyAddresses/any(p:p eq '{address}')", count=True
            )
        )
        assert counted.odata_count == 1
        total = await client.users.count.get(request_configuration=eventual())
        assert total >= len(tenant.users)

    run(go())


def test_licences_seats_and_memberships_read_as_graph_shapes_them(tenant):
    async def go():
        client = graph(tenant)
        user = await client.users.by_user_id(tenant.users[0]).get(
            request_configuration=RequestConfiguration(
                query_parameters=UsersRequestBuilder.UsersRequestBuilderGetQueryParameters(
                    select=["id", "licenseAssignmentStates", "assignedLicenses"]
                )
            )
        )
        assert [str(s.sku_id) for s in user.license_assignment_states] == [tenant.sku]
        assert user.license_assignment_states[0].assigned_by_group is not None
        skus = await client.subscribed_skus.get()
        sku = next(s for s in skus.value if str(s.sku_id) == tenant.sku)
        assert sku.prepaid_units.enabled >= sku.consumed_units
        groups = await client.users.by_user_id(user.id).member_of.get()
        assert any(g.odata_type == "#microsoft.graph.group" for g in groups.value)

    run(go())


def test_a_licence_is_assigned_and_removed_and_the_usage_location_patched(tenant):
    async def go():
        client = graph(tenant)
        deleted = await client.directory.deleted_items.graph_user.get()
        target = next(
            u for u in deleted.value if u.user_principal_name.lower().endswith(
                tenant.deleted_user.lower()
            )
        )
        # A restored user is cloud-only: a direct licence needs a usage location first.
        restored = await client.directory.deleted_items.by_directory_object_id(
            target.id
        ).restore.post()
        assert restored.id == target.id
        await client.users.by_user_id(target.id).patch(User(usage_location="PL"))
        body = AssignLicensePostRequestBody(
            add_licenses=[AssignedLicense(sku_id=tenant.sku, disabled_plans=[])],
            remove_licenses=[],
        )
        licensed = await client.users.by_user_id(target.id).assign_license.post(body)
        assert licensed.id == target.id
        body = AssignLicensePostRequestBody(add_licenses=[], remove_licenses=[tenant.sku])
        await client.users.by_user_id(target.id).assign_license.post(body)

    run(go())


def test_a_deleted_user_is_listed_read_and_missing_ones_are_a_404(tenant):
    async def go():
        client = graph(tenant)
        listed = await client.directory.deleted_items.graph_user.get()
        for user in listed.value:
            one = await client.directory.deleted_items.by_directory_object_id(user.id).get()
            assert one.id == user.id
        from kiota_abstractions.api_error import APIError

        with pytest.raises(APIError) as error:
            await client.directory.deleted_items.by_directory_object_id(
                "00000000-0000-4000-8000-000000000000"
            ).get()
        assert error.value.response_status_code == 404

    run(go())


def test_the_sync_features_are_read_and_written(tenant):
    async def go():
        client = graph(tenant)
        sync = await client.directory.on_premises_synchronization.get()
        features = sync.value[0].features
        assert features.block_soft_match_enabled is False
        item = client.directory.on_premises_synchronization.by_on_premises_directory_synchronization_id(
            sync.value[0].id
        )
        current = await item.get()
        current.features.block_cloud_object_takeover_through_hard_match_enabled = True
        from msgraph.generated.models.on_premises_directory_synchronization import (
            OnPremisesDirectorySynchronization,
        )
        from msgraph.generated.models.on_premises_directory_synchronization_feature import (
            OnPremisesDirectorySynchronizationFeature,
        )

        await item.patch(
            OnPremisesDirectorySynchronization(
                features=OnPremisesDirectorySynchronizationFeature(
                    block_cloud_object_takeover_through_hard_match_enabled=False
                )
            )
        )
        again = await client.directory.on_premises_synchronization.get()
        assert again.value[0].features.block_cloud_object_takeover_through_hard_match_enabled is False

    run(go())


def test_a_users_source_of_authority_is_read_and_written(tenant):
    async def go():
        client = graph(tenant)
        user = await client.users.by_user_id(tenant.users[2]).get()
        behavior = client.users.by_user_id(user.id).on_premises_sync_behavior
        assert (await behavior.get()).is_cloud_managed is False
        await behavior.patch(OnPremisesSyncBehavior(is_cloud_managed=True))
        assert (await behavior.get()).is_cloud_managed is True
        await behavior.patch(OnPremisesSyncBehavior(is_cloud_managed=False))

    run(go())


def test_a_batch_reads_several_users_in_one_request(tenant):
    async def go():
        client = graph(tenant)
        batch = BatchRequestContent()
        items = []
        for upn in tenant.users[:3]:
            request = client.users.by_user_id(upn).to_get_request_information()
            item = BatchRequestItem(request_information=request)
            items.append(item)
            batch.add_request(item.id, item)
        # The SDK always sends `dependsOn` ([] when none); this one waits for the second.
        items[2].set_depends_on([items[1]])
        answer = await client.batch.post(batch)
        for item in items:
            response = answer.get_response_by_id(item.id)
            assert response.status == 200, response

    run(go())


def test_role_eligibility_is_read_with_its_role_definition(tenant):
    """The read the ladder added: PIM eligibility by principal, its role definition expanded."""
    from msgraph.generated.role_management.directory.role_eligibility_schedule_instances.role_eligibility_schedule_instances_request_builder import (
        RoleEligibilityScheduleInstancesRequestBuilder,
    )

    async def go():
        client = graph(tenant)
        user = await client.users.by_user_id(tenant.users[3]).get()
        query = RoleEligibilityScheduleInstancesRequestBuilder.RoleEligibilityScheduleInstancesRequestBuilderGetQueryParameters(
            filter=f"principalId eq '{user.id}'", expand=["roleDefinition"]
        )
        found = await client.role_management.directory.role_eligibility_schedule_instances.get(
            request_configuration=RequestConfiguration(query_parameters=query)
        )
        assert [i.role_definition.display_name for i in found.value] == ["Exchange Administrator"]
        assert found.value[0].principal_id == user.id

    run(go())
