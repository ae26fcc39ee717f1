//! The Kubernetes manifests in `deploy/k8s`, checked offline: the RabbitMQ topology the
//! Messaging Topology Operator declares is exactly the one Detour's services declare (their
//! queues, arguments and bindings, computed from the services as their binaries wire them),
//! and every object carries what its CRD requires; the core objects and the example overlay,
//! rendered by kustomize, validate against the Kubernetes schemas. `DETOUR_UPDATE_K8S=1`
//! rewrites the topology file from the code.

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

fn of_kind<'a>(objects: &'a [Value], kind: &str) -> Vec<&'a Value> {
    objects.iter().filter(|o| o["kind"] == kind).collect()
}

fn named<'a>(objects: &'a [Value], kind: &str, name: &str) -> &'a Value {
    objects
        .iter()
        .find(|o| o["kind"] == kind && o["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no {kind} {name}"))
}

#[test]
fn the_core_objects_validate_against_the_kubernetes_schemas() {
    let base = workspace().join("deploy/k8s/base");
    let mut files = vec![base.join("networkpolicy.yaml")];
    for service in Service::ALL {
        files.push(base.join(format!("services/{service}.yaml")));
    }
    validate_strictly(&files);
}

/// Runs kubernetes-validate (strict, Kubernetes 1.33) on `files`; any problem fails the test.
fn validate_strictly(files: &[PathBuf]) {
    let validate = workspace().join("target/client-libs/bin/kubernetes-validate");
    assert!(
        validate.exists(),
        "{} is missing: run scripts/client-libs (scripts/test does)",
        validate.display()
    );
    let output = std::process::Command::new(validate)
        .args(["--kubernetes-version", "1.33.0", "--strict", "--quiet"])
        .args(files)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The env a container gets, a value from a Secret standing in as a placeholder.
fn container_env(container: &Value) -> Vec<(String, String)> {
    container["env"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|e| {
            let value = e["value"].as_str().unwrap_or("(from a secret)");
            (e["name"].as_str().unwrap().to_owned(), value.to_owned())
        })
        .collect()
}

#[test]
fn each_service_runs_as_its_own_account_with_probes_files_and_a_long_enough_grace() {
    let objects = base_objects();
    let drain_s = 20;
    for service in Service::ALL {
        let name = format!("detour-{service}");
        let account = named(&objects, "ServiceAccount", &name);
        assert_eq!(account["automountServiceAccountToken"], false, "{name}");
        let pod = &named(&objects, "Deployment", &name)["spec"]["template"]["spec"];
        assert_eq!(pod["serviceAccountName"].as_str(), Some(name.as_str()));
        let grace = pod["terminationGracePeriodSeconds"].as_u64().unwrap();
        assert!(
            grace > drain_s,
            "{name}: {grace} s of grace for a {drain_s} s drain"
        );
        let container = &pod["containers"][0];
        assert_eq!(
            container["readinessProbe"]["httpGet"]["path"], "/readyz",
            "{name}"
        );
        assert_eq!(
            container["livenessProbe"]["httpGet"]["path"], "/healthz",
            "{name}"
        );
        assert!(
            !container["resources"]["requests"]["memory"].is_null(),
            "{name}"
        );
        let port = container["ports"][0]["containerPort"].as_u64().unwrap();
        assert_eq!(port, u64::from(services::default_port(service)), "{name}");
        // Every file a setting names lies in a mounted Secret.
        let mounts: Vec<&str> = container["volumeMounts"]
            .as_sequence()
            .unwrap()
            .iter()
            .map(|m| m["mountPath"].as_str().unwrap())
            .collect();
        let env = container_env(container);
        for (key, value) in env.iter().filter(|(k, _)| k.ends_with("_FILE")) {
            assert!(
                mounts.iter().any(|m| value.starts_with(&format!("{m}/"))),
                "{name}: {key}={value} is in no mounted secret"
            );
        }
        // And the code reads every setting given.
        let pairs = env.iter().map(|(k, v)| (k.as_str(), v.as_str()));
        services::check_wiring(service, Sources::from_pairs(String::new(), pairs))
            .unwrap_or_else(|e| panic!("{name}: {e:#}"));
    }
}

#[test]
fn keda_scales_each_step_service_on_its_queue_and_the_coordinator_on_its_store() {
    let objects = base_objects();
    let scaled = of_kind(&objects, "ScaledObject");
    for object in &scaled {
        assert_eq!(object["apiVersion"], "keda.sh/v1alpha1");
        let target = object["spec"]["scaleTargetRef"]["name"].as_str().unwrap();
        named(&objects, "Deployment", target);
        let triggers = object["spec"]["triggers"].as_sequence().unwrap();
        assert!(!triggers.is_empty(), "{target}");
        for trigger in triggers {
            assert!(trigger["type"].is_string() && trigger["metadata"].is_mapping());
            let auth = trigger["authenticationRef"]["name"].as_str().unwrap();
            named(&objects, "TriggerAuthentication", auth);
        }
    }
    for service in Service::ALL {
        let object = scaled
            .iter()
            .find(|o| o["spec"]["scaleTargetRef"]["name"] == format!("detour-{service}"));
        match service {
            Service::SyncTrigger => assert!(object.is_none(), "one active consumer: never scaled"),
            Service::SagaCoordinator => {
                assert_eq!(object.unwrap()["spec"]["triggers"][0]["type"], "postgresql");
            }
            _ => {
                let trigger = &object.unwrap()["spec"]["triggers"][0];
                assert_eq!(trigger["type"], "rabbitmq");
                assert_eq!(trigger["metadata"]["queueName"], service.as_str());
            }
        }
    }
    assert!(!of_kind(&objects, "NetworkPolicy").is_empty());
}

/// The example overlay rendered by kustomize (the one built into `kubectl`, as
/// `kubectl apply -k` would render it): every base object, in the overlay's namespace, every
/// Deployment on the release's image, the tenant's patch applied, and the core objects valid.
#[test]
fn the_example_overlay_renders_and_its_objects_validate() {
    let overlay = workspace().join("deploy/k8s/overlays/example");
    let rendered = std::process::Command::new("kubectl")
        .arg("kustomize")
        .arg(&overlay)
        .output()
        .unwrap_or_else(|e| {
            panic!("kubectl (its kustomize renders the overlay; the machine image ships it): {e}")
        });
    assert!(
        rendered.status.success(),
        "{}",
        String::from_utf8_lossy(&rendered.stderr)
    );
    let text = String::from_utf8(rendered.stdout).unwrap();
    let objects: Vec<Value> = serde_yaml_ng::Deserializer::from_str(&text)
        .map(|document| serde::Deserialize::deserialize(document).unwrap())
        .collect();
    assert_eq!(objects.len(), base_objects().len(), "every base object");
    for object in &objects {
        assert_eq!(
            object["metadata"]["namespace"], "detour",
            "{:?} {:?}",
            object["kind"], object["metadata"]["name"]
        );
    }
    let deployments = of_kind(&objects, "Deployment");
    assert_eq!(deployments.len(), Service::ALL.len());
    for deployment in &deployments {
        let image = deployment["spec"]["template"]["spec"]["containers"][0]["image"]
            .as_str()
            .unwrap();
        assert!(
            image.starts_with("registry.example.com/detour/") && image.ends_with(":0.1.0"),
            "{:?} runs {image}, not the release's image",
            deployment["metadata"]["name"]
        );
    }
    let cloud_directory = named(&objects, "Deployment", "detour-cloud-directory");
    let env = container_env(&cloud_directory["spec"]["template"]["spec"]["containers"][0]);
    assert!(
        env.contains(&(
            "DETOUR__GRAPH__ENTRA__TENANT".into(),
            "contoso.onmicrosoft.com".into()
        )),
        "{env:?}"
    );
    // The core objects (not the operators' kinds) against the Kubernetes schemas.
    let core: Vec<&Value> = objects
        .iter()
        .filter(|o| {
            let api = o["apiVersion"].as_str().unwrap_or_default();
            !api.starts_with("rabbitmq.com/") && !api.starts_with("keda.sh/")
        })
        .collect();
    let dir = std::env::temp_dir().join(format!("detour-k8s-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("overlay.yaml");
    let documents: Vec<String> = core
        .iter()
        .map(|o| serde_yaml_ng::to_string(o).unwrap())
        .collect();
    std::fs::write(&file, documents.join("---\n")).unwrap();
    validate_strictly(&[file]);
    let _ = std::fs::remove_dir_all(&dir);
}
