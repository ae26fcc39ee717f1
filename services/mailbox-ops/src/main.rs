//! Starts mailbox-ops; the library says what it does.

fn main() -> std::process::ExitCode {
    detour_service::main(mailbox_ops::spec())
}
