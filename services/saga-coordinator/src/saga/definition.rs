//! A strategy's steps as data: what each step is, whether it acts once or waits for a
//! condition, how long it may take, and what undoes it. Adding a step never touches `decide`.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The thirteen steps of the round trip (design.md section 5), and the gentler rungs' own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Step {
    Snapshot,
    Descope,
    SyncOut,
    AwaitSoftDelete,
    Restore,
    EnsureLicense,
    AwaitMailbox,
    AddAddress,
    Rescope,
    SyncIn,
    AwaitRematch,
    DropTemporaryLicense,
    Verify,
    /// Cloud-managed path: make the mailbox's Exchange attributes cloud-managed [S36].
    SetCloudManaged,
    /// On-premises path: add the routing address to the AD user's proxyAddresses.
    StampAddress,
    /// On-premises path: a cycle that exports the stamp.
    SyncStamp,
    /// On-premises path: wait until Exchange Online shows the address.
    AwaitAddressInExchange,
    /// User cloud-managed path: make the cloud the user's source of authority
    /// (`onPremisesSyncBehavior`, domain-2026.md 3.4).
    HandToCloud,
    /// Hold the tenant's takeover block lifted (the shared lease, `takeover`).
    HoldTakeoverLease,
    /// Give the user back to AD (`isCloudManaged: false`); the next cycle takes it over.
    HandBackToAd,
    /// Let go of the lease; the last to let go restores the block.
    ReleaseTakeoverLease,
    /// Where AD is not to have it back: the user cloud-managed with its address.
    VerifyCloudManaged,
    /// Cloud-managed path, by policy: the mailbox's Exchange attributes back to AD
    /// (`-IsExchangeCloudManaged $false`); the sync after it shows whether the address stays.
    HandMailboxBackToAd,
}

/// What undoes a step, or puts the user back where it started after a failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Compensation {
    /// Move the AD object back to its recorded DN (undoes Descope).
    MoveBack,
    /// Remove the direct licence the saga added (undoes EnsureLicense).
    RemoveTemporaryLicense,
    /// A sync cycle, so the moved-back object re-links in the cloud.
    SyncBack,
    /// Re-read until the user is back as before: same DN, synced, same object id, licences.
    VerifyRestored,
    /// Hand the Exchange attributes back to AD (undoes SetCloudManaged) [S36-wiki].
    UnsetCloudManaged,
    /// Remove exactly the stamped value from AD (undoes StampAddress); a sync follows.
    UnstampAddress,
    /// Give the user back to AD (undoes HandToCloud): under the lease, with a sync and a check
    /// that it is the same object, synced, again.
    HandBackToAd,
    HoldTakeoverLease,
    ReleaseTakeoverLease,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepKind {
    /// One command; its answer ends the step.
    Action,
    /// A check re-issued every `poll_every` until its condition holds or the deadline passes.
    Wait { poll_every: Duration },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepDef {
    pub step: Step,
    pub kind: StepKind,
    /// From the step's start; past it, the step has failed.
    pub deadline: Duration,
    pub compensation: Option<Compensation>,
    /// A compensation this step makes unneeded once it is done, having undone the same
    /// thing itself (dropping the temporary licence settles its removal).
    pub settles: Option<Compensation>,
}

impl StepDef {
    /// One command whose answer ends the step, within the action deadline.
    fn action(timing: Timing, step: Step, compensation: Option<Compensation>) -> Self {
        Self {
            step,
            kind: StepKind::Action,
            deadline: timing.action_deadline,
            compensation,
            settles: None,
        }
    }

    /// A condition checked every `poll_every` until it holds or the wait deadline passes.
    fn wait(timing: Timing, step: Step) -> Self {
        Self {
            step,
            kind: StepKind::Wait {
                poll_every: timing.poll_every,
            },
            deadline: timing.wait_deadline,
            compensation: None,
            settles: None,
        }
    }
}

/// How long the waits may take: real minutes in production, fractions of a second in tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    pub action_deadline: Duration,
    pub poll_every: Duration,
    pub wait_deadline: Duration,
    /// Failed compensations are tried this many times, with growing pauses, before a person
    /// is asked to look.
    pub compensation_attempts: u32,
    pub compensation_backoff: Duration,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Definition {
    pub steps: Vec<StepDef>,
    pub timing: Timing,
}

impl Definition {
    /// The seed's procedure (design.md section 5).
    pub fn round_trip(timing: Timing) -> Self {
        let action = |step, compensation| StepDef::action(timing, step, compensation);
        let wait = |step| StepDef::wait(timing, step);
        let steps = vec![
            action(Step::Snapshot, None),
            action(Step::Descope, Some(Compensation::MoveBack)),
            action(Step::SyncOut, None),
            wait(Step::AwaitSoftDelete),
            // Undone by Descope's compensation and the sync after it, which re-link the user.
            action(Step::Restore, None),
            action(
                Step::EnsureLicense,
                Some(Compensation::RemoveTemporaryLicense),
            ),
            wait(Step::AwaitMailbox),
            action(Step::AddAddress, None),
            action(Step::Rescope, None),
            action(Step::SyncIn, None),
            wait(Step::AwaitRematch),
            StepDef {
                settles: Some(Compensation::RemoveTemporaryLicense),
                ..action(Step::DropTemporaryLicense, None)
            },
            // Reads may lag the writes just made [S13]: check until it holds, or the deadline.
            wait(Step::Verify),
        ];
        Self { steps, timing }
    }

    /// The gentler path: no deletion, the user stays synced [S36]; with `back_to_ad`, the
    /// mailbox's Exchange attributes go back to AD once the address is in, and a sync shows
    /// the address stays (domain-2026.md 2.1).
    pub fn cloud_managed(timing: Timing, back_to_ad: bool) -> Self {
        let action = |step, compensation| StepDef::action(timing, step, compensation);
        let mut steps = vec![
            action(Step::Snapshot, None),
            action(Step::SetCloudManaged, Some(Compensation::UnsetCloudManaged)),
            action(Step::AddAddress, None),
        ];
        if back_to_ad {
            steps.extend([
                StepDef {
                    settles: Some(Compensation::UnsetCloudManaged),
                    ..action(Step::HandMailboxBackToAd, None)
                },
                action(Step::SyncIn, None),
            ]);
        }
        steps.push(StepDef::wait(timing, Step::Verify));
        Self { steps, timing }
    }

    /// Microsoft's fix for a missing routing address: stamp it in AD, sync, see it arrive in
    /// Exchange Online. No deletion, no cloud write (domain-2026.md 3.2).
    pub fn on_premises_stamp(timing: Timing) -> Self {
        let action = |step, compensation| StepDef::action(timing, step, compensation);
        let wait = |step| StepDef::wait(timing, step);
        let steps = vec![
            action(Step::Snapshot, None),
            action(Step::StampAddress, Some(Compensation::UnstampAddress)),
            action(Step::SyncStamp, None),
            wait(Step::AwaitAddressInExchange),
            wait(Step::Verify),
        ];
        Self { steps, timing }
    }

    /// Object-level source of authority: the user cloud-managed, the address added in Exchange
    /// Online, and (with `back_to_ad`) the documented rollback under the takeover lease, after
    /// which the address must still be there (domain-2026.md 3.4).
    pub fn user_cloud_managed(timing: Timing, back_to_ad: bool) -> Self {
        let action = |step, compensation| StepDef::action(timing, step, compensation);
        let wait = |step| StepDef::wait(timing, step);
        let mut steps = vec![
            action(Step::Snapshot, None),
            action(Step::HandToCloud, Some(Compensation::HandBackToAd)),
            // Exchange Online lets the mailbox be edited once it sees the change.
            wait(Step::AwaitMailbox),
            action(Step::AddAddress, None),
        ];
        if back_to_ad {
            steps.extend([
                StepDef {
                    compensation: Some(Compensation::ReleaseTakeoverLease),
                    ..wait(Step::HoldTakeoverLease)
                },
                action(Step::HandBackToAd, None),
                action(Step::SyncIn, None),
                StepDef {
                    settles: Some(Compensation::HandBackToAd),
                    ..wait(Step::AwaitRematch)
                },
                StepDef {
                    settles: Some(Compensation::ReleaseTakeoverLease),
                    ..wait(Step::ReleaseTakeoverLease)
                },
                wait(Step::Verify),
            ]);
        } else {
            steps.push(wait(Step::VerifyCloudManaged));
        }
        Self { steps, timing }
    }

    pub fn get(&self, step: Step) -> Option<&StepDef> {
        self.steps.iter().find(|d| d.step == step)
    }

    pub fn after(&self, step: Step) -> Option<&StepDef> {
        let index = self.steps.iter().position(|d| d.step == step)?;
        self.steps.get(index + 1)
    }

    /// What to run after a failure, given the steps completed: their compensations in reverse,
    /// then (if the user was moved in AD) a sync under the takeover lease and a check that it
    /// is back as before.
    pub fn compensations_for(&self, completed: &[Step]) -> Vec<Compensation> {
        let settled: Vec<Compensation> = completed
            .iter()
            .filter_map(|s| self.get(*s)?.settles)
            .collect();
        let mut plan: Vec<Compensation> = completed
            .iter()
            .rev()
            .filter_map(|s| self.get(*s)?.compensation)
            .filter(|c| !settled.contains(c))
            .collect();
        if plan.contains(&Compensation::HandBackToAd) {
            // Back to AD under the lease, whatever the saga held when it failed; the lease is
            // let go once, after the user is back as before.
            return plan
                .into_iter()
                .flat_map(|compensation| match compensation {
                    Compensation::ReleaseTakeoverLease => Vec::new(),
                    Compensation::HandBackToAd => vec![
                        Compensation::HoldTakeoverLease,
                        Compensation::HandBackToAd,
                        Compensation::SyncBack,
                        Compensation::VerifyRestored,
                        Compensation::ReleaseTakeoverLease,
                    ],
                    other => vec![other],
                })
                .collect();
        }
        if plan.contains(&Compensation::MoveBack) {
            // The return is a re-match: should the tenant have blocked cloud-object takeover
            // since the plan was made, the lease lifts it for the cycle (and puts it back), so
            // the user never stays cloud-only; with the block off it only reads it.
            plan.extend([
                Compensation::HoldTakeoverLease,
                Compensation::SyncBack,
                Compensation::VerifyRestored,
                Compensation::ReleaseTakeoverLease,
            ]);
        } else if plan.contains(&Compensation::UnstampAddress) {
            // The removal must reach the cloud too, if the stamp had.
            plan.push(Compensation::SyncBack);
        }
        plan
    }
}
