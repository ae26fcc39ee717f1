//! Starts sync-trigger; the library says what it does.

fn main() -> std::process::ExitCode {
    detour_service::main(sync_trigger::spec())
}
