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
        assert_eq!(
            env["DETOUR__AMQP__PASSWORD"],
            broker["RABBITMQ_DEFAULT_PASS"]
        );
    }
}

#[test]
fn interpolation_takes_the_default() {
    assert_eq!(interpolate("${X:-a}/${Y:-b}c"), "a/bc");
    assert_eq!(interpolate("plain"), "plain");
}
