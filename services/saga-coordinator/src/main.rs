//! Starts saga-coordinator; the library says what it does.

fn main() -> std::process::ExitCode {
    detour_service::main_with::<saga_coordinator::CoordinatorSettings>(
        detour_contracts::Service::SagaCoordinator,
        saga_coordinator::DEFAULT_PORT,
        saga_coordinator::spec,
    )
}
