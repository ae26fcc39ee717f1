//! The steps' logic against an in-memory Exchange: what each writes, what a repeat answers, and
//! what is refused before Exchange is called. The real client's own tests run against
//! tenant-sim.

use std::{collections::HashMap, sync::Mutex};

use detour_contracts::ProxyAddress;
use uuid::Uuid;

use super::*;

/// Mailboxes by identity, and every write made, in order.
#[derive(Default)]
struct FakeExchange {
    mailboxes: Mutex<HashMap<String, MailboxState>>,
    writes: Mutex<Vec<String>>,
}

impl FakeExchange {
    fn with(identity: &str, addresses: &[&str]) -> Arc<Self> {
        let fake = Self::default();
        fake.mailboxes.lock().unwrap().insert(
            identity.to_owned(),
            MailboxState {
                external_directory_object_id: Uuid::from_u128(1),
                primary_smtp_address: identity.to_owned(),
                email_addresses: addresses.iter().map(|a| (*a).to_owned()).collect(),
                recipient_type_details: "UserMailbox".into(),
                is_dir_synced: true,
                is_exchange_cloud_managed: false,
            },
        );
        Arc::new(fake)
    }

    fn writes(&self) -> Vec<String> {
        self.writes.lock().unwrap().clone()
    }
}

impl Exchange for FakeExchange {
    async fn mailbox(&self, identity: &str) -> Result<Option<MailboxState>, ExchangeError> {
        Ok(self.mailboxes.lock().unwrap().get(identity).cloned())
    }

    async fn add_address(
        &self,
        identity: &str,
        address: &ProxyAddress,
    ) -> Result<(), ExchangeError> {
        let mut mailboxes = self.mailboxes.lock().unwrap();
        let mailbox = mailboxes
            .get_mut(identity)
            .ok_or_else(|| ExchangeError::NotFound(identity.to_owned()))?;
        mailbox.email_addresses.push(address.to_string());
        self.writes.lock().unwrap().push(format!("add {address}"));
        Ok(())
    }

    async fn accepted_domains(&self) -> Result<Vec<String>, ExchangeError> {
        Ok(vec![
            "contoso.com".into(),
            "contoso.mail.onmicrosoft.com".into(),
        ])
    }

    async fn set_cloud_managed(&self, identity: &str, value: bool) -> Result<(), ExchangeError> {
        let mut mailboxes = self.mailboxes.lock().unwrap();
        let mailbox = mailboxes
            .get_mut(identity)
            .ok_or_else(|| ExchangeError::NotFound(identity.to_owned()))?;
        mailbox.is_exchange_cloud_managed = value;
        self.writes
            .lock()
            .unwrap()
            .push(format!("cloud-managed {value}"));
        Ok(())
    }
}

const ADA: &str = "ada@contoso.com";

fn add(address: &str) -> AddEmailAddress {
    AddEmailAddress {
        identity: ADA.into(),
        address: ProxyAddress::parse(address).unwrap(),
    }
}

#[tokio::test]
async fn an_address_is_added_once_whatever_its_case_and_prefix_on_the_repeat() {
    let exchange = FakeExchange::with(ADA, &["SMTP:ada@contoso.com"]);
    let first = add_address(
        exchange.clone(),
        add("smtp:ada@contoso.mail.onmicrosoft.com"),
    )
    .await
    .unwrap();
    assert!(!first.already_present);
    let again = add_address(
        exchange.clone(),
        add("SMTP:Ada@Contoso.Mail.OnMicrosoft.com"),
    )
    .await
    .unwrap();
    assert!(again.already_present, "the same address in other case");
    assert_eq!(
        exchange.writes(),
        ["add smtp:ada@contoso.mail.onmicrosoft.com"]
    );
}

#[tokio::test]
async fn no_mailbox_or_no_smtp_address_is_refused_before_any_write() {
    let exchange = FakeExchange::with(ADA, &[]);
    let nobody = AddEmailAddress {
        identity: "nobody@contoso.com".into(),
        address: ProxyAddress::parse("smtp:nobody@contoso.com").unwrap(),
    };
    let answer = add_address(exchange.clone(), nobody).await;
    assert!(
        matches!(answer, Err(ExchangeError::NotFound(_))),
        "{answer:?}"
    );
    let x500 = add("x500:/o=ExchangeLabs/cn=ada");
    let answer = add_address(exchange.clone(), x500).await;
    assert!(
        matches!(answer, Err(ExchangeError::Invalid(_))),
        "{answer:?}"
    );
    let blank = ReadMailbox {
        identity: " ".into(),
    };
    assert!(matches!(
        read_mailbox(exchange.clone(), blank).await,
        Err(ExchangeError::Invalid(_))
    ));
    assert!(exchange.writes().is_empty());
}

#[tokio::test]
async fn the_cloud_managed_flag_is_set_once_and_a_repeat_answers_already() {
    let exchange = FakeExchange::with(ADA, &[]);
    let set = |value| SetExchangeCloudManaged {
        identity: ADA.into(),
        value,
    };
    assert!(
        !set_cloud_managed(exchange.clone(), set(true))
            .await
            .unwrap()
            .already
    );
    assert!(
        set_cloud_managed(exchange.clone(), set(true))
            .await
            .unwrap()
            .already
    );
    assert!(
        !set_cloud_managed(exchange.clone(), set(false))
            .await
            .unwrap()
            .already
    );
    assert_eq!(
        exchange.writes(),
        ["cloud-managed true", "cloud-managed false"]
    );
}

#[test]
fn an_outage_is_retried_and_a_refusal_is_answered_with_its_kind() {
    assert!(
        ExchangeError::Unavailable("503".into())
            .failure_event("add-email-address")
            .is_none()
    );
    let event = ExchangeError::OutOfWriteScope("synced".into())
        .failure_event("add-email-address")
        .unwrap();
    assert_eq!(event.kind, MailboxFailureKind::OutOfWriteScope);
}
