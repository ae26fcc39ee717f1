//! Starts mailbox-ops; the library says what it does.

fn main() -> std::process::ExitCode {
    detour_service::main_with::<mailbox_ops::MailboxOpsSettings>(
        detour_contracts::Service::MailboxOps,
        mailbox_ops::DEFAULT_PORT,
        mailbox_ops::spec,
    )
}
