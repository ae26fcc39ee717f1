//! Log lines and trace context: JSON lines carry the trace and span ids, a quiet log level
//! keeps the spans, and trace context survives a trip through headers.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::{
    collections::HashMap,
    io::Write,
    sync::{Arc, Mutex},
};

use detour_telemetry::{
    LogFormat, Telemetry, TelemetrySettings, inject_trace_context, set_remote_parent, trace_id_of,
};

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn lines(&self) -> Vec<serde_json::Value> {
        let text = String::from_utf8(self.0.lock().unwrap().clone()).unwrap();
        text.lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect()
    }
}

fn settings(log_filter: &str) -> TelemetrySettings {
    TelemetrySettings {
        otlp_endpoint: String::new(),
        log_filter: log_filter.into(),
        log_format: LogFormat::Json,
    }
}

#[test]
fn json_lines_carry_trace_and_span_ids_and_span_fields() {
    let captured = Captured::default();
    let sink = captured.clone();
    let (_telemetry, subscriber) =
        Telemetry::build("ad-ops", &settings("warn"), move || sink.clone()).unwrap();
    tracing::subscriber::with_default(subscriber, || {
        let span = tracing::info_span!("move-user", saga = "s-1");
        let _entered = span.enter();
        tracing::info!("filtered out at warn");
        tracing::warn!(user = "ada", "directory slow");
    });
    let lines = captured.lines();
    assert_eq!(lines.len(), 1, "{lines:?}");
    let line = &lines[0];
    assert_eq!(line["message"], "directory slow");
    assert_eq!(line["level"], "WARN");
    assert_eq!(line["service"], "ad-ops");
    assert_eq!(line["fields"]["user"], "ada");
    assert_eq!(line["span"], "move-user");
    assert_eq!(line["span_fields"]["saga"], "s-1");
    let trace_id = line["trace_id"].as_str().expect("a trace id even at warn");
    assert_eq!(trace_id.len(), 32);
    assert_eq!(line["span_id"].as_str().unwrap().len(), 16);
}

#[test]
fn trace_context_survives_a_trip_through_headers() {
    let (_telemetry, subscriber) = Telemetry::build("t", &settings("off"), std::io::sink).unwrap();
    tracing::subscriber::with_default(subscriber, || {
        let producer = tracing::info_span!("producer");
        let headers = inject_trace_context(&producer);
        assert!(headers["traceparent"].starts_with("00-"), "{headers:?}");

        let consumer = tracing::info_span!("consumer");
        set_remote_parent(&consumer, &headers);
        assert_eq!(trace_id_of(&consumer), trace_id_of(&producer));

        let orphan = tracing::info_span!("orphan");
        set_remote_parent(
            &orphan,
            &HashMap::from([("traceparent".to_owned(), "garbage".to_owned())]),
        );
        assert_ne!(
            trace_id_of(&orphan),
            trace_id_of(&producer),
            "a bad header leaves a new root"
        );
    });
}

#[test]
fn the_traces_url_gets_its_path_unless_it_has_one() {
    let mut s = settings("info");
    assert_eq!(s.traces_url(), None);
    s.otlp_endpoint = "http://jaeger:4318".into();
    assert_eq!(
        s.traces_url().as_deref(),
        Some("http://jaeger:4318/v1/traces")
    );
    s.otlp_endpoint = "http://collector/custom/traces".into();
    assert_eq!(
        s.traces_url().as_deref(),
        Some("http://collector/custom/traces")
    );
}
