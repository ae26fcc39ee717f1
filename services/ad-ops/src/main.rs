//! Starts ad-ops; the library says what it does.

fn main() -> std::process::ExitCode {
    detour_service::main(ad_ops::spec())
}
