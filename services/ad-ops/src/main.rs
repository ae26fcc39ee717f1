//! Starts ad-ops; the library says what it does.

fn main() -> std::process::ExitCode {
    detour_service::main_with::<ad_ops::AdOpsSettings>(
        detour_contracts::Service::AdOps,
        ad_ops::DEFAULT_PORT,
        ad_ops::spec,
    )
}
