//! Starts saga-coordinator; the library says what it does.

fn main() -> std::process::ExitCode {
    detour_service::main(saga_coordinator::spec())
}
