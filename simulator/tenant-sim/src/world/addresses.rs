//! Proxy address calculation: what the cloud makes of the addresses AD sends [S24].

use detour_contracts::address::{bare, same_address};

use super::{CloudUser, Switches, TenantInfo};

fn is_primary(address: &str) -> bool {
    address.starts_with("SMTP:")
}

fn domain(address: &str) -> String {
    bare(address)
        .rsplit_once('@')
        .map(|(_, d)| d.to_ascii_lowercase())
        .unwrap_or_default()
}

/// Addresses with a reserved suffix are discarded from on-premises values [S24]; the hybrid
/// coexistence domain only when the disputed switch says so [S25].
fn discarded(address: &str, tenant: &TenantInfo, switches: &Switches) -> bool {
    let domain = domain(address);
    let reserved = domain.ends_with(".onmicrosoft.com") || domain.ends_with(".microsoftonline.com");
    let coexistence = domain.eq_ignore_ascii_case(&tenant.coexistence_domain);
    reserved && !(coexistence && switches.coexistence_domain_syncs_from_ad)
}

/// The proxyAddresses Graph shows: AD's values minus reserved suffixes, then the addresses only
/// the cloud holds (the MOERA and what Exchange Online added). One primary `SMTP:`: AD's, else
/// the first cloud address. Duplicates (case-insensitive) appear once.
pub(super) fn proxy_addresses(
    user: &CloudUser,
    tenant: &TenantInfo,
    switches: &Switches,
) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let push = |address: String, out: &mut Vec<String>| {
        if !out.iter().any(|a| same_address(a, &address)) {
            out.push(address);
        }
    };
    for address in &user.on_premises_proxy_addresses {
        if !discarded(address, tenant, switches) {
            push(address.clone(), &mut out);
        }
    }
    let has_primary = out.iter().any(|a| is_primary(a));
    for (index, address) in user.cloud_addresses.iter().enumerate() {
        let address = if !has_primary && index == 0 {
            format!("SMTP:{}", bare(address))
        } else {
            format!("smtp:{}", bare(address))
        };
        push(address, &mut out);
    }
    out
}

/// The MOERA: `mailNickname@<initial domain>` [S24].
pub(super) fn moera(mail_nickname: &str, tenant: &TenantInfo) -> String {
    format!("smtp:{mail_nickname}@{}", tenant.initial_domain)
}

/// The primary SMTP address, for soft matching and PrimarySmtpAddress.
pub(crate) fn primary_smtp(addresses: &[String]) -> Option<&str> {
    addresses.iter().find(|a| is_primary(a)).map(|a| bare(a))
}
