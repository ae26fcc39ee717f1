//! The telemetry pipeline of one process: an OpenTelemetry tracer provider (exporting over
//! OTLP/HTTP when an endpoint is set), the tracing subscriber on top of it, and the flush at exit.

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{Protocol, WithExportConfig};
use opentelemetry_sdk::{Resource, trace::SdkTracerProvider};
use tracing::{Level, Subscriber};
use tracing_subscriber::{
    EnvFilter, Layer, Registry,
    filter::{self, LevelFilter},
    fmt::{MakeWriter, format::JsonFields},
    layer::SubscriberExt,
};

use crate::{
    LogFormat, TelemetrySettings,
    json_log::{JsonLog, TraceIdsLayer},
};

#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    #[error("invalid log filter: {0}")]
    Filter(#[from] tracing_subscriber::filter::ParseError),
    #[error("cannot build the OTLP exporter: {0}")]
    Exporter(#[from] opentelemetry_otlp::ExporterBuildError),
    #[error("a global tracing subscriber is already installed")]
    AlreadyInstalled(#[from] tracing::subscriber::SetGlobalDefaultError),
}

/// Owns the tracer provider; [`Telemetry::shutdown`] flushes what is still buffered.
#[derive(Debug)]
pub struct Telemetry {
    provider: SdkTracerProvider,
}

impl Telemetry {
    /// Builds the pipeline and a subscriber that writes logs to `sink`, without installing it.
    pub fn build<W>(
        service: &str,
        settings: &TelemetrySettings,
        sink: W,
    ) -> Result<(Self, impl Subscriber + Send + Sync + 'static), TelemetryError>
    where
        W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
    {
        let mut provider = SdkTracerProvider::builder().with_resource(
            Resource::builder()
                .with_service_name(service.to_owned())
                .build(),
        );
        if let Some(url) = settings.traces_url() {
            let exporter = opentelemetry_otlp::SpanExporter::builder()
                .with_http()
                .with_protocol(Protocol::HttpBinary)
                .with_endpoint(url)
                .build()?;
            provider = provider.with_batch_exporter(exporter);
        }
        let provider = provider.build();
        let tracer = provider.tracer(service.to_owned());

        // Separate filters: quieting the logs must never drop the spans that carry a trace
        // across services. The log filter applies to events; the log layer still tracks INFO
        // spans, so a WARN line keeps the span name and fields (saga id, ticket) it happened in.
        let events = EnvFilter::try_new(&settings.log_filter)?;
        let log_filter = filter::dynamic_filter_fn(move |metadata, context| {
            if metadata.is_span() {
                *metadata.level() <= Level::INFO
            } else {
                <EnvFilter as tracing_subscriber::layer::Filter<Registry>>::enabled(
                    &events, metadata, context,
                )
            }
        });
        let logs: Box<dyn Layer<Registry> + Send + Sync> = match settings.log_format {
            LogFormat::Json => TraceIdsLayer::default()
                .and_then(
                    tracing_subscriber::fmt::layer()
                        .fmt_fields(JsonFields::new())
                        .event_format(JsonLog {
                            service: service.to_owned(),
                        })
                        .with_writer(sink),
                )
                .with_filter(log_filter)
                .boxed(),
            LogFormat::Pretty => tracing_subscriber::fmt::layer()
                .with_writer(sink)
                .with_filter(log_filter)
                .boxed(),
        };
        let spans = tracing_opentelemetry::layer()
            .with_tracer(tracer)
            .with_filter(LevelFilter::INFO);
        // Stacked, not in a Vec: a Vec of layers does not pass on the dispatcher registration
        // that TraceIdsLayer needs.
        let subscriber = Registry::default().with(logs).with(spans);
        Ok((Self { provider }, subscriber))
    }

    /// Builds the pipeline with logs on stdout and installs it for the whole process.
    pub fn install(service: &str, settings: &TelemetrySettings) -> Result<Self, TelemetryError> {
        Self::install_with_sink(service, settings, std::io::stdout)
    }

    pub fn install_with_sink<W>(
        service: &str,
        settings: &TelemetrySettings,
        sink: W,
    ) -> Result<Self, TelemetryError>
    where
        W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
    {
        let (telemetry, subscriber) = Self::build(service, settings, sink)?;
        tracing::subscriber::set_global_default(subscriber)?;
        Ok(telemetry)
    }

    /// Exports every finished span now. The exporter blocks, so this runs off the async threads.
    pub async fn flush(&self) {
        let provider = self.provider.clone();
        let _ = tokio::task::spawn_blocking(move || provider.force_flush()).await;
    }

    /// Flushes and stops the exporter; spans ended after this are dropped.
    pub async fn shutdown(self) {
        let provider = self.provider;
        let _ = tokio::task::spawn_blocking(move || provider.shutdown()).await;
    }
}
