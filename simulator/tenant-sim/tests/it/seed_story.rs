//! The seed's procedure, step by step, as an admin would walk it: the address added in AD
//! never reaches the cloud; Exchange refuses to edit the synced mailbox; out of scope the user
//! is deleted (one deletion) and restored cloud-only; licensed again its mailbox returns and
//! takes the address; back in scope it matches the same object, keeps the address and gets
//! its group licence back.

use std::time::Duration;

use detour_contracts::connect_agent::{ObjectOutcome, RunOutcome};
use detour_testkit::eventually;
use reqwest::Method;
use serde_json::{Value, json};

use crate::support::{E3, Harness};

fn has_address(user: &Value, address: &str) -> bool {
    user["proxyAddresses"]
        .as_array()
        .unwrap()
        .iter()
        .any(|a| a.as_str().unwrap().eq_ignore_ascii_case(address))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_seed_procedure_fixes_the_missing_address() {
    let sim = Harness::start("seed", &["ada", "bob"], Harness::without_ad_routing_address).await;
    let upn = sim.upn("ada");
    let address = format!("smtp:{}@contoso.mail.onmicrosoft.com", sim.sam("ada"));
    let select = "$select=id,proxyAddresses,onPremisesSyncEnabled,onPremisesImmutableId,licenseAssignmentStates";
    let (status, before) = sim
        .graph(Method::GET, &format!("/users/{upn}?{select}"), None)
        .await;
    assert_eq!(status, 200, "{before}");
    let id = before["id"].as_str().unwrap().to_owned();
    assert_eq!(before["onPremisesSyncEnabled"], true);

    // 1. Adding it to proxyAddresses in AD does nothing.
    sim.add_ad_proxy("ada", &address).await;
    let run = sim.sync().await;
    assert_eq!(run.outcome, RunOutcome::Success);
    let (_, user) = sim
        .graph(Method::GET, &format!("/users/{id}?{select}"), None)
        .await;
    assert!(
        !has_address(&user, &address),
        "reserved suffixes are discarded: {user}"
    );

    // 2. Exchange refuses to edit a synced mailbox.
    let add = json!({ "Identity": upn, "EmailAddresses": { "@odata.type": "#Exchange.GenericHashTable", "Add": [address] } });
    let (status, refusal) = sim.invoke("Set-Mailbox", add.clone()).await;
    assert_eq!(status, 400);
    let detail = refusal["error"]["details"][0]["message"].as_str().unwrap();
    assert!(
        detail.contains("out of the current user's write scope"),
        "{detail}"
    );
    assert_eq!(
        detail.split('|').count(),
        3,
        "Code|ExceptionType|Message: {detail}"
    );

    // 3. Out of scope, one sync: exactly one deletion, and the user in deletedItems.
    sim.move_user("ada", &sim.staff(), &sim.parked()).await;
    let run = sim.sync().await;
    let deleted: Vec<_> = run
        .objects
        .iter()
        .filter(|o| o.outcome == ObjectOutcome::Deleted)
        .collect();
    assert_eq!(deleted.len(), 1, "{:?}", run.objects);
    assert_eq!(run.connectors[0].deletes, 1);
    assert_eq!(deleted[0].cloud_object_id.unwrap().to_string(), id);
    let (status, gone) = sim.graph(Method::GET, &format!("/users/{id}"), None).await;
    assert_eq!(
        (status, gone["error"]["code"].as_str()),
        (404, Some("Request_ResourceNotFound"))
    );
    let (status, item) = sim
        .graph(Method::GET, &format!("/directory/deletedItems/{id}"), None)
        .await;
    assert_eq!(status, 200);
    assert!(
        item["userPrincipalName"].as_str().unwrap().ends_with(&upn),
        "Connect prefixes the UPN: {item}"
    );

    // 4. Restore: the user is cloud-only now.
    let (status, restored) = sim
        .graph(
            Method::POST,
            &format!("/directory/deletedItems/{id}/restore"),
            Some(json!({})),
        )
        .await;
    assert_eq!(status, 200, "{restored}");
    assert_eq!(restored["userPrincipalName"], upn.as_str());
    let (_, user) = sim
        .graph(Method::GET, &format!("/users/{id}?{select}"), None)
        .await;
    assert_eq!(user["onPremisesSyncEnabled"], false);
    assert_eq!(
        user["licenseAssignmentStates"],
        json!([]),
        "the group licence went with the synced membership"
    );

    // 5. The mailbox is gone until a licence brings it back.
    let (status, _) = sim.invoke("Get-Mailbox", json!({ "Identity": upn })).await;
    assert_eq!(status, 404);
    let licence =
        json!({ "addLicenses": [{ "skuId": E3, "disabledPlans": [] }], "removeLicenses": [] });
    let (status, error) = sim
        .graph(
            Method::POST,
            &format!("/users/{id}/assignLicense"),
            Some(licence.clone()),
        )
        .await;
    assert_eq!(
        (status, error["error"]["code"].as_str()),
        (400, Some("Request_BadRequest")),
        "usageLocation first"
    );
    let (status, _) = sim
        .graph(
            Method::PATCH,
            &format!("/users/{id}"),
            Some(json!({ "usageLocation": "PL" })),
        )
        .await;
    assert_eq!(status, 204);
    let (status, licensed) = sim
        .graph(
            Method::POST,
            &format!("/users/{id}/assignLicense"),
            Some(licence),
        )
        .await;
    assert_eq!(status, 200, "{licensed}");
    let mailbox = eventually(
        Duration::from_secs(10),
        "the mailbox to reconnect",
        || async {
            let (status, body) = sim.invoke("Get-Mailbox", json!({ "Identity": upn })).await;
            (status == 200).then_some(body)
        },
    )
    .await;
    assert_eq!(mailbox["value"][0]["RecipientTypeDetails"], "UserMailbox");
    assert_eq!(mailbox["value"][0]["IsDirSynced"], false);

    // 6. Now the address can be added.
    let (status, body) = sim.invoke("Set-Mailbox", add).await;
    assert_eq!(status, 200, "{body}");
    let (_, mailbox) = sim.invoke("Get-Mailbox", json!({ "Identity": upn })).await;
    let addresses = mailbox["value"][0]["EmailAddresses"].as_array().unwrap();
    assert!(
        addresses
            .iter()
            .any(|a| a.as_str().unwrap().eq_ignore_ascii_case(&address)),
        "{addresses:?}"
    );

    // 7. Back in scope, one sync: the same object, synced, the address kept.
    sim.move_user("ada", &sim.parked(), &sim.staff()).await;
    let run = sim.sync().await;
    let matched: Vec<_> = run
        .objects
        .iter()
        .filter(|o| o.outcome == ObjectOutcome::Matched)
        .collect();
    assert_eq!(matched.len(), 1, "{:?}", run.objects);
    assert_eq!(matched[0].cloud_object_id.unwrap().to_string(), id);
    assert_eq!(run.connectors[0].adds, 0, "no second cloud object");
    let (_, user) = sim
        .graph(Method::GET, &format!("/users/{id}?{select}"), None)
        .await;
    assert_eq!(user["onPremisesSyncEnabled"], true);
    assert_eq!(
        user["onPremisesImmutableId"],
        before["onPremisesImmutableId"]
    );
    assert!(has_address(&user, &address), "{user}");

    // 8. The group licence is back; dropping the direct one leaves only it.
    let remove = json!({ "addLicenses": [], "removeLicenses": [E3] });
    let (status, _) = sim
        .graph(
            Method::POST,
            &format!("/users/{id}/assignLicense"),
            Some(remove),
        )
        .await;
    assert_eq!(status, 200);
    let (_, user) = sim
        .graph(Method::GET, &format!("/users/{id}?{select}"), None)
        .await;
    let states = user["licenseAssignmentStates"].as_array().unwrap();
    assert_eq!(states.len(), 1, "{states:?}");
    assert!(states[0]["assignedByGroup"].is_string());
    assert_eq!(states[0]["state"], "Active");
    let (_, found) = sim
        .graph(
            Method::GET,
            &format!("/users?$filter=userPrincipalName eq '{upn}'"),
            None,
        )
        .await;
    assert_eq!(
        found["value"].as_array().unwrap().len(),
        1,
        "exactly one cloud user"
    );
}
