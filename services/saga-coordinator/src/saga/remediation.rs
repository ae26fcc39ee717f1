//! One remediation from request to end, around the saga: gather the diagnosis's reads, diagnose,
//! wait for admission, then run the saga, turning each step service's answer into the saga's
//! input. Pure, like `decide`: what happened comes in, the next phase and the effects go out.

use detour_contracts::{
    ad_ops::{AdUserSnapshot, FindUser, UserLookup},
    cloud_directory::{
        AddressHolder, CloudUserState, FindAddressHolders, ReadCloudUser, ReadTenant, TenantRead,
    },
    mailbox_ops::{MailboxState, ReadMailbox},
    sync_trigger::{ConnectStateRead, ReadConnectState},
};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use super::{
    decide::decide,
    definition::{Compensation, Definition, Step, Timing},
    diagnosis::{Diagnosis, Facts, Plan, Refusal, Strategy, coexistence_address, diagnose},
    messages::{
        SagaFacts, StepAnswer, StepCommand, StepEvent, compensation_command, interpret,
        interpret_compensation, step_command,
    },
    seen::Seen,
    state::{Command, Input, Saga, ScheduledTimer, State, Timer},
};

/// How this coordinator remediates: from its configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// The hybrid coexistence domain, e.g. `contoso.mail.onmicrosoft.com`.
    pub coexistence_domain: String,
    /// The out-of-scope OU users are parked in during a round trip.
    pub parking_ou: String,
    /// Whether Connect syncs the parking OU (then parking would not descope anyone).
    pub parking_ou_in_scope: bool,
    /// The SKU given directly while the group's licence is gone.
    pub temporary_sku: Uuid,
    /// For the temporary licence of a user who has no usage location of its own.
    pub default_usage_location: Option<String>,
    pub prefer_cloud_managed: bool,
    /// Hold each saga before its first write until an approval names its plan.
    pub approval_required: bool,
    pub timing: Timing,
}

impl Policy {
    pub fn definition(&self, strategy: Strategy) -> Definition {
        match strategy {
            Strategy::RoundTrip => Definition::round_trip(self.timing),
            Strategy::CloudManaged => Definition::cloud_managed(self.timing),
        }
    }
}

/// The reads a diagnosis needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Read {
    AdUser,
    CloudUser,
    Mailbox,
    Tenant,
    Connect,
    /// Who else holds the address; asked once the cloud user (and so its alias) is known.
    AddressHolders,
}

impl Read {
    /// The reads sent at once when a remediation begins.
    pub const FIRST: [Read; 5] = [
        Read::AdUser,
        Read::CloudUser,
        Read::Mailbox,
        Read::Tenant,
        Read::Connect,
    ];

    /// The command for this read about `subject`: the user's UPN, or for `AddressHolders`
    /// the address.
    fn command(self, subject: &str) -> StepCommand {
        match self {
            Read::AdUser => StepCommand::FindUser(FindUser {
                lookup: UserLookup::UserPrincipalName(subject.to_owned()),
            }),
            // The roles decide a refusal (soft match refuses administrators [S17]).
            Read::CloudUser => StepCommand::ReadCloudUser(ReadCloudUser {
                user: subject.to_owned(),
                with_admin_roles: true,
            }),
            Read::Mailbox => StepCommand::ReadMailbox(ReadMailbox {
                identity: subject.to_owned(),
            }),
            Read::Tenant => StepCommand::ReadTenant(ReadTenant {}),
            Read::Connect => StepCommand::ReadConnectState(ReadConnectState {}),
            Read::AddressHolders => StepCommand::FindAddressHolders(FindAddressHolders {
                address: subject.to_owned(),
            }),
        }
    }
}

/// What the reads have answered so far (`None`: not yet).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reads {
    pub ad: Option<AdUserSnapshot>,
    /// `Some(None)`: answered, and there is no such cloud user.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "answered"
    )]
    pub cloud: Option<Option<CloudUserState>>,
    /// `Some(None)`: answered, and the user has no mailbox.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "answered"
    )]
    pub mailbox: Option<Option<MailboxState>>,
    pub tenant: Option<TenantRead>,
    pub connect: Option<ConnectStateRead>,
    /// Asked only when the cloud user exists.
    #[serde(default)]
    pub holders: Option<Vec<AddressHolder>>,
}

/// A field present in the stored JSON was answered, even when its answer is `null` ("none"):
/// plain serde would read that `null` back as "not answered yet".
fn answered<'de, T, D>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    T: Deserialize<'de>,
    D: serde::Deserializer<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

impl Reads {
    /// The reads not answered yet.
    pub fn missing(&self) -> Vec<Read> {
        let holders_needed = matches!(self.cloud, None | Some(Some(_)));
        let answered = [
            (Read::AdUser, self.ad.is_some()),
            (Read::CloudUser, self.cloud.is_some()),
            (Read::Mailbox, self.mailbox.is_some()),
            (Read::Tenant, self.tenant.is_some()),
            (Read::Connect, self.connect.is_some()),
            (
                Read::AddressHolders,
                !holders_needed || self.holders.is_some(),
            ),
        ];
        answered
            .into_iter()
            .filter_map(|(read, done)| (!done).then_some(read))
            .collect()
    }
}

/// What a command sent on a remediation's behalf was for: its answer is read in this light.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "for", rename_all = "kebab-case")]
pub enum Purpose {
    Read { read: Read },
    Step { step: Step, attempt: u32 },
    Compensation { index: usize, attempt: u32 },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "phase", rename_all = "kebab-case")]
#[expect(
    clippy::large_enum_variant,
    reason = "one per remediation in hand, loaded and stored whole"
)]
pub enum Phase {
    /// Waiting for one of the `max_diagnosing` diagnosis slots: nothing sent yet, so a burst
    /// of a thousand requests never queues its reads ahead of running sagas' steps.
    Requested {
        user: String,
    },
    Diagnosing {
        reads: Reads,
    },
    /// Ended at diagnosis: nothing to do, refused, or (a dry run) the plan it would follow.
    Diagnosed {
        diagnosis: Diagnosis,
    },
    /// A read failed, so no diagnosis could be made; nothing was changed.
    Undiagnosable {
        reason: String,
    },
    /// Waiting for a descope slot (admission).
    Queued {
        plan: Plan,
        facts: SagaFacts,
    },
    Running {
        plan: Plan,
        facts: SagaFacts,
        saga: Saga,
        /// The user as the remediation's last cloud read showed it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        seen: Option<Seen>,
    },
}

/// What can happen to a remediation.
#[derive(Debug, Clone, PartialEq, Eq)]
#[expect(
    clippy::large_enum_variant,
    reason = "one per message handled, never stored in bulk"
)]
pub enum Event {
    /// A step service answered a command sent for `purpose`.
    Answered { purpose: Purpose, answer: StepEvent },
    /// A read or step command could not be delivered or was dead-lettered.
    Undeliverable { purpose: Purpose, reason: String },
    /// Admission let a requested remediation start diagnosing, or a queued round trip start.
    Admitted,
    /// A timer, an approval, an abort, a retry or a resolution, straight to the saga.
    Saga(Input),
}

/// The next phase and what to carry out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Advance {
    pub next: Phase,
    pub sends: Vec<(Purpose, StepCommand)>,
    pub timers: Vec<ScheduledTimer>,
    /// What the saga made of the event, for the audit trail (`None`: it changed nothing).
    pub note: Option<String>,
}

impl Advance {
    fn unchanged(phase: &Phase) -> Self {
        Self {
            next: phase.clone(),
            sends: Vec::new(),
            timers: Vec::new(),
            note: None,
        }
    }

    fn to(next: Phase, note: impl Into<String>) -> Self {
        Self {
            next,
            sends: Vec::new(),
            timers: Vec::new(),
            note: Some(note.into()),
        }
    }
}

/// A new remediation for `user`: it sends nothing until admission gives it a diagnosis slot.
pub fn requested(user: &str) -> Phase {
    Phase::Requested {
        user: user.to_owned(),
    }
}

/// Diagnosing `user`: the reads to send, and the time by which they must all be answered.
pub fn begin(policy: &Policy, user: &str, now: OffsetDateTime) -> Advance {
    Advance {
        next: Phase::Diagnosing {
            reads: Reads::default(),
        },
        sends: Read::FIRST
            .iter()
            .map(|read| (Purpose::Read { read: *read }, read.command(user)))
            .collect(),
        timers: vec![ScheduledTimer {
            at: now + policy.timing.action_deadline,
            timer: Timer::DiagnosisDeadline,
        }],
        note: Some(
            "diagnosing: reading AD, the cloud user, the mailbox, tenant and Connect".into(),
        ),
    }
}

pub fn advance(
    policy: &Policy,
    phase: &Phase,
    dry_run: bool,
    event: &Event,
    now: OffsetDateTime,
) -> Advance {
    match (phase, event) {
        (Phase::Requested { user }, Event::Admitted) => begin(policy, user, now),
        (
            Phase::Diagnosing { reads },
            Event::Answered {
                purpose: Purpose::Read { read },
                answer,
            },
        ) => gathered(policy, reads, *read, answer, dry_run),
        (
            Phase::Diagnosing { .. },
            Event::Undeliverable {
                purpose: Purpose::Read { read },
                reason,
            },
        ) => Advance::to(
            Phase::Undiagnosable {
                reason: format!("the {read:?} read failed: {reason}"),
            },
            format!("cannot diagnose: the {read:?} read failed: {reason}"),
        ),
        (Phase::Diagnosing { reads }, Event::Saga(Input::Timer(Timer::DiagnosisDeadline))) => {
            let missing: Vec<String> = reads
                .missing()
                .iter()
                .map(|read| format!("{read:?}"))
                .collect();
            let reason = format!(
                "no answer to the {} read(s) in time: is the service running?",
                missing.join(", ")
            );
            Advance::to(
                Phase::Undiagnosable {
                    reason: reason.clone(),
                },
                format!("cannot diagnose: {reason}"),
            )
        }
        (Phase::Queued { plan, facts }, Event::Admitted) => {
            let saga = if policy.approval_required {
                Saga::gated(plan.hash())
            } else {
                Saga::new()
            };
            let running = Phase::Running {
                plan: plan.clone(),
                facts: facts.clone(),
                saga,
                seen: None,
            };
            let mut started = advance(policy, &running, dry_run, &Event::Saga(Input::Start), now);
            if started.note.is_none() {
                started.note = Some("admitted".into());
            }
            started
        }
        (
            Phase::Running {
                plan,
                facts,
                saga,
                seen,
            },
            event,
        ) => {
            let Some((input, missing)) = saga_input(saga, facts, event) else {
                return Advance::unchanged(phase);
            };
            let facts = &snapshotted(facts, event);
            let definition = policy.definition(plan.strategy);
            let decision = decide(&definition, saga, &input, now);
            if decision.next == *saga && decision.commands.is_empty() && decision.timers.is_empty()
            {
                return Advance::unchanged(phase);
            }
            let sends = decision
                .commands
                .iter()
                .map(|command| match *command {
                    Command::Execute { step, attempt } => (
                        Purpose::Step { step, attempt },
                        step_command(step, facts, now),
                    ),
                    Command::Compensate {
                        compensation,
                        index,
                        attempt,
                    } => (
                        Purpose::Compensation { index, attempt },
                        compensation_command(compensation, facts, now),
                    ),
                })
                .collect();
            let mut note = describe(&input, &decision.next.state);
            if let Some(missing) = missing {
                note = format!("{note} ({missing})");
            }
            let seen = match event {
                Event::Answered {
                    answer: StepEvent::CloudUserRead(read),
                    ..
                } => Some(Seen::of(read, facts)),
                _ => *seen,
            };
            Advance {
                next: Phase::Running {
                    plan: plan.clone(),
                    facts: facts.clone(),
                    saga: decision.next,
                    seen,
                },
                sends,
                timers: decision.timers,
                note: Some(note),
            }
        }
        _ => Advance::unchanged(phase),
    }
}

/// When a command sent for `purpose`, on the way to `next`, stops being wanted: a step's
/// command at that step's deadline (the saga fails the step then, and a copy carried out
/// later would act behind its back), any other at the action deadline after `now`, by which
/// its read or compensation is failed or asked again. A step service dead-letters a copy
/// delivered after it.
pub fn command_expiry(
    policy: &Policy,
    next: &Phase,
    purpose: &Purpose,
    now: OffsetDateTime,
) -> OffsetDateTime {
    let step_deadline = match (next, purpose) {
        (
            Phase::Running {
                saga:
                    Saga {
                        state:
                            State::Running {
                                step: running,
                                deadline,
                                ..
                            },
                        ..
                    },
                ..
            },
            Purpose::Step { step, .. },
        ) if running == step => Some(*deadline),
        _ => None,
    };
    step_deadline.unwrap_or(now + policy.timing.action_deadline)
}

/// The facts with the Snapshot step's `uSNChanged` recorded, when `event` is its answer.
fn snapshotted(facts: &SagaFacts, event: &Event) -> SagaFacts {
    let mut facts = facts.clone();
    if let Event::Answered {
        purpose: Purpose::Step {
            step: Step::Snapshot,
            ..
        },
        answer: StepEvent::UserFound(found),
    } = event
    {
        facts.snapshot_usn = Some(found.snapshot.usn_changed);
    }
    facts
}

/// What a step service's answer (or its absence) means to the saga, as its input; `None` for
/// an answer that belongs to no step of it.
/// Also says, for a wait's "not yet", what is still missing.
fn saga_input(saga: &Saga, facts: &SagaFacts, event: &Event) -> Option<(Input, Option<String>)> {
    let failed = |purpose: &Purpose, reason: String| match *purpose {
        Purpose::Step { step, attempt } => Some(Input::StepFailed {
            step,
            attempt,
            reason,
        }),
        Purpose::Compensation { index, attempt } => Some(Input::CompensationFailed {
            index,
            attempt,
            reason,
        }),
        Purpose::Read { .. } => None,
    };
    let input = match event {
        Event::Saga(input) => Some(input.clone()),
        Event::Admitted => None,
        Event::Undeliverable { purpose, reason } => failed(purpose, reason.clone()),
        Event::Answered {
            purpose: Purpose::Step { step, attempt },
            answer,
        } => {
            let (step, attempt) = (*step, *attempt);
            return Some(match interpret(step, answer, facts) {
                StepAnswer::Done => (Input::StepDone { step, attempt }, None),
                StepAnswer::NotYet(why) => (Input::StepNotYet { step, attempt }, Some(why)),
                StepAnswer::Failed(reason) => (
                    Input::StepFailed {
                        step,
                        attempt,
                        reason,
                    },
                    None,
                ),
            });
        }
        Event::Answered {
            purpose: purpose @ Purpose::Compensation { index, attempt },
            answer,
        } => {
            // The plan is the saga's own: an answer for an index it does not have is stale.
            let compensation = match &saga.state {
                State::Compensating { plan, .. } => *plan.get(*index)?,
                _ => return None,
            };
            match interpret_compensation(compensation, answer, facts) {
                StepAnswer::Done => Some(Input::CompensationDone {
                    index: *index,
                    attempt: *attempt,
                }),
                StepAnswer::NotYet(why) => failed(
                    purpose,
                    format!("{compensation:?}: the user is not back as before yet: {why}"),
                ),
                StepAnswer::Failed(reason) => failed(purpose, reason),
            }
        }
        Event::Answered {
            purpose: Purpose::Read { .. },
            ..
        } => None,
    };
    input.map(|input| (input, None))
}

fn describe(input: &Input, state: &State) -> String {
    let now = match state {
        State::New { .. } => "not started".to_owned(),
        State::AwaitingApproval { plan_hash, .. } => {
            format!("awaiting approval of plan {plan_hash}")
        }
        State::Running { step, attempt, .. } => format!("running {step:?} (attempt {attempt})"),
        State::Compensating {
            plan,
            index,
            attempt,
            ..
        } => format!("undoing: {:?} (attempt {attempt})", plan[*index]),
        State::Completed => "completed".to_owned(),
        State::Compensated { reason } => format!("compensated: {reason}"),
        State::NeedsAttention { reason, .. } => format!("needs attention: {reason}"),
        State::Resolved { note, .. } => format!("resolved by an operator: {note}"),
    };
    format!("{}: now {now}", input_label(input))
}

fn input_label(input: &Input) -> String {
    match input {
        Input::Start => "start".into(),
        Input::StepDone { step, attempt } => format!("{step:?} done (attempt {attempt})"),
        Input::StepNotYet { step, attempt } => format!("{step:?} not yet (attempt {attempt})"),
        Input::StepFailed {
            step,
            attempt,
            reason,
        } => format!("{step:?} failed (attempt {attempt}): {reason}"),
        Input::CompensationDone { index, attempt } => {
            format!("compensation {index} done (attempt {attempt})")
        }
        Input::CompensationFailed {
            index,
            attempt,
            reason,
        } => format!("compensation {index} failed (attempt {attempt}): {reason}"),
        Input::Timer(timer) => format!("timer {timer:?}"),
        Input::Approve { plan_hash } => format!("approval of plan {plan_hash}"),
        Input::Abort { reason } => format!("abort ({reason})"),
        Input::Retry => "retry".into(),
        Input::Resolve { note } => format!("resolved ({note})"),
    }
}

/// Records a read's answer; once all are in, diagnoses.
fn gathered(
    policy: &Policy,
    reads: &Reads,
    read: Read,
    answer: &StepEvent,
    dry_run: bool,
) -> Advance {
    let mut reads = reads.clone();
    let mut sends = Vec::new();
    let recorded = match (read, answer) {
        (Read::AdUser, StepEvent::UserFound(found)) => {
            reads.ad.get_or_insert(found.snapshot.clone());
            true
        }
        (Read::CloudUser, StepEvent::CloudUserRead(read)) => {
            if reads.cloud.is_none()
                && let Some(user) = &read.user
            {
                let address = coexistence_address(user, &policy.coexistence_domain);
                sends.push((
                    Purpose::Read {
                        read: Read::AddressHolders,
                    },
                    Read::AddressHolders.command(&address),
                ));
            }
            reads.cloud.get_or_insert(read.user.clone());
            true
        }
        (Read::AddressHolders, StepEvent::AddressHoldersFound(found)) => {
            reads.holders.get_or_insert(found.holders.clone());
            true
        }
        (Read::Mailbox, StepEvent::MailboxRead(read)) => {
            reads.mailbox.get_or_insert(read.mailbox.clone());
            true
        }
        (Read::Tenant, StepEvent::TenantRead(tenant)) => {
            reads.tenant.get_or_insert(tenant.clone());
            true
        }
        (Read::Connect, StepEvent::ConnectStateRead(connect)) => {
            reads.connect.get_or_insert(connect.clone());
            true
        }
        _ => false,
    };
    if !recorded {
        let reason = match answer {
            StepEvent::AdFailed(f) => format!("ad-ops: {}", f.reason),
            StepEvent::CloudFailed(f) => format!("cloud-directory: {}", f.reason),
            StepEvent::MailboxFailed(f) => format!("mailbox-ops: {}", f.reason),
            other => format!("an answer it cannot use: {other:?}"),
        };
        return Advance::to(
            Phase::Undiagnosable {
                reason: format!("the {read:?} read failed: {reason}"),
            },
            format!("cannot diagnose: the {read:?} read failed: {reason}"),
        );
    }
    match complete(policy, &reads) {
        None => Advance {
            sends,
            ..Advance::to(Phase::Diagnosing { reads }, format!("{read:?} read"))
        },
        Some(facts) => diagnosed(policy, &facts, dry_run),
    }
}

fn complete(policy: &Policy, reads: &Reads) -> Option<Facts> {
    if !reads.missing().is_empty() {
        return None;
    }
    let own_id = reads.cloud.clone().flatten().map(|user| user.id);
    let address_holder = reads
        .holders
        .iter()
        .flatten()
        .find(|holder| Some(holder.id) != own_id)
        .map(|holder| holder.user_principal_name.clone());
    let connect = reads.connect.clone()?;
    Some(Facts {
        ad: reads.ad.clone()?,
        cloud: reads.cloud.clone()?,
        mailbox: reads.mailbox.clone()?,
        tenant: reads.tenant.clone()?,
        coexistence_domain: policy.coexistence_domain.clone(),
        address_holder,
        parking_ou_in_scope: policy.parking_ou_in_scope
            || within_any(&policy.parking_ou, &connect.included_containers),
        temporary_sku: policy.temporary_sku,
        connect,
    })
}

/// Whether `dn` is one of `containers` or lies beneath one (DNs compare case-insensitively).
fn within_any(dn: &str, containers: &[String]) -> bool {
    let dn = dn.trim().to_ascii_lowercase();
    containers.iter().any(|container| {
        let container = container.trim().to_ascii_lowercase();
        dn == container || dn.ends_with(&format!(",{container}"))
    })
}

fn diagnosed(policy: &Policy, facts: &Facts, dry_run: bool) -> Advance {
    let diagnosis = match diagnose(facts, policy.prefer_cloud_managed) {
        Diagnosis::Plan(plan)
            if plan.strategy == Strategy::RoundTrip && usage_location(policy, facts).is_none() =>
        {
            Diagnosis::Refused {
                refusal: Refusal::NoUsageLocation,
                detail: "the user has no usage location and none is configured \
                         (saga.default_usage_location): the temporary licence cannot be assigned"
                    .into(),
            }
        }
        other => other,
    };
    let summary = match &diagnosis {
        Diagnosis::NothingToDo { address } => format!("nothing to do: {address} is present"),
        Diagnosis::Refused { refusal, detail } => format!("refused ({refusal:?}): {detail}"),
        Diagnosis::Plan(plan) => format!(
            "plan {} ({:?}): add {}",
            plan.hash(),
            plan.strategy,
            plan.address
        ),
    };
    match diagnosis {
        Diagnosis::Plan(plan) if !dry_run => {
            let Some(saga_facts) = saga_facts(policy, facts, &plan) else {
                return Advance::to(
                    Phase::Undiagnosable {
                        reason: "the diagnosis lacks the cloud user".into(),
                    },
                    "cannot diagnose: no cloud user",
                );
            };
            Advance::to(
                Phase::Queued {
                    plan,
                    facts: saga_facts,
                },
                format!("diagnosed: {summary}; waiting for admission"),
            )
        }
        diagnosis => Advance::to(
            Phase::Diagnosed { diagnosis },
            format!("diagnosed: {summary}"),
        ),
    }
}

fn saga_facts(policy: &Policy, facts: &Facts, plan: &Plan) -> Option<SagaFacts> {
    let cloud = facts.cloud.as_ref()?;
    Some(SagaFacts {
        object_guid: facts.ad.object_guid,
        original_dn: facts.ad.distinguished_name.clone(),
        parking_ou: policy.parking_ou.clone(),
        user_principal_name: cloud.user_principal_name.clone(),
        cloud_id: cloud.id,
        immutable_id: cloud.on_premises_immutable_id.clone(),
        address: plan.address.clone(),
        temporary_sku: policy.temporary_sku,
        usage_location: usage_location(policy, facts),
        snapshot_usn: None,
    })
}

fn usage_location(policy: &Policy, facts: &Facts) -> Option<String> {
    facts
        .cloud
        .as_ref()
        .and_then(|c| c.usage_location.clone())
        .or_else(|| policy.default_usage_location.clone())
}

impl Phase {
    /// A short name for lists and filters.
    pub fn status(&self) -> &'static str {
        match self {
            Phase::Requested { .. } => "requested",
            Phase::Diagnosing { .. } => "diagnosing",
            Phase::Diagnosed {
                diagnosis: Diagnosis::NothingToDo { .. },
            } => "nothing-to-do",
            Phase::Diagnosed {
                diagnosis: Diagnosis::Refused { .. },
            } => "refused",
            Phase::Diagnosed {
                diagnosis: Diagnosis::Plan(_),
            } => "planned",
            Phase::Undiagnosable { .. } => "undiagnosable",
            Phase::Queued { .. } => "queued",
            Phase::Running { saga, .. } => match saga.state {
                State::New { .. } => "new",
                State::AwaitingApproval { .. } => "awaiting-approval",
                State::Running { .. } => "running",
                State::Compensating { .. } => "compensating",
                State::Completed => "completed",
                State::Compensated { .. } => "compensated",
                State::NeedsAttention { .. } => "needs-attention",
                State::Resolved { .. } => "resolved",
            },
        }
    }

    /// Nothing more will happen without a person (or ever).
    pub fn is_settled(&self) -> bool {
        match self {
            Phase::Requested { .. } | Phase::Diagnosing { .. } | Phase::Queued { .. } => false,
            Phase::Diagnosed { .. } | Phase::Undiagnosable { .. } => true,
            Phase::Running { saga, .. } => saga.state.is_settled(),
        }
    }

    /// Ended for good: the user is free for another remediation.
    pub fn is_over(&self) -> bool {
        match self {
            Phase::Running { saga, .. } => saga.state.is_terminal(),
            other => other.is_settled(),
        }
    }

    /// Whether this remediation holds one of the `max_descoped` slots: a round trip from its
    /// admission until its user is back at its own DN (rescoped, or moved back while undoing).
    /// The slot is freed then, not at the end, so the next batch's descope can ride the same
    /// cycle as this one's return.
    pub fn holds_descope_slot(&self) -> bool {
        let Phase::Running { plan, saga, .. } = self else {
            return false;
        };
        if plan.strategy != Strategy::RoundTrip {
            return false;
        }
        match &saga.state {
            State::New { .. } | State::AwaitingApproval { .. } => true,
            State::Running { .. } => !saga.completed.contains(&Step::Rescope),
            State::Compensating { plan, index, .. } | State::NeedsAttention { plan, index, .. } => {
                plan[(*index).min(plan.len())..].contains(&Compensation::MoveBack)
            }
            State::Completed | State::Compensated { .. } | State::Resolved { .. } => false,
        }
    }

    /// The strategy once diagnosed with a plan.
    pub fn strategy(&self) -> Option<Strategy> {
        match self {
            Phase::Queued { plan, .. } | Phase::Running { plan, .. } => Some(plan.strategy),
            Phase::Diagnosed {
                diagnosis: Diagnosis::Plan(plan),
            } => Some(plan.strategy),
            _ => None,
        }
    }
}

/// A round trip for ada@contoso.com, at whatever point `saga` says: the fixture the tests of
/// admission and of the store share.
#[cfg(test)]
pub(crate) fn sample_round_trip(saga: Saga) -> Phase {
    let address = "smtp:ada@contoso.mail.onmicrosoft.com";
    Phase::Running {
        plan: Plan {
            strategy: Strategy::RoundTrip,
            address: address.into(),
            before: vec!["SMTP:ada@contoso.com".into()],
            after: vec!["SMTP:ada@contoso.com".into(), address.into()],
        },
        facts: SagaFacts {
            object_guid: Uuid::from_u128(1),
            original_dn: "CN=Ada,OU=Staff,DC=corp".into(),
            parking_ou: "OU=Parked,DC=corp".into(),
            user_principal_name: "ada@contoso.com".into(),
            cloud_id: Uuid::from_u128(2),
            immutable_id: None,
            address: address.into(),
            temporary_sku: Uuid::from_u128(3),
            usage_location: Some("PL".into()),
            snapshot_usn: None,
        },
        saga,
        seen: None,
    }
}

#[cfg(test)]
mod tests;
