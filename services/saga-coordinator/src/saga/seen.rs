//! What a remediation last saw of its user in the cloud, from its own reads (the re-match and
//! verify waits, and the check after undoing): the ticket's final word is rendered from this,
//! never from the path taken, so a user who has the address and is synced is never reported
//! as not fixed.

use detour_contracts::cloud_directory::CloudUserRead;
use serde::{Deserialize, Serialize};

use super::messages::SagaFacts;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Seen {
    /// The address the remediation was for is among the user's proxy addresses.
    pub has_address: bool,
    /// The same cloud object as before, synced, with the same anchor.
    pub synced_as_before: bool,
}

impl Seen {
    pub fn of(read: &CloudUserRead, facts: &SagaFacts) -> Self {
        let Some(user) = &read.user else {
            return Self {
                has_address: false,
                synced_as_before: false,
            };
        };
        Self {
            has_address: user
                .proxy_addresses
                .iter()
                .any(|a| facts.address.same_as(a)),
            synced_as_before: user.id == facts.cloud_id
                && user.on_premises_sync_enabled == Some(true)
                && user.on_premises_immutable_id == facts.immutable_id,
        }
    }

    /// Fixed, whatever path led here.
    pub fn fixed(&self) -> bool {
        self.has_address && self.synced_as_before
    }
}
