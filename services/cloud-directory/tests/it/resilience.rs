//! Graph as it misbehaves: throttling and server errors ridden out, wrong credentials refused
//! clearly, an expired token renewed and a hung call retried.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_ride_out_throttling_and_server_errors() {
    let (tenant, mut service) = start("cd-retry", &["ada"], |_| {}).await;
    for fault in [
        json!({ "api": "graph", "path_contains": "/users/", "method": "GET", "kind": "throttle", "retry_after_seconds": 1, "count": 2 }),
        json!({ "api": "graph", "path_contains": "/memberOf", "kind": "server-error", "status": 503, "count": 2 }),
        json!({ "api": "token", "kind": "server-error", "status": 500, "count": 1 }),
    ] {
        tenant.add_fault(fault).await;
    }
    let started = std::time::Instant::now();
    let read = service
        .send(ReadCloudUser {
            user: tenant.upn("ada"),
            with_admin_roles: true,
        })
        .await
        .decode::<CloudUserRead>();
    assert!(read.user.is_some());
    assert!(
        started.elapsed() >= std::time::Duration::from_secs(2),
        "Retry-After was honoured twice"
    );
    let faults = tenant.faults_left().await;
    assert_eq!(faults, json!([]), "every fault was hit and used up");
    service.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_credentials_are_a_clear_refusal() {
    let (tenant, mut service) =
        start_with_secret("cd-creds", &["ada"], |_| {}, Some("not-the-secret")).await;
    let failed = service
        .send(ReadCloudUser {
            user: tenant.upn("ada"),
            with_admin_roles: true,
        })
        .await
        .decode::<CloudCommandFailed>();
    assert_eq!(failed.kind, CloudFailureKind::Forbidden);
    assert!(
        failed.reason.contains("invalid_client"),
        "{}",
        failed.reason
    );
    service.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_token_is_renewed_and_a_hung_call_retried() {
    let (tenant, mut service) = start_with(
        "cd-expiry",
        &["ada"],
        |_| {},
        None,
        &[("DETOUR__GRAPH__ENTRA__REQUEST_TIMEOUT_MS", "700")],
    )
    .await;
    assert!(
        service
            .send(ReadCloudUser {
                user: tenant.upn("ada"),
                with_admin_roles: true,
            })
            .await
            .decode::<CloudUserRead>()
            .user
            .is_some()
    );
    // The tenant's clock moves past the cached token's expiry: Graph answers 401 to it.
    tenant.advance_clock(4000).await;
    assert!(
        service
            .send(ReadCloudUser {
                user: tenant.upn("ada"),
                with_admin_roles: true,
            })
            .await
            .decode::<CloudUserRead>()
            .user
            .is_some()
    );

    // A call that never answers times out and is sent again.
    let hang = json!({ "api": "graph", "path_contains": "/users/", "method": "GET", "kind": "timeout", "count": 1 });
    tenant.add_fault(hang).await;
    assert!(
        service
            .send(ReadCloudUser {
                user: tenant.upn("ada"),
                with_admin_roles: true,
            })
            .await
            .decode::<CloudUserRead>()
            .user
            .is_some()
    );
    service.stop().await;
}
