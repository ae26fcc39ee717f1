//! The Kubernetes manifests in `deploy/k8s`, checked offline: the RabbitMQ topology the
//! Messaging Topology Operator declares is exactly the one Detour's services declare (their
//! queues, arguments and bindings, computed from the services as their binaries wire them),
//! and every object carries what its CRD requires. `DETOUR_UPDATE_K8S=1` rewrites the
//! topology file from the code.

use std::{fmt::Write, path::PathBuf};

use detour_bus::{DEAD_LETTER_EXCHANGE, QueueSpec};
use detour_config::Sources;
use detour_contracts::{COMMANDS_EXCHANGE, EVENTS_EXCHANGE, Service};
use detour_system::services;
use serde_yaml_ng::Value;

const CLUSTER: &str = "detour-rabbitmq";
const TOPOLOGY: &str = "deploy/k8s/base/rabbitmq/topology.yaml";

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Every service's queue, as its binary declares it.
fn queues() -> (Vec<QueueSpec>, detour_bus::AmqpSettings) {
    let mut queues = Vec::new();
    let mut amqp = None;
    for service in Service::ALL {
        let env = services::dev_stack_env(service).unwrap();
        let pairs = env.iter().map(|(k, v)| (k.as_str(), v.as_str()));
        let (spec, settings) =
            services::build(service, Sources::from_pairs(String::new(), pairs)).unwrap();
        queues.push(spec.queue());
        amqp = Some(settings.amqp);
    }
    (queues, amqp.expect("six services"))
}

fn object(out: &mut String, kind: &str, name: &str, spec: &str) {
    let _ = write!(
        out,
        "---\napiVersion: rabbitmq.com/v1beta1\nkind: {kind}\nmetadata:\n  name: {name}\nspec:\n{spec}  rabbitmqClusterReference:\n    name: {CLUSTER}\n"
    );
}

/// The topology as the operator's objects, in a stable order.
fn topology() -> String {
    let (queues, amqp) = queues();
    let mut out = String::from(
        "# Generated from the services' own declarations by tests/system/tests/it/k8s.rs\n\
         # (DETOUR_UPDATE_K8S=1 rewrites it); the services declare the same on every connect.\n",
    );
    for (exchange, kind) in [
        (COMMANDS_EXCHANGE, "topic"),
        (EVENTS_EXCHANGE, "topic"),
        (DEAD_LETTER_EXCHANGE, "direct"),
    ] {
        let spec = format!("  name: {exchange}\n  vhost: /\n  type: {kind}\n  durable: true\n");
        object(&mut out, "Exchange", exchange, &spec);
    }
    let mut delays = amqp.retry_delays_ms.clone();
    delays.sort_unstable();
    delays.dedup();
    for queue in &queues {
        let name = &queue.name;
        let single = if queue.single_active_consumer {
            "    x-single-active-consumer: true\n"
        } else {
            ""
        };
        let spec = format!(
            "  name: {name}\n  vhost: /\n  type: quorum\n  durable: true\n  arguments:\n    x-dead-letter-exchange: {DEAD_LETTER_EXCHANGE}\n    x-dead-letter-routing-key: {name}\n    x-delivery-limit: {}\n{single}",
            amqp.delivery_limit
        );
        object(&mut out, "Queue", name, &spec);
        for (index, binding) in queue.bindings.iter().enumerate() {
            let spec = format!(
                "  vhost: /\n  source: {}\n  destination: {name}\n  destinationType: queue\n  routingKey: \"{}\"\n",
                binding.exchange, binding.pattern
            );
            object(
                &mut out,
                "Binding",
                &format!("{name}.binding-{index}"),
                &spec,
            );
        }
        let dead = queue.dead_letter_queue();
        let spec = format!("  name: {dead}\n  vhost: /\n  type: quorum\n  durable: true\n");
        object(&mut out, "Queue", &dead, &spec);
        let spec = format!(
            "  vhost: /\n  source: {DEAD_LETTER_EXCHANGE}\n  destination: {dead}\n  destinationType: queue\n  routingKey: {name}\n"
        );
        object(&mut out, "Binding", &format!("{dead}.binding"), &spec);
        for delay in &delays {
            let retry = queue.retry_queue(*delay);
            let spec = format!(
                "  name: {retry}\n  vhost: /\n  type: classic\n  durable: true\n  arguments:\n    x-message-ttl: {delay}\n    x-dead-letter-exchange: \"\"\n    x-dead-letter-routing-key: {name}\n"
            );
            object(&mut out, "Queue", &retry, &spec);
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_operators_topology_is_the_one_the_services_declare() {
    let expected = topology();
    let path = workspace().join(TOPOLOGY);
    if std::env::var_os("DETOUR_UPDATE_K8S").is_some() {
        std::fs::write(&path, &expected).unwrap();
    }
    let shipped = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        shipped == expected,
        "{TOPOLOGY} differs from what the services declare; rerun with DETOUR_UPDATE_K8S=1 \
         and review the diff"
    );
}

/// The fields each of the RabbitMQ operators' kinds requires (their CRDs' `required`).
fn required(kind: &str) -> &'static [&'static str] {
    match kind {
        "Exchange" | "Queue" => &["name", "rabbitmqClusterReference"],
        "Binding" => &[
            "source",
            "destination",
            "destinationType",
            "rabbitmqClusterReference",
        ],
        "Policy" => &["name", "pattern", "definition", "rabbitmqClusterReference"],
        _ => &[],
    }
}

/// Every object of the files the base's kustomization lists.
fn base_objects() -> Vec<Value> {
    let base = workspace().join("deploy/k8s/base");
    let kustomization: Value =
        serde_yaml_ng::from_str(&std::fs::read_to_string(base.join("kustomization.yaml")).unwrap())
            .unwrap();
    let mut objects = Vec::new();
    for file in kustomization["resources"].as_sequence().unwrap() {
        let path = base.join(file.as_str().unwrap());
        let text =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        for document in serde_yaml_ng::Deserializer::from_str(&text) {
            let object: Value = serde::Deserialize::deserialize(document).unwrap();
            if !object.is_null() {
                objects.push(object);
            }
        }
    }
    objects
}

#[test]
fn every_rabbitmq_object_carries_what_its_crd_requires() {
    let mut names = std::collections::BTreeSet::new();
    let objects: Vec<Value> = base_objects()
        .into_iter()
        .filter(|o| {
            o["apiVersion"]
                .as_str()
                .is_some_and(|v| v.starts_with("rabbitmq.com/"))
        })
        .collect();
    assert!(
        objects.len() > 3,
        "the cluster, its topology and its policy"
    );
    for object in objects {
        let kind = object["kind"].as_str().unwrap();
        assert_eq!(object["apiVersion"], "rabbitmq.com/v1beta1", "{kind}");
        let name = object["metadata"]["name"].as_str().unwrap();
        assert!(
            name.len() <= 253
                && name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.'),
            "{name} is no Kubernetes object name"
        );
        assert!(
            names.insert((kind.to_owned(), name.to_owned())),
            "{kind} {name} twice"
        );
        for field in required(kind) {
            assert!(
                !object["spec"][*field].is_null(),
                "{kind} {name} lacks spec.{field}"
            );
        }
        if kind == "RabbitmqCluster" {
            assert_eq!(name, CLUSTER);
            let replicas = object["spec"]["replicas"].as_u64().unwrap_or(1);
            assert!(
                replicas % 2 == 1,
                "quorum queues want an odd number of nodes"
            );
        } else {
            assert_eq!(object["spec"]["rabbitmqClusterReference"]["name"], CLUSTER);
        }
    }
}
