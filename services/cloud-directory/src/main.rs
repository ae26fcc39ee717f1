//! Starts cloud-directory; the library says what it does.

fn main() -> std::process::ExitCode {
    detour_service::main(cloud_directory::spec())
}
