//! Starts sync-trigger; the library says what it does.

fn main() -> std::process::ExitCode {
    detour_service::main_with::<sync_trigger::SyncTriggerSettings>(
        detour_contracts::Service::SyncTrigger,
        sync_trigger::DEFAULT_PORT,
        sync_trigger::spec,
    )
}
