//! A remediation to test with: the seed's round trip for ada@contoso.com, shared by the tests
//! of admission and of the store.

use uuid::Uuid;

use super::{Phase, Plan, SagaFacts, Strategy};
use crate::saga::Saga;

/// A round trip for ada@contoso.com, at whatever point `saga` says: the fixture the tests of
/// admission and of the store share.
pub(crate) fn sample_round_trip(saga: Saga) -> Phase {
    let address = "smtp:ada@contoso.mail.onmicrosoft.com";
    Phase::Running {
        plan: Plan {
            strategy: Strategy::RoundTrip,
            address: detour_contracts::ProxyAddress::parse(address).unwrap(),
            missing: crate::saga::Missing::Routing,
            skipped: Vec::new(),
            fallbacks: Vec::new(),
            back_to_ad: false,
            moera_missing_too: false,
            before: vec!["SMTP:ada@contoso.com".into()],
            after: vec!["SMTP:ada@contoso.com".into(), address.into()],
        },
        facts: SagaFacts {
            object_guid: Uuid::from_u128(1),
            original_dn: "CN=Ada,OU=Staff,DC=corp".parse().unwrap(),
            parking_ou: "OU=Parked,DC=corp".parse().unwrap(),
            user_principal_name: "ada@contoso.com".into(),
            cloud_id: Uuid::from_u128(2),
            immutable_id: None,
            address: detour_contracts::ProxyAddress::parse(address).unwrap(),
            temporary_sku: Uuid::from_u128(3),
            usage_location: Some("PL".into()),
            snapshot_usn: None,
            last_sync: None,
            group_licences: Vec::new(),
        },
        saga,
        seen: None,
    }
}
