//! The container wiring, checked against the settings the code reads: no Docker engine runs
//! here, so the compose file is parsed as Compose would (merge keys, `${VAR:-default}`), and
//! each service's settings are loaded from exactly the environment compose gives it. Unknown
//! keys are errors in the settings, so a variable the code does not read fails this test.

use std::{collections::BTreeMap, path::PathBuf};

use detour_config::Sources;
use detour_contracts::Service;
use detour_system::services;
use serde_yaml_ng::Value;

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn compose() -> Value {
    let text = std::fs::read_to_string(workspace().join("docker-compose.yml")).unwrap();
    let mut value: Value = serde_yaml_ng::from_str(&text).unwrap();
    value.apply_merge().unwrap();
    value
}

/// Compose's `${NAME:-default}` with NAME unset.
fn interpolate(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let end = rest[start..]
            .find('}')
            .map(|e| start + e)
            .expect("closing brace");
        let inner = &rest[start + 2..end];
        out.push_str(inner.split_once(":-").map_or("", |(_, default)| default));
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    out
}

fn scalar(value: &Value) -> String {
    match value {
        Value::String(s) => interpolate(s),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        other => panic!("not a scalar: {other:?}"),
    }
}

fn environment(service: &Value) -> BTreeMap<String, String> {
    service["environment"]
        .as_mapping()
        .map(|env| env.iter().map(|(k, v)| (scalar(k), scalar(v))).collect())
        .unwrap_or_default()
}

fn container_ports(service: &Value) -> Vec<u16> {
    service["ports"]
        .as_sequence()
        .map(|ports| {
            ports
                .iter()
                .map(|p| scalar(p).rsplit(':').next().unwrap().parse().unwrap())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn every_service_is_built_from_the_one_dockerfile_and_reads_only_real_settings() {
    let compose = compose();
    let all = compose["services"].as_mapping().unwrap();
    for infrastructure in ["rabbitmq", "postgres", "jaeger"] {
        assert!(
            all.contains_key(infrastructure),
            "compose lacks {infrastructure}"
        );
    }
    let dockerfile = std::fs::read_to_string(workspace().join("deploy/Dockerfile")).unwrap();
    assert!(dockerfile.contains("ARG SERVICE") && dockerfile.contains("--bin \"${SERVICE}\""));

    for detour_service in Service::ALL {
        let name = detour_service.as_str();
        let port = services::default_port(detour_service);
        let service = &compose["services"][name];
        assert!(service.is_mapping(), "compose lacks {name}");
        assert_eq!(scalar(&service["build"]["dockerfile"]), "deploy/Dockerfile");
        assert_eq!(scalar(&service["build"]["args"]["SERVICE"]), name);

        let env = environment(service);
        let sources = Sources::from_pairs(
            String::new(),
            env.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        );
        let settings = services::check_wiring(detour_service, sources)
            .unwrap_or_else(|e| panic!("{name}'s compose environment: {e:#}"));

        // What the service connects to must be a service of this compose file, on a port it
        // has, and its ops port must be the one compose publishes.
        assert!(
            all.contains_key(settings.amqp.host.as_str()),
            "{name}: amqp host {}",
            settings.amqp.host
        );
        assert!(container_ports(&compose["services"]["rabbitmq"]).contains(&settings.amqp.port));
        let otlp = settings.telemetry.traces_url().expect("traces exported");
        assert!(otlp.starts_with("http://jaeger:4318/"), "{name}: {otlp}");
        assert!(container_ports(&compose["services"]["jaeger"]).contains(&4318));
        assert_eq!(settings.http.listen.port(), port, "{name}: ops port");
        assert!(
            container_ports(service).contains(&port),
            "{name}: ops port not published"
        );
        assert!(
            settings.http.listen.ip().is_unspecified(),
            "{name}: must listen beyond the container's loopback"
        );
    }
}

#[test]
fn the_broker_credentials_match_between_the_broker_and_the_services() {
    let compose = compose();
    let broker = environment(&compose["services"]["rabbitmq"]);
    for service in Service::ALL {
        let env = environment(&compose["services"][service.as_str()]);
        assert_eq!(
            env["DETOUR__AMQP__USERNAME"],
            broker["RABBITMQ_DEFAULT_USER"]
        );
        // The password, a mounted secret, is what the broker is given.
        assert_eq!(
            env["DETOUR__AMQP__PASSWORD_FILE"],
            "/run/secrets/amqp-password"
        );
        let secret =
            std::fs::read_to_string(workspace().join("deploy/compose-secrets/amqp-password"))
                .unwrap();
        assert_eq!(secret, broker["RABBITMQ_DEFAULT_PASS"]);
    }
}

#[test]
fn interpolation_takes_the_default() {
    assert_eq!(interpolate("${X:-a}/${Y:-b}c"), "a/bc");
    assert_eq!(interpolate("plain"), "plain");
}

/// Each service's `secrets:` names, and the volumes it mounts, by mount point.
fn mounts(service: &Value) -> (Vec<String>, BTreeMap<String, String>) {
    let secrets = service["secrets"]
        .as_sequence()
        .map(|list| list.iter().map(scalar).collect())
        .unwrap_or_default();
    let volumes = service["volumes"]
        .as_sequence()
        .map(|list| {
            list.iter()
                .map(|volume| {
                    let text = scalar(volume);
                    let mut parts = text.split(':');
                    let source = parts.next().unwrap_or_default().to_owned();
                    (parts.next().unwrap_or_default().to_owned(), source)
                })
                .collect()
        })
        .unwrap_or_default();
    (secrets, volumes)
}

#[test]
fn every_file_a_container_reads_is_mounted_into_it() {
    let compose = compose();
    let declared = compose["secrets"].as_mapping().unwrap();
    for (name, secret) in declared {
        let file = workspace().join(scalar(&secret["file"]));
        assert!(
            file.is_file(),
            "secret {name:?}: {} is missing",
            file.display()
        );
    }
    for (name, service) in compose["services"].as_mapping().unwrap() {
        let name = scalar(name);
        let (secrets, volumes) = mounts(service);
        for secret in &secrets {
            assert!(
                declared.contains_key(secret.as_str()),
                "{name}: undeclared secret {secret}"
            );
        }
        for (key, value) in environment(service) {
            if let Some(secret) = value.strip_prefix("/run/secrets/") {
                assert!(
                    secrets.iter().any(|s| s == secret),
                    "{name}: {key} reads /run/secrets/{secret}, which is not given to it"
                );
            }
            if value.starts_with("/run/detour-ad/") {
                assert_eq!(
                    volumes.get("/run/detour-ad").map(String::as_str),
                    Some("ad-published"),
                    "{name}: {key} reads what samba-ad publishes, without mounting it"
                );
            }
        }
    }
}

#[test]
fn samba_ad_is_provisioned_by_the_dev_stacks_script_and_tenant_sim_reads_real_settings() {
    let compose = compose();
    let samba = &compose["services"]["samba-ad"];
    let dockerfile = workspace().join(scalar(&samba["build"]["dockerfile"]));
    let dockerfile = std::fs::read_to_string(dockerfile).unwrap();
    assert!(
        dockerfile.contains("COPY deploy/dev-stack.sh") && dockerfile.contains(r#""serve-samba"]"#),
        "samba-ad runs deploy/dev-stack.sh serve-samba"
    );
    let script = std::fs::read_to_string(workspace().join("deploy/dev-stack.sh")).unwrap();
    assert!(script.contains("serve-samba) serve_samba ;;"));
    let (_, volumes) = mounts(samba);
    assert_eq!(volumes["/run/detour-ad"], "ad-published");

    let sim = &compose["services"]["tenant-sim"];
    assert_eq!(scalar(&sim["build"]["args"]["SERVICE"]), "tenant-sim");
    let env = environment(sim);
    let sources = Sources::from_pairs(
        tenant_sim::settings::DEFAULTS.to_owned(),
        env.iter().map(|(k, v)| (k.as_str(), v.as_str())),
    );
    let settings: tenant_sim::settings::SimSettings = detour_config::parse(&sources)
        .unwrap_or_else(|e| panic!("tenant-sim's compose environment: {e:#}"));
    assert!(settings.ad.url.contains("samba-ad"), "{}", settings.ad.url);
    let port = settings.http.listen.port();
    assert!(container_ports(sim).contains(&port));
    let scenario = sim["command"].as_sequence().unwrap()[1].clone();
    let scenario = scalar(&scenario);
    let shipped = scenario.strip_prefix("/opt/detour/scenarios/").unwrap();
    assert!(
        workspace()
            .join("simulator/tenant-sim/scenarios")
            .join(shipped)
            .is_file()
    );
    let image = std::fs::read_to_string(workspace().join("deploy/Dockerfile")).unwrap();
    assert!(image.contains("/opt/detour/scenarios"));

    // Everything Detour talks to in the rehearsal is tenant-sim, on its port.
    for service in [
        "sync-trigger",
        "cloud-directory",
        "mailbox-ops",
        "ticket-gateway",
    ] {
        for (key, value) in environment(&compose["services"][service]) {
            if key.ends_with("BASE_URL") {
                assert_eq!(
                    value,
                    format!("http://tenant-sim:{port}"),
                    "{service}: {key}"
                );
            }
        }
    }
    let ticket = &compose["services"]["file-ticket"];
    assert_eq!(
        scalar(&ticket["build"]["args"]["SERVICE"]),
        "detour-file-ticket"
    );
    assert!(
        workspace()
            .join("tests/system/src/bin/detour-file-ticket.rs")
            .is_file()
    );
}
