//! Starts ticket-gateway; the library says what it does.

fn main() -> std::process::ExitCode {
    detour_service::main(ticket_gateway::spec())
}
