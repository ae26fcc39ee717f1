//! What the fuzz targets check, one function per target, over the parsers that take input
//! from outside: the webhook bodies, the bus envelope, distinguished names and the LDAP
//! filter built from a ticket's UPN. Each panics only on a real defect (a parser panicking,
//! or a property broken), so `cargo fuzz` (under `fuzz/`) and the seed regression test here
//! run the very same checks.

use std::sync::OnceLock;

use ad_ops::ldap_directory::user_filter;
use detour_config::Sources;
use detour_contracts::{
    Dn, Envelope, EnvelopeHeader, ad_ops::UserLookup, saga_coordinator::StartRemediation,
};
use ticket_gateway::{
    GatewaySettings,
    inbound::{self, Request, ticket_key},
};

/// The names of the targets, as `fuzz/fuzz_targets/` and `fuzz/seeds/` spell them.
pub const TARGETS: [&str; 4] = ["webhooks", "envelope", "dn", "ldap_filter"];

/// Runs the target named `name` on `data`.
pub fn run(name: &str, data: &[u8]) {
    match name {
        "webhooks" => webhooks(data),
        "envelope" => envelope(data),
        "dn" => dn(data),
        "ldap_filter" => ldap_filter(data),
        other => panic!("no fuzz target {other}"),
    }
}

/// The gateway's settings with every source enabled, loaded once.
fn gateway() -> &'static GatewaySettings {
    static SETTINGS: OnceLock<GatewaySettings> = OnceLock::new();
    SETTINGS.get_or_init(|| {
        let pairs = [
            ("DETOUR__JIRA__ENABLED", "true"),
            ("DETOUR__JIRA__BASE_URL", "http://127.0.0.1:9"),
            ("DETOUR__JIRA__EMAIL", "detour@contoso.com"),
            ("DETOUR__JIRA__API_TOKEN", "fuzz-jira-token"),
            ("DETOUR__JIRA__WEBHOOK_SECRET", "fuzz-jira-secret"),
            ("DETOUR__SERVICENOW__ENABLED", "true"),
            ("DETOUR__SERVICENOW__BASE_URL", "http://127.0.0.1:9"),
            ("DETOUR__SERVICENOW__USER", "detour"),
            ("DETOUR__SERVICENOW__PASSWORD", "fuzz-servicenow-password"),
            ("DETOUR__SERVICENOW__WEBHOOK_TOKEN", "fuzz-token"),
        ];
        detour_service::load_config(
            ticket_gateway::DEFAULT_PORT,
            Sources::from_pairs(String::new(), pairs),
        )
        .unwrap_or_else(|error| panic!("the fuzz settings do not load: {error}"))
    })
}

/// Every webhook parser takes any body without panicking, and what it accepts names a ticket
/// by its system's grammar.
pub fn webhooks(data: &[u8]) {
    let settings = gateway();
    if let Ok(inbound) = inbound::jira::parse(&settings.jira, data) {
        assert!(ticket_key::is_jira_key(&inbound.ticket.key), "{inbound:?}");
        if let Request::Start { user, .. } = &inbound.request {
            assert!(user.as_str().len() <= detour_contracts::MAX_UPN * 4);
        }
    }
    if let Ok(inbound) = inbound::servicenow::parse(&settings.servicenow, data) {
        assert!(
            ticket_key::is_servicenow_number(&inbound.ticket.key),
            "{inbound:?}"
        );
    }
    let _ = inbound::generic::parse(data);
}

/// Any bytes decode to an envelope or an error; a decoded one encodes and decodes back to
/// itself.
pub fn envelope(data: &[u8]) {
    let _ = EnvelopeHeader::from_json(data);
    if let Ok(envelope) = Envelope::<StartRemediation>::from_json(data) {
        let again = envelope
            .to_json()
            .and_then(|bytes| Envelope::<StartRemediation>::from_json(&bytes))
            .unwrap_or_else(|error| panic!("a decoded envelope does not round-trip: {error}"));
        assert_eq!(again, envelope);
    }
}

/// A DN that parses prints as one that parses to the same DN.
pub fn dn(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(dn) = Dn::parse(text) {
        let printed = dn.to_string();
        let again = Dn::parse(&printed)
            .unwrap_or_else(|error| panic!("{printed:?} (from {text:?}) does not parse: {error}"));
        assert!(again.same_as(&dn), "{printed:?} is not {text:?}");
    }
}

/// Whatever the UPN, the filter is one equality match: its value holds no filter syntax
/// except escapes.
pub fn ldap_filter(data: &[u8]) {
    let Ok(upn) = std::str::from_utf8(data) else {
        return;
    };
    let filter = user_filter(&UserLookup::UserPrincipalName(upn.to_owned()));
    let head = "(&(objectCategory=person)(objectClass=user)(userPrincipalName=";
    let value = filter
        .strip_prefix(head)
        .and_then(|rest| rest.strip_suffix("))"))
        .unwrap_or_else(|| panic!("{filter:?} is not one equality match"));
    let bytes = value.as_bytes();
    let mut at = 0;
    while at < bytes.len() {
        match bytes[at] {
            b'\\' => {
                let escape = bytes.get(at + 1..at + 3).unwrap_or_default();
                assert!(
                    escape.len() == 2 && escape.iter().all(u8::is_ascii_hexdigit),
                    "a bare backslash in {filter:?}"
                );
                at += 3;
            }
            b'(' | b')' | b'*' | 0 => panic!("filter syntax in the value of {filter:?}"),
            _ => at += 1,
        }
    }
}
