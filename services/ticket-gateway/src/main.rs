//! Starts ticket-gateway; the library says what it does.

fn main() -> std::process::ExitCode {
    detour_service::main_with::<ticket_gateway::GatewaySettings>(
        detour_contracts::Service::TicketGateway,
        ticket_gateway::DEFAULT_PORT,
        ticket_gateway::spec,
    )
}
