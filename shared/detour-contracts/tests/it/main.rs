//! Contract tests: committed samples match the types, envelopes check type and version, and
//! the crate stays free of I/O dependencies.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use detour_contracts::{
    ContractError, Envelope, EnvelopeHeader, Message, Ping, Pong, RoutingKey, Service, catalog,
};

fn samples_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("samples")
}

#[test]
fn every_message_type_has_a_sample_that_round_trips_exactly() {
    for spec in catalog() {
        let path = samples_dir().join(format!("{}.v{}.json", spec.name, spec.version));
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{} has no sample at {}: {e}", spec.name, path.display()));
        let committed: serde_json::Value = serde_json::from_str(&text).unwrap();
        let reencoded = (spec.round_trip)(text.as_bytes())
            .unwrap_or_else(|e| panic!("sample {} does not parse: {e}", path.display()));
        assert_eq!(
            reencoded,
            committed,
            "sample {} drifted from the type",
            path.display()
        );
    }
}

#[test]
fn every_sample_belongs_to_a_known_message_type() {
    let known: Vec<String> = catalog()
        .iter()
        .map(|spec| format!("{}.v{}.json", spec.name, spec.version))
        .collect();
    for entry in std::fs::read_dir(samples_dir()).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        assert!(known.contains(&name), "sample {name} has no message type");
    }
}

#[test]
fn a_sample_with_an_unknown_field_is_refused() {
    let text = std::fs::read_to_string(samples_dir().join("ping.v1.json")).unwrap();
    let mut value: serde_json::Value = serde_json::from_str(&text).unwrap();
    value["payload"]["surprise"] = serde_json::json!(true);
    let err = Envelope::<Ping>::from_json(&serde_json::to_vec(&value).unwrap()).unwrap_err();
    assert!(matches!(err, ContractError::Malformed(_)), "{err}");
}

#[test]
fn an_envelope_field_this_build_does_not_know_is_ignored() {
    let text = std::fs::read_to_string(samples_dir().join("ping.v1.json")).unwrap();
    let mut value: serde_json::Value = serde_json::from_str(&text).unwrap();
    value["added_by_a_newer_sender"] = serde_json::json!({ "any": "thing" });
    let ping = Envelope::<Ping>::from_json(&serde_json::to_vec(&value).unwrap()).unwrap();
    assert_eq!(ping.payload.target, Service::AdOps);
}

#[test]
fn envelope_checks_type_and_version_before_the_payload() {
    let pong = Envelope::new(Pong {
        responder: Service::AdOps,
        instance: "x".into(),
        trace_id: None,
    });
    let bytes = pong.to_json().unwrap();
    let err = Envelope::<Ping>::from_json(&bytes).unwrap_err();
    assert!(matches!(err, ContractError::WrongType { .. }), "{err}");

    let mut value: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    value["version"] = serde_json::json!(2);
    let err = Envelope::<Pong>::from_json(&serde_json::to_vec(&value).unwrap()).unwrap_err();
    assert!(
        matches!(err, ContractError::UnsupportedVersion { actual: 2, .. }),
        "{err}"
    );
    // The header still parses, so the bus can dead-letter it with its identity.
    assert_eq!(
        EnvelopeHeader::from_json(&serde_json::to_vec(&value).unwrap())
            .unwrap()
            .version,
        2
    );
}

#[test]
fn a_reply_inherits_saga_and_ticket_and_points_at_its_cause() {
    let ping = Envelope::new(Ping {
        target: Service::MailboxOps,
    })
    .with_saga(detour_contracts::SagaId::new())
    .with_ticket(detour_contracts::TicketRef {
        system: detour_contracts::TicketSystem::Jira,
        key: "HELP-1".into(),
    });
    let pong = Envelope::caused_by(
        Pong {
            responder: Service::MailboxOps,
            instance: "i".into(),
            trace_id: None,
        },
        &ping,
    );
    assert_eq!(pong.causation_id, Some(ping.message_id));
    assert_eq!(pong.saga_id, ping.saga_id);
    assert_eq!(pong.ticket, ping.ticket);
    assert_ne!(pong.message_id, ping.message_id);
}

#[test]
fn routing_keys_follow_the_documented_shapes() {
    assert_eq!(
        Ping {
            target: Service::AdOps
        }
        .routing_key(),
        RoutingKey::command(Service::AdOps, "ping")
    );
    assert_eq!(
        Ping {
            target: Service::SyncTrigger
        }
        .routing_key()
        .as_str(),
        "sync-trigger.ping"
    );
    let pong = Pong {
        responder: Service::TicketGateway,
        instance: String::new(),
        trace_id: None,
    };
    assert_eq!(pong.routing_key().as_str(), "ticket-gateway.pong.v1");
    for service in Service::ALL {
        assert_eq!(service.as_str().parse::<Service>().unwrap(), service);
    }
    assert!("ad_ops".parse::<Service>().is_err());
}

#[test]
fn contracts_depend_on_no_io_crate() {
    let manifest: toml_like::Manifest =
        toml_like::read(&PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml"));
    let allowed = ["serde", "serde_json", "thiserror", "time", "uuid"];
    for dependency in manifest.dependencies {
        assert!(
            allowed.contains(&dependency.as_str()),
            "detour-contracts must stay serde-only, but depends on {dependency}"
        );
    }
}

/// Just enough TOML reading for the dependency check, to keep this crate's dev-dependencies
/// as small as its dependencies.
mod toml_like {
    pub struct Manifest {
        pub dependencies: Vec<String>,
    }

    pub fn read(path: &std::path::Path) -> Manifest {
        let text = std::fs::read_to_string(path).unwrap();
        let mut in_deps = false;
        let mut dependencies = Vec::new();
        for line in text.lines().map(str::trim) {
            if line.starts_with('[') {
                in_deps = line == "[dependencies]";
            } else if in_deps && !line.is_empty() && !line.starts_with('#') {
                let name = line.split(['=', '.']).next().unwrap().trim();
                dependencies.push(name.to_owned());
            }
        }
        Manifest { dependencies }
    }
}
