//! A trace crosses a hop: the consumer's span is the producer span's child in the same trace,
//! as an OTLP collector receives them.

use std::time::Duration;

use detour_contracts::{Envelope, Ping, Service};
use detour_telemetry::{LogFormat, Telemetry, TelemetrySettings};
use detour_testkit::{OtlpReceiver, eventually};
use tracing::Instrument;

use crate::support::Harness;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_consumer_span_joins_the_producer_trace() {
    let receiver = OtlpReceiver::start().await.unwrap();
    let settings = TelemetrySettings {
        otlp_endpoint: receiver.endpoint(),
        log_filter: "info".into(),
        log_format: LogFormat::Json,
    };
    // Logs go nowhere: this test reads spans, not lines.
    let telemetry = Telemetry::install_with_sink("bus-test", &settings, std::io::sink).unwrap();

    let harness = Harness::start("trace").await;
    let handled = harness.collect_handled();
    let root = tracing::info_span!("test-root");
    let root_trace = detour_telemetry::trace_id_of(&root).unwrap();
    harness
        .publisher
        .publish(&Envelope::new(Ping {
            target: Service::AdOps,
        }))
        .instrument(root)
        .await
        .unwrap();
    eventually(Duration::from_secs(10), "the delivery", || async {
        (!handled.lock().unwrap().is_empty()).then_some(())
    })
    .await;

    let (producer, consumer) = eventually(
        Duration::from_secs(20),
        "both spans at the receiver",
        || async {
            telemetry.flush().await;
            let spans = receiver.spans();
            let producer = spans
                .iter()
                .find(|s| s.name == "publish detour.commands:ad-ops.ping")?
                .clone();
            let consumer = spans
                .iter()
                .find(|s| s.name == "process detour.commands:ad-ops.ping")?
                .clone();
            Some((producer, consumer))
        },
    )
    .await;
    assert_eq!(producer.trace_id, root_trace);
    assert_eq!(
        consumer.trace_id, producer.trace_id,
        "one trace across the hop"
    );
    assert_eq!(
        consumer.parent_span_id, producer.span_id,
        "the consumer span is the producer span's child"
    );
    assert_eq!(producer.kind, 4, "producer kind");
    assert_eq!(consumer.kind, 5, "consumer kind");
    for span in [&producer, &consumer] {
        assert_eq!(span.attributes["messaging.system"], "rabbitmq");
        assert_eq!(
            span.attributes["messaging.destination.name"],
            "detour.commands:ad-ops.ping"
        );
        assert_eq!(span.service, "bus-test");
    }
    assert_eq!(producer.attributes["messaging.operation.type"], "send");
    assert_eq!(consumer.attributes["messaging.operation.type"], "process");
    assert_eq!(consumer.attributes["detour.outcome"], "handled");
    harness.stop().await;
    telemetry.shutdown().await;
}
