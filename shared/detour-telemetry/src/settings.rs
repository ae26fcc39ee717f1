//! The `[telemetry]` settings section shared by every service.

use detour_config::Problems;
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TelemetrySettings {
    /// OTLP/HTTP collector base URL, e.g. `http://127.0.0.1:4318`; empty disables export.
    #[serde(default)]
    pub otlp_endpoint: String,
    /// An `EnvFilter` directive, e.g. `info,detour_bus=debug`.
    pub log_filter: String,
    pub log_format: LogFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// One JSON object per line, with trace and span ids: for machines.
    Json,
    /// Human-readable lines: for a terminal.
    Pretty,
}

impl TelemetrySettings {
    pub fn validate(&self, problems: &mut Problems) {
        let endpoint = self.otlp_endpoint.trim();
        problems.check(
            endpoint.is_empty()
                || endpoint.starts_with("http://")
                || endpoint.starts_with("https://"),
            "telemetry.otlp_endpoint",
            format!("{endpoint:?} is not an http(s) URL"),
        );
        if let Err(e) = tracing_subscriber::EnvFilter::try_new(&self.log_filter) {
            problems.add("telemetry.log_filter", e);
        }
    }

    /// The OTLP traces URL: the base endpoint with `/v1/traces` unless it already names a path.
    pub fn traces_url(&self) -> Option<String> {
        let endpoint = self.otlp_endpoint.trim().trim_end_matches('/');
        if endpoint.is_empty() {
            return None;
        }
        let has_path = endpoint
            .split_once("://")
            .is_some_and(|(_, rest)| rest.contains('/'));
        Some(if has_path {
            endpoint.to_owned()
        } else {
            format!("{endpoint}/v1/traces")
        })
    }
}
