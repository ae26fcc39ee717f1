//! Starts cloud-directory; the library says what it does.

fn main() -> std::process::ExitCode {
    detour_service::main_with::<cloud_directory::CloudDirectorySettings>(
        detour_contracts::Service::CloudDirectory,
        cloud_directory::DEFAULT_PORT,
        cloud_directory::spec,
    )
}
