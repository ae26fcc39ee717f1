//! Proxy addresses as Exchange and Entra write them: a type prefix (`SMTP:` for the primary,
//! `smtp:` for a secondary, `x500:` and others) before the address. Two name the same mailbox
//! when their addresses match without the prefix, case-insensitively.

/// `smtp:ada@contoso.com` as `ada@contoso.com`; an address without a prefix as it is.
pub fn bare(address: &str) -> &str {
    address.split_once(':').map_or(address, |(_, rest)| rest)
}

/// Whether `a` and `b` are the same address, whatever their prefixes and case.
pub fn same_address(a: &str, b: &str) -> bool {
    bare(a).eq_ignore_ascii_case(bare(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_and_case_do_not_make_another_address() {
        assert_eq!(bare("SMTP:Ada@Contoso.com"), "Ada@Contoso.com");
        assert_eq!(bare("ada@contoso.com"), "ada@contoso.com");
        assert!(same_address("SMTP:Ada@Contoso.com", "smtp:ada@contoso.COM"));
        assert!(same_address("ada@contoso.com", "smtp:ADA@contoso.com"));
        assert!(!same_address(
            "smtp:ada@contoso.com",
            "smtp:ada@contoso.mail.onmicrosoft.com"
        ));
    }
}
