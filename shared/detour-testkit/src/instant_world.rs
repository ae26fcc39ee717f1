//! A stand-in for the four step services that answers every command at once with the outcome
//! a healthy round trip expects, so the coordinator alone can be measured (the benchmark) or
//! broken (the crash tests) without Samba and tenant-sim setting the pace. It keeps the
//! effects it carried out, per user: a repeated command is answered as "already done" and
//! never counted twice, as the real services do.

use std::{
    collections::{HashMap, HashSet},
    sync::{Arc, Mutex},
};

use detour_bus::{AmqpSettings, Consumer, Incoming, Outcome, Publisher, QueueSpec};
use detour_contracts::{
    COMMANDS_EXCHANGE, Envelope, Message,
    ad_ops::{FindUser, MoveUser, MoveUserToDn},
    cloud_directory::{
        AddressHoldersFound, AssignLicense, CloudUserRead, DeletedUserRead, DeletedUserState,
        FindAddressHolders, LicenseAssigned, LicenseRemoved, ReadCloudUser, ReadDeletedUser,
        ReadTenant, RemoveLicense, RestoreUser, UserRestored,
    },
    mailbox_ops::{
        AcceptedDomainsRead, AddEmailAddress, EmailAddressAdded, MailboxRead, ReadAcceptedDomains,
        ReadMailbox,
    },
    sync_trigger::{ReadConnectState, RequestSyncCycle},
};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// The tenant's coexistence domain in this world.
pub const WORLD_DOMAIN: &str = "bench.mail.onmicrosoft.com";
/// The SKU every user holds through a group, and the one given temporarily.
pub const WORLD_SKU: Uuid = Uuid::from_u128(0xE3);
/// The OU users live in; users are parked in `OU=Parked,<base>`.
pub const WORLD_BASE: &str = "DC=bench,DC=example";

/// What the world did, per user id: each effect counted once.
#[derive(Debug, Default, Clone)]
pub struct Effects {
    pub descoped: u32,
    pub rescoped: u32,
    pub restored: u32,
    pub licensed: u32,
    pub unlicensed: u32,
    pub address_added: u32,
    pub deleted_by_sync: u32,
    pub matched_by_sync: u32,
}

#[derive(Debug, Default)]
struct State {
    /// Per AD object: parked (out of scope) or not.
    parked: HashMap<Uuid, bool>,
    /// The most users parked at once.
    most_parked: usize,
    /// AD objects whose cloud user the last cycle deleted, not yet matched again.
    out_of_cloud: HashSet<Uuid>,
    /// Cloud users in deleted items, and those holding the direct licence or the address.
    deleted: HashSet<Uuid>,
    licensed: HashSet<Uuid>,
    addressed: HashSet<String>,
    /// The UPN behind each AD object found by UPN.
    object_upns: HashMap<Uuid, String>,
    effects: HashMap<Uuid, Effects>,
    /// The UPN behind each cloud id handed out, so reads by id find the same user.
    upns: HashMap<Uuid, String>,
    commands: u64,
}

#[derive(Debug, Clone)]
pub struct InstantWorld {
    state: Arc<Mutex<State>>,
    shutdown: CancellationToken,
    /// `true` while answers are held back ([`InstantWorld::hold`]).
    held: Arc<tokio::sync::watch::Sender<bool>>,
}

impl InstantWorld {
    /// Starts answering on `amqp`'s vhost, until dropped.
    pub async fn start(amqp: AmqpSettings) -> anyhow::Result<Self> {
        let mut queue = QueueSpec::new("instant-world");
        for service in ["ad-ops", "sync-trigger", "cloud-directory", "mailbox-ops"] {
            queue = queue.bind(COMMANDS_EXCHANGE, &format!("{service}.#"));
        }
        let consumer = Consumer::new(amqp.clone(), queue, "instant world");
        consumer.declare().await?;
        let publisher = Publisher::new(amqp, "instant world");
        let world = Self {
            state: Arc::default(),
            shutdown: CancellationToken::new(),
            held: Arc::new(tokio::sync::watch::channel(false).0),
        };
        let (answering, stop) = (world.clone(), world.shutdown.clone());
        tokio::spawn(async move {
            consumer
                .run(
                    |incoming| {
                        let (world, publisher) = (answering.clone(), publisher.clone());
                        async move { world.answer(&publisher, incoming).await }
                    },
                    stop,
                )
                .await;
        });
        Ok(world)
    }

    /// The effects carried out for the user with this UPN (in AD and in the cloud).
    pub fn effects(&self, upn: &str) -> Effects {
        let state = self.lock();
        let of = |id: Uuid| state.effects.get(&id).cloned().unwrap_or_default();
        let (ad, cloud) = (of(Self::object_guid(upn)), of(Self::cloud_id(upn)));
        Effects {
            descoped: ad.descoped,
            rescoped: ad.rescoped,
            deleted_by_sync: ad.deleted_by_sync,
            matched_by_sync: ad.matched_by_sync,
            restored: cloud.restored,
            licensed: cloud.licensed,
            unlicensed: cloud.unlicensed,
            address_added: cloud.address_added,
        }
    }

    /// The most users that were out of scope (parked) at once.
    pub fn most_parked(&self) -> usize {
        self.lock().most_parked
    }

    /// Holds every answer back (commands are taken in and wait) until [`Self::release`]: a
    /// test can then see what the coordinator has asked for with nothing answered.
    pub fn hold(&self) {
        self.held.send_replace(true);
    }

    pub fn release(&self) {
        self.held.send_replace(false);
    }

    /// Stops answering.
    pub fn stop(&self) {
        self.shutdown.cancel();
    }

    /// Commands answered so far, repeats included.
    pub fn commands(&self) -> u64 {
        self.lock().commands
    }

    /// The object guid the world gives the user with this UPN.
    pub fn object_guid(upn: &str) -> Uuid {
        stable_id("ad", upn)
    }

    fn cloud_id(user: &str) -> Uuid {
        user.parse().unwrap_or_else(|_| stable_id("cloud", user))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn effect(&self, object_guid: Uuid, change: impl FnOnce(&mut Effects)) {
        change(self.lock().effects.entry(object_guid).or_default());
    }

    async fn answer(&self, publisher: &Publisher, incoming: Incoming) -> Outcome {
        let mut held = self.held.subscribe();
        if held.wait_for(|held| !held).await.is_err() {
            return Outcome::Retry("the world is gone".into());
        }
        self.lock().commands += 1;
        let Ok(header) = incoming.header() else {
            return Outcome::Reject("not an envelope".into());
        };
        match header.message_type.as_str() {
            FindUser::NAME => reply(publisher, &incoming, |c: FindUser| self.find(c)).await,
            MoveUser::NAME => {
                reply(publisher, &incoming, |c: MoveUser| {
                    self.moved(c.object_guid, true)
                })
                .await
            }
            MoveUserToDn::NAME => {
                reply(publisher, &incoming, |c: MoveUserToDn| {
                    self.moved(c.object_guid, false)
                })
                .await
            }
            RequestSyncCycle::NAME => {
                reply(publisher, &incoming, |c: RequestSyncCycle| self.sync(c)).await
            }
            ReadAcceptedDomains::NAME => {
                reply(publisher, &incoming, |_: ReadAcceptedDomains| {
                    AcceptedDomainsRead {
                        domains: vec![WORLD_DOMAIN.to_owned()],
                    }
                })
                .await
            }
            ReadConnectState::NAME => {
                reply(publisher, &incoming, |_: ReadConnectState| {
                    healthy_connect_state()
                })
                .await
            }
            ReadCloudUser::NAME => {
                reply(publisher, &incoming, |c: ReadCloudUser| CloudUserRead {
                    user: Some(self.cloud_user(&c.user)),
                    requested: c.user,
                })
                .await
            }
            ReadTenant::NAME => reply(publisher, &incoming, |_: ReadTenant| tenant()).await,
            FindAddressHolders::NAME => {
                reply(publisher, &incoming, |c: FindAddressHolders| {
                    AddressHoldersFound {
                        address: c.address,
                        holders: Vec::new(),
                    }
                })
                .await
            }
            ReadDeletedUser::NAME => {
                reply(publisher, &incoming, |c: ReadDeletedUser| DeletedUserRead {
                    id: c.id,
                    user: Some(DeletedUserState {
                        id: c.id,
                        user_principal_name: format!("{}deleted@bench.example", c.id.simple()),
                        deleted_date_time: "2026-11-27T00:00:00Z".into(),
                    }),
                })
                .await
            }
            RestoreUser::NAME => {
                reply(publisher, &incoming, |c: RestoreUser| {
                    let restored = self.lock().deleted.remove(&c.id);
                    if restored {
                        self.effect(c.id, |e| e.restored += 1);
                    }
                    UserRestored {
                        id: c.id,
                        user_principal_name: format!("{}@bench.example", c.id.simple()),
                        already_active: !restored,
                    }
                })
                .await
            }
            AssignLicense::NAME => {
                reply(publisher, &incoming, |c: AssignLicense| {
                    let assigned = self.lock().licensed.insert(c.user_id);
                    if assigned {
                        self.effect(c.user_id, |e| e.licensed += 1);
                    }
                    LicenseAssigned {
                        user_id: c.user_id,
                        sku_id: c.sku_id,
                        already_assigned: !assigned,
                    }
                })
                .await
            }
            RemoveLicense::NAME => {
                reply(publisher, &incoming, |c: RemoveLicense| {
                    let removed = self.lock().licensed.remove(&c.user_id);
                    if removed {
                        self.effect(c.user_id, |e| e.unlicensed += 1);
                    }
                    LicenseRemoved {
                        user_id: c.user_id,
                        sku_id: c.sku_id,
                        already_absent: !removed,
                    }
                })
                .await
            }
            ReadMailbox::NAME => {
                reply(publisher, &incoming, |c: ReadMailbox| MailboxRead {
                    mailbox: Some(self.mailbox(&c.identity)),
                    identity: c.identity,
                })
                .await
            }
            AddEmailAddress::NAME => {
                reply(publisher, &incoming, |c: AddEmailAddress| {
                    let key = format!(
                        "{}|{}",
                        c.identity.to_lowercase(),
                        c.address.address().to_lowercase()
                    );
                    let added = self.lock().addressed.insert(key);
                    if added {
                        let id = Self::cloud_id(&c.identity);
                        self.effect(id, |e| e.address_added += 1);
                    }
                    EmailAddressAdded {
                        identity: c.identity,
                        address: c.address,
                        already_present: !added,
                    }
                })
                .await
            }
            other => Outcome::Reject(format!("the instant world does not do {other}")),
        }
    }
}

/// Decodes the command, builds the answer, publishes it as caused by the command.
async fn reply<C: Message + Clone, E: Message>(
    publisher: &Publisher,
    incoming: &Incoming,
    answer: impl FnOnce(C) -> E,
) -> Outcome {
    let command = match incoming.decode::<C>() {
        Ok(command) => command,
        Err(error) => return Outcome::Reject(error.to_string()),
    };
    let event = answer(command.payload.clone());
    match publisher
        .publish(&Envelope::caused_by(event, &command))
        .await
    {
        Ok(()) => Outcome::Handled,
        Err(error) => Outcome::Retry(error.to_string()),
    }
}

mod answers;

pub use answers::healthy_connect_state;
use answers::{stable_id, tenant};
