//! Microsoft's and Atlassian's own client libraries against tenant-sim, unchanged: the
//! Python suites in `tests/clients` (msal, azure-identity, msgraph-sdk, jira, and the
//! ServiceNow Table API through a plain HTTP client) run over HTTPS against a tenant this test
//! sets up, trusting its CA the way any user of a private CA does. The libraries come pinned
//! from `scripts/client-libs`, which `scripts/test` runs first.

use std::{path::PathBuf, process::Command};

use serde_json::json;
use tenant_sim::fixture::{E3, TenantFixture};

use detour_system::desk::{
    JIRA_EMAIL, JIRA_TOKEN, SERVICENOW_PASSWORD, SERVICENOW_USER, tickets_section,
};

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_official_client_libraries_work_against_tenant_sim_unchanged() {
    let root = workspace();
    let pytest = root.join("target/client-libs/bin/pytest");
    assert!(
        pytest.exists(),
        "{} is missing: run scripts/client-libs (scripts/test does)",
        pytest.display()
    );
    let names = ["ada", "bob", "cyd", "dee", "eve", "fay"];
    let tenant = TenantFixture::start("clients", &names, |scenario| {
        let upn = |i: usize| scenario["ad"]["users"][i]["user_principal_name"].clone();
        let issue = json!({ "key": "HELP-501", "summary": "Mail to this mailbox bounces",
            "description": format!("Affected user: {}", upn(0).as_str().unwrap()),
            "labels": ["detour"] });
        let incident = json!({ "number": "INC0010501", "caller_id": upn(1),
            "short_description": "No contoso.mail.onmicrosoft.com address" });
        // Eligible, not active: what the ladder's privileged-role read looks for.
        let roles = json!([{ "display_name": "Exchange Administrator",
            "role_template_id": "29232cdf-9323-42fd-ade2-1d097af3e4de",
            "members": [], "eligible": [upn(3)] }]);
        scenario["tickets"] = tickets_section(&[issue], &[incident]);
        scenario["roles"] = roles;
    })
    .await;
    // One user out of scope and synced, so deleted items has someone to list and restore.
    tenant
        .move_user("fay", &tenant.staff(), &tenant.parked())
        .await;
    tenant.sync().await;
    let users: Vec<String> = names[..5].iter().map(|n| tenant.upn(n)).collect();
    let ca = tenant.ca_file.display().to_string();
    let output = Command::new(&pytest)
        .current_dir(root.join("tests/clients"))
        .args(["-q", "-p", "no:cacheprovider", "--color=no", "--tb=short"])
        .env("REQUESTS_CA_BUNDLE", &ca)
        .env("SSL_CERT_FILE", &ca)
        .env("SIM_HTTPS", &tenant.https_base)
        .env("SIM_TENANT_ID", tenant.tenant_id.to_string())
        .env("SIM_CLIENT_ID", tenant.client_id.to_string())
        .env("SIM_CLIENT_SECRET", &tenant.secret)
        .env("SIM_USERS", users.join(","))
        .env("SIM_DELETED_USER", tenant.upn("fay"))
        .env("SIM_SKU", E3)
        .env("SIM_JIRA_USER", JIRA_EMAIL)
        .env("SIM_JIRA_TOKEN", JIRA_TOKEN)
        .env("SIM_JIRA_ISSUE", "HELP-501")
        .env("SIM_SNOW_USER", SERVICENOW_USER)
        .env("SIM_SNOW_PASSWORD", SERVICENOW_PASSWORD)
        .env("SIM_SNOW_INCIDENT", "INC0010501")
        .output()
        .unwrap();
    let report = format!(
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        output.status.success(),
        "the client suites failed:\n{report}"
    );
    eprintln!("{report}");
}
