//! A remediation's life around the saga, driven with hand-built answers.

use std::time::Duration;

use detour_contracts::{
    ad_ops::{AdFailureKind, AdOpsCommandFailed, UserFound, UserMoved},
    cloud_directory::{AddressHolder, AddressHoldersFound, CloudUserRead},
    mailbox_ops::{AcceptedDomainsRead, MailboxRead},
};

use super::*;
use crate::saga::PlanHash;
use crate::saga::diagnosis::{Facts, Refusal, SAMPLE_SKU, sample_facts};

fn policy(approval_required: bool) -> Policy {
    Policy {
        coexistence_domain: "contoso.mail.onmicrosoft.com".into(),
        parking_ou: "OU=Parked,DC=corp".parse().unwrap(),
        parking_ou_in_scope: false,
        temporary_sku: SAMPLE_SKU,
        default_usage_location: None,
        strategies: Strategy::LADDER.to_vec(),
        return_user_to_ad: true,
        return_mailbox_to_ad: false,
        approval_required,
        timing: Timing {
            action_deadline: Duration::from_secs(60),
            poll_every: Duration::from_secs(5),
            wait_deadline: Duration::from_secs(600),
            compensation_attempts: 3,
            compensation_backoff: Duration::from_secs(1),
        },
    }
}

fn now() -> OffsetDateTime {
    OffsetDateTime::UNIX_EPOCH + time::Duration::days(20_000)
}

/// What each read answers for the sample user.
fn answer(read: Read, facts: &Facts) -> StepEvent {
    match read {
        Read::AdUser => StepEvent::UserFound(UserFound {
            snapshot: facts.ad.clone(),
        }),
        Read::CloudUser => StepEvent::CloudUserRead(CloudUserRead {
            requested: "ada@contoso.com".into(),
            user: facts.cloud.clone(),
        }),
        Read::Mailbox => StepEvent::MailboxRead(MailboxRead {
            identity: "ada@contoso.com".into(),
            mailbox: facts.mailbox.clone(),
        }),
        Read::Tenant => StepEvent::TenantRead(facts.tenant.clone()),
        Read::Connect => StepEvent::ConnectStateRead(facts.connect.clone()),
        Read::AcceptedDomains => StepEvent::AcceptedDomainsRead(AcceptedDomainsRead {
            domains: facts.accepted_domains.clone(),
        }),
        Read::AddressHolders => StepEvent::AddressHoldersFound(AddressHoldersFound {
            address: "smtp:ada@contoso.mail.onmicrosoft.com".into(),
            holders: facts
                .address_holder
                .iter()
                .map(|upn| AddressHolder {
                    id: Uuid::from_u128(0xBAD),
                    user_principal_name: upn.clone(),
                    soft_deleted: false,
                })
                .collect(),
        }),
    }
}

fn diagnose_with(policy: &Policy, facts: &Facts, dry_run: bool) -> Advance {
    let started = begin(policy, "ada@contoso.com", None, now());
    let reads: Vec<Read> = started
        .sends
        .iter()
        .map(|(purpose, _)| match purpose {
            Purpose::Read { read, round: 0 } => *read,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(reads, Read::FIRST, "every read is asked for at once");
    let mut last = started;
    let mut pending = reads;
    while let Some(read) = pending.pop() {
        let event = Event::Answered {
            purpose: Purpose::Read { read, round: 0 },
            answer: answer(read, facts),
        };
        last = advance(policy, &last.next, dry_run, &event, now());
        // The cloud user's answer leads to one more read: who else holds the address.
        for (purpose, command) in &last.sends {
            match (purpose, command) {
                (
                    Purpose::Read {
                        read: Read::AddressHolders,
                        round: 0,
                    },
                    StepCommand::FindAddressHolders(find),
                ) => {
                    assert_eq!(find.address, "smtp:ada@contoso.mail.onmicrosoft.com");
                    pending.insert(0, Read::AddressHolders);
                }
                other => panic!("reads change nothing, but sent {other:?}"),
            }
        }
    }
    last
}

#[test]
fn the_seeds_user_is_diagnosed_queued_and_started_at_its_snapshot() {
    let policy = policy(false);
    let diagnosed = diagnose_with(&policy, &sample_facts(), false);
    let Phase::Queued { plan, facts } = &diagnosed.next else {
        panic!("{:?}", diagnosed.next)
    };
    assert_eq!(plan.strategy, Strategy::RoundTrip);
    assert_eq!(facts.parking_ou, policy.parking_ou);
    assert_eq!(facts.original_dn.to_string(), "CN=Ada,OU=Staff,DC=corp");
    assert_eq!(
        facts.address.to_string(),
        "smtp:ada@contoso.mail.onmicrosoft.com"
    );

    let started = advance(&policy, &diagnosed.next, false, &Event::Admitted, now());
    assert_eq!(started.next.status(), "running");
    assert_eq!(
        started.sends,
        vec![(
            Purpose::Step {
                step: Step::Snapshot,
                attempt: 1
            },
            step_command(Step::Snapshot, facts, now())
        )]
    );
    assert_eq!(started.timers.len(), 1, "the step's deadline");

    // Snapshot's answer moves the saga to Descope, which parks the user.
    let snapshot = Event::Answered {
        purpose: Purpose::Step {
            step: Step::Snapshot,
            attempt: 1,
        },
        answer: answer(Read::AdUser, &sample_facts()),
    };
    // The descope is fenced on the uSNChanged the snapshot just read.
    let descoping = advance(&policy, &started.next, false, &snapshot, now());
    let fenced = SagaFacts {
        snapshot_usn: Some(4711),
        ..facts.clone()
    };
    assert_eq!(
        descoping.sends[0].1,
        step_command(Step::Descope, &fenced, now()),
        "{descoping:?}"
    );
    // The same answer again is stale: nothing happens.
    let again = advance(&policy, &descoping.next, false, &snapshot, now());
    assert_eq!(again, Advance::unchanged(&descoping.next));
}

#[test]
fn a_dry_run_ends_with_the_plan_and_sends_nothing() {
    let diagnosed = diagnose_with(&policy(false), &sample_facts(), true);
    assert_eq!(diagnosed.next.status(), "planned");
    assert!(diagnosed.next.is_over());
    assert!(
        diagnosed
            .note
            .as_deref()
            .is_some_and(|n| n.contains("plan"))
    );
}

#[test]
fn a_user_with_the_address_needs_nothing_and_a_risky_one_is_refused() {
    let mut fine = sample_facts();
    if let Some(mailbox) = fine.mailbox.as_mut() {
        mailbox
            .email_addresses
            .push("smtp:ada@contoso.mail.onmicrosoft.com".into());
    }
    assert_eq!(
        diagnose_with(&policy(false), &fine, false).next.status(),
        "nothing-to-do"
    );
    let mut admin = sample_facts();
    if let Some(cloud) = admin.cloud.as_mut() {
        cloud.admin_roles = Some(vec!["Global Administrator".into()]);
    }
    let refused = diagnose_with(&policy(false), &admin, false);
    assert_eq!(refused.next.status(), "refused");
    assert!(refused.next.is_over());

    // Another object already holds the address: adding it would conflict.
    let mut taken = sample_facts();
    taken.address_holder = Some("impostor@contoso.com".into());
    let Phase::Diagnosed {
        diagnosis: Diagnosis::Refused { refusal, detail },
    } = diagnose_with(&policy(false), &taken, false).next
    else {
        panic!("an address held elsewhere is refused")
    };
    assert_eq!(refusal, Refusal::AddressHeldElsewhere);
    assert!(detail.contains("impostor@contoso.com"), "{detail}");

    // Without a usage location of its own or a default, the temporary licence cannot go on.
    let mut nowhere = sample_facts();
    if let Some(cloud) = nowhere.cloud.as_mut() {
        cloud.usage_location = None;
    }
    assert_eq!(
        diagnose_with(&policy(false), &nowhere, false).next.status(),
        "refused"
    );
    let with_default = Policy {
        default_usage_location: Some("PL".into()),
        ..policy(false)
    };
    let Phase::Queued { facts, .. } = diagnose_with(&with_default, &nowhere, false).next else {
        panic!("a default usage location lets it go on")
    };
    assert_eq!(facts.usage_location.as_deref(), Some("PL"));
}

#[test]
fn reads_that_never_come_end_the_diagnosis_at_its_deadline() {
    let policy = policy(false);
    let started = begin(&policy, "ada@contoso.com", None, now());
    let deadline = &started.timers[0];
    assert_eq!(deadline.timer, Timer::DiagnosisDeadline);
    let answered = Event::Answered {
        purpose: Purpose::Read {
            read: Read::Tenant,
            round: 0,
        },
        answer: answer(Read::Tenant, &sample_facts()),
    };
    let waiting = advance(&policy, &started.next, false, &answered, now());
    let timeout = Event::Saga(Input::Timer(Timer::DiagnosisDeadline));
    let ended = advance(&policy, &waiting.next, false, &timeout, deadline.at);
    let Phase::Undiagnosable { reason } = &ended.next else {
        panic!("{:?}", ended.next)
    };
    assert!(
        reason.contains("AdUser, CloudUser, Mailbox, Connect, AcceptedDomains, AddressHolders"),
        "{reason}"
    );
    // Once diagnosed, the deadline is stale.
    let diagnosed = diagnose_with(&policy, &sample_facts(), false);
    assert_eq!(
        advance(&policy, &diagnosed.next, false, &timeout, deadline.at),
        Advance::unchanged(&diagnosed.next)
    );
}

#[test]
fn the_moeras_own_diagnosis_takes_neither_the_first_ones_late_answers_nor_its_deadline() {
    let policy = policy(false);
    let first = begin(&policy, "ada@contoso.com", None, now());
    let first_deadline = first.timers[0].at;
    // The routing address went on quickly; the MOERA's diagnosis starts before the first
    // diagnosis's deadline has come.
    let requested = Phase::Requested {
        user: "ada@contoso.com".into(),
        earlier: Some(ProxyAddress::parse("smtp:ada@contoso.mail.onmicrosoft.com").unwrap()),
    };
    let later = now() + time::Duration::seconds(10);
    let second = advance(&policy, &requested, false, &Event::Admitted, later);
    assert!(
        second
            .sends
            .iter()
            .all(|(purpose, _)| matches!(purpose, Purpose::Read { round: 1, .. })),
        "{:?}",
        second.sends
    );
    let timeout = Event::Saga(Input::Timer(Timer::DiagnosisDeadline));
    assert_eq!(
        advance(&policy, &second.next, false, &timeout, first_deadline),
        Advance::unchanged(&second.next),
        "the first diagnosis's deadline"
    );
    let stale = |answer| Event::Answered {
        purpose: Purpose::Read {
            read: Read::AdUser,
            round: 0,
        },
        answer,
    };
    let before_the_fix = stale(answer(Read::AdUser, &sample_facts()));
    let failed_then = stale(StepEvent::AdFailed(AdOpsCommandFailed {
        command: "find-user".into(),
        kind: AdFailureKind::NotFound,
        reason: "the first diagnosis's copy".into(),
    }));
    for late in [&before_the_fix, &failed_then] {
        assert_eq!(
            advance(&policy, &second.next, false, late, later),
            Advance::unchanged(&second.next),
            "{late:?}"
        );
    }
    let own = Event::Answered {
        purpose: Purpose::Read {
            read: Read::AdUser,
            round: 1,
        },
        answer: answer(Read::AdUser, &sample_facts()),
    };
    let Phase::Diagnosing { reads } = advance(&policy, &second.next, false, &own, later).next
    else {
        panic!("its own answer is gathered")
    };
    assert!(reads.ad.is_some());
    let ended = advance(&policy, &second.next, false, &timeout, second.timers[0].at);
    assert_eq!(ended.next.status(), "undiagnosable", "its own deadline");
}

#[test]
fn reads_and_purposes_stored_before_rounds_were_kept_still_load() {
    let purpose = Purpose::Read {
        read: Read::AdUser,
        round: 0,
    };
    let mut stored = serde_json::to_value(purpose).unwrap();
    stored.as_object_mut().unwrap().remove("round");
    assert_eq!(serde_json::from_value::<Purpose>(stored).unwrap(), purpose);
    let Phase::Diagnosing { reads } = begin(&policy(false), "ada@contoso.com", None, now()).next
    else {
        panic!("diagnosing")
    };
    let mut stored = serde_json::to_value(&reads).unwrap();
    stored.as_object_mut().unwrap().remove("deadline");
    let loaded: Reads = serde_json::from_value(stored).unwrap();
    assert_eq!((loaded.deadline, loaded.round()), (None, 0));
}

#[test]
fn a_failed_read_ends_the_remediation_before_anything_changes() {
    let started = begin(&policy(false), "ghost@contoso.com", None, now());
    let failed = Event::Answered {
        purpose: Purpose::Read {
            read: Read::AdUser,
            round: 0,
        },
        answer: StepEvent::AdFailed(AdOpsCommandFailed {
            command: "find-user".into(),
            kind: AdFailureKind::NotFound,
            reason: "no user ghost@contoso.com".into(),
        }),
    };
    let ended = advance(&policy(false), &started.next, false, &failed, now());
    let Phase::Undiagnosable { reason } = &ended.next else {
        panic!("{:?}", ended.next)
    };
    assert!(reason.contains("no user ghost"), "{reason}");
    assert!(ended.sends.is_empty());
}

#[test]
fn with_approvals_required_the_saga_waits_for_its_own_plan() {
    let policy = policy(true);
    let diagnosed = diagnose_with(&policy, &sample_facts(), false);
    let Phase::Queued { plan, .. } = &diagnosed.next else {
        panic!()
    };
    let hash = plan.hash();
    let held = advance(&policy, &diagnosed.next, false, &Event::Admitted, now());
    assert_eq!(held.next.status(), "awaiting-approval");
    assert!(held.sends.is_empty());
    let wrong = Event::Saga(Input::Approve {
        plan_hash: PlanHash::of("0000"),
    });
    assert!(
        advance(&policy, &held.next, false, &wrong, now())
            .sends
            .is_empty()
    );
    let right = Event::Saga(Input::Approve { plan_hash: hash });
    let running = advance(&policy, &held.next, false, &right, now());
    assert_eq!(running.next.status(), "running");
    assert_eq!(running.sends.len(), 1);
}

#[test]
fn a_compensation_that_finds_the_user_not_back_yet_counts_as_a_failed_attempt() {
    let policy = policy(false);
    let diagnosed = diagnose_with(&policy, &sample_facts(), false);
    let mut phase = advance(&policy, &diagnosed.next, false, &Event::Admitted, now()).next;
    let done = |step| Event::Saga(Input::StepDone { step, attempt: 1 });
    for step in [Step::Snapshot, Step::Descope] {
        phase = advance(&policy, &phase, false, &done(step), now()).next;
    }
    let moved = UserMoved {
        object_guid: sample_facts().ad.object_guid,
        from: "CN=Ada,OU=Parked,DC=corp".parse().unwrap(),
        to: "CN=Ada,OU=Staff,DC=corp".parse().unwrap(),
        already_there: false,
    };
    let failing = Event::Undeliverable {
        purpose: Purpose::Step {
            step: Step::SyncOut,
            attempt: 1,
        },
        reason: "dead-lettered".into(),
    };
    let compensating = advance(&policy, &phase, false, &failing, now());
    assert_eq!(compensating.next.status(), "compensating");
    // MoveBack answered, then SyncBack, then VerifyRestored finds the user unsynced.
    let mut phase = advance(
        &policy,
        &compensating.next,
        false,
        &Event::Answered {
            purpose: Purpose::Compensation {
                index: 0,
                attempt: 1,
            },
            answer: StepEvent::UserMoved(moved),
        },
        now(),
    )
    .next;
    phase = advance(
        &policy,
        &phase,
        false,
        &Event::Saga(Input::CompensationDone {
            index: 1,
            attempt: 1,
        }),
        now(),
    )
    .next;
    let unsynced = Event::Answered {
        purpose: Purpose::Compensation {
            index: 2,
            attempt: 1,
        },
        answer: StepEvent::CloudUserRead(CloudUserRead {
            requested: "x".into(),
            user: None,
        }),
    };
    let retrying = advance(&policy, &phase, false, &unsynced, now());
    assert_eq!(retrying.next.status(), "compensating");
    assert_eq!(retrying.timers.len(), 1, "a retry after a pause");
    // An answer for an index the plan does not have is stale.
    let bogus = Event::Answered {
        purpose: Purpose::Compensation {
            index: 9,
            attempt: 1,
        },
        answer: StepEvent::CloudUserRead(CloudUserRead {
            requested: "x".into(),
            user: None,
        }),
    };
    assert_eq!(
        advance(&policy, &retrying.next, false, &bogus, now()),
        Advance::unchanged(&retrying.next)
    );
}

#[test]
fn an_answer_of_none_survives_the_store() {
    let answered_none = Reads {
        cloud: Some(None),
        mailbox: Some(None),
        ..Reads::default()
    };
    let unanswered = Reads::default();
    for reads in [answered_none, unanswered] {
        let json = serde_json::to_string(&reads).unwrap();
        let back: Reads = serde_json::from_str(&json).unwrap();
        assert_eq!(back, reads, "{json}");
    }
}

#[test]
fn a_parking_ou_that_connect_syncs_is_refused() {
    let mut facts = sample_facts();
    facts.connect.included_containers = vec!["DC=Corp".parse().unwrap()];
    let refused = diagnose_with(&policy(false), &facts, false);
    let Phase::Diagnosed {
        diagnosis: Diagnosis::Refused { refusal, .. },
    } = refused.next
    else {
        panic!("{:?}", refused.next)
    };
    assert_eq!(refusal, Refusal::ParkingOuInScope);
    facts.connect.included_containers = vec![
        "OU=Staff,DC=corp".parse().unwrap(),
        "OU=Parkedx,DC=corp".parse().unwrap(),
    ];
    assert_eq!(
        diagnose_with(&policy(false), &facts, false).next.status(),
        "queued"
    );
}

#[test]
fn a_round_trip_may_hold_the_takeover_lease_only_while_it_undoes() {
    let at = |state| {
        sample_round_trip(Saga {
            state,
            completed: Vec::new(),
        })
    };
    let running = at(State::Running {
        step: Step::SyncIn,
        attempt: 1,
        deadline: now(),
    });
    assert!(
        !running.may_hold_takeover_lease(),
        "its completion never reads the lease"
    );
    let undoing = at(State::Compensating {
        plan: vec![crate::saga::Compensation::HoldTakeoverLease],
        index: 0,
        attempt: 1,
        reason: "SyncIn failed".into(),
        deadline: None,
    });
    assert!(undoing.may_hold_takeover_lease());
    assert!(!at(State::Completed).may_hold_takeover_lease());
}
