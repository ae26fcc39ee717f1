//! The store suite: every test runs on SQLite and on PostgreSQL, each on a database of its own.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use detour_testkit::{TestDatabase, TestSqlite};
use uuid::Uuid;

use super::*;
use crate::saga::{Budgets, Reads, Saga, State, Step, diagnosis::Diagnosis};

/// Keeps the backing database alive for the test's length.
enum Backing {
    Sqlite(TestSqlite),
    Postgres(TestDatabase),
}

impl Backing {
    fn url(&self) -> &str {
        match self {
            Backing::Sqlite(db) => &db.url,
            Backing::Postgres(db) => &db.url,
        }
    }
}

async fn backing(backend: Backend, name: &str) -> Backing {
    match backend {
        Backend::Sqlite => Backing::Sqlite(TestSqlite::create(name).unwrap()),
        Backend::Postgres => Backing::Postgres(TestDatabase::create(name).await.unwrap()),
    }
}

/// Runs each test body once per backend.
macro_rules! on_both_backends {
    ($($name:ident($store:ident, $url:ident) $body:block)*) => {
        mod sqlite {
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let backing = backing(Backend::Sqlite, stringify!($name)).await;
                    super::$name(backing.url()).await;
                }
            )*
        }
        mod postgres {
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let backing = backing(Backend::Postgres, stringify!($name)).await;
                    super::$name(backing.url()).await;
                }
            )*
        }
        $(
            async fn $name($url: &str) {
                let $store = Store::open($url).await.unwrap();
                $body
            }
        )*
    };
}

fn now() -> OffsetDateTime {
    // Whole milliseconds: what the store keeps.
    OffsetDateTime::from_unix_timestamp(1_790_000_000).unwrap()
}

fn record(user: &str, phase: Phase) -> SagaRecord {
    SagaRecord {
        saga_id: SagaId::new(),
        user: user.to_owned(),
        ticket: Some(TicketRef {
            system: detour_contracts::TicketSystem::Jira,
            key: format!("HELP-{}", Uuid::new_v4().simple()),
        }),
        dry_run: false,
        trace_context: BTreeMap::from([(
            "traceparent".to_owned(),
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01".to_owned(),
        )]),
        phase,
        created_at: now(),
    }
}

fn diagnosing() -> Phase {
    Phase::Diagnosing {
        reads: Reads::default(),
    }
}

fn round_trip(state: State) -> Phase {
    crate::saga::remediation::sample_round_trip(Saga {
        state,
        completed: Vec::new(),
    })
}

fn running() -> State {
    State::Running {
        step: Step::Descope,
        attempt: 1,
        deadline: now(),
    }
}

fn command(purpose: Purpose) -> OutboxMessage {
    OutboxMessage {
        message_id: Uuid::now_v7().to_string(),
        purpose: Some(purpose),
        exchange: "detour.commands".into(),
        routing_key: "ad-ops.move-user".into(),
        message_type: "ad-ops.move-user".into(),
        body: "{}".into(),
    }
}

fn create(record: &SagaRecord) -> Commit {
    Commit {
        expected_version: None,
        record: record.clone(),
        inbox: None,
        outbox: Vec::new(),
        timers: Vec::new(),
        fired_timer: None,
        log: vec![LogEntry {
            at: now(),
            kind: "input".into(),
            detail: "requested".into(),
        }],
        lease: None,
    }
}

fn update(record: &SagaRecord, version: i64, inbox: &str) -> Commit {
    Commit {
        expected_version: Some(version),
        inbox: Some(inbox.to_owned()),
        ..create(record)
    }
}

on_both_backends! {
    a_change_is_written_whole_and_read_back_at_its_version(store, _url) {
        let mut saga = record("Ada@Contoso.com", diagnosing());
        assert_eq!(store.commit(&create(&saga)).await.unwrap(), Committed::Applied { version: 1 });
        saga.phase = round_trip(running());
        let purpose = Purpose::Step { step: Step::Descope, attempt: 1 };
        let mut change = update(&saga, 1, "m-1");
        change.outbox.push(command(purpose));
        change.timers.push((now(), Timer::Deadline { step: Step::Descope, attempt: 1 }));
        assert_eq!(store.commit(&change).await.unwrap(), Committed::Applied { version: 2 });

        let loaded = store.load(saga.saga_id).await.unwrap().unwrap();
        assert_eq!((loaded.record, loaded.version), (saga.clone(), 2));
        let pending = store.unpublished(10).await.unwrap();
        assert_eq!(pending.len(), 1);
        assert_eq!(pending[0].trace_context, saga.trace_context);
        assert_eq!(
            store.purpose_of(&pending[0].message.message_id).await.unwrap(),
            Some((saga.saga_id, Some(purpose)))
        );
        assert_eq!(store.timeline(saga.saga_id).await.unwrap().len(), 2);

        // A stale version writes nothing at all.
        let mut stale = update(&saga, 1, "m-2");
        stale.outbox.push(command(purpose));
        assert!(matches!(store.commit(&stale).await, Err(StoreError::Conflict(_))));
        assert_eq!(store.unpublished(10).await.unwrap().len(), 1);
        assert_eq!(store.timeline(saga.saga_id).await.unwrap().len(), 2);
    }

    a_message_taken_in_twice_changes_nothing_the_second_time(store, _url) {
        let saga = record("bob@contoso.com", diagnosing());
        store.commit(&create(&saga)).await.unwrap();
        let mut first = update(&saga, 1, "answer-1");
        first.outbox.push(command(Purpose::Step { step: Step::Snapshot, attempt: 1 }));
        assert_eq!(store.commit(&first).await.unwrap(), Committed::Applied { version: 2 });
        let mut again = update(&saga, 2, "answer-1");
        again.outbox.push(command(Purpose::Step { step: Step::Snapshot, attempt: 1 }));
        assert_eq!(store.commit(&again).await.unwrap(), Committed::Duplicate);
        assert_eq!(store.load(saga.saga_id).await.unwrap().unwrap().version, 2);
        assert_eq!(store.unpublished(10).await.unwrap().len(), 1);
    }

    a_user_has_one_active_remediation_at_a_time(store, _url) {
        let first = record("carol@contoso.com", diagnosing());
        store.commit(&create(&first)).await.unwrap();
        let second = record("CAROL@contoso.com", diagnosing());
        assert_eq!(
            store.commit(&create(&second)).await.unwrap(),
            Committed::UserTaken { existing: first.saga_id }
        );
        assert!(store.load(second.saga_id).await.unwrap().is_none());
        // A dry run holds nobody.
        let mut dry = record("carol@contoso.com", diagnosing());
        dry.dry_run = true;
        assert_eq!(store.commit(&create(&dry)).await.unwrap(), Committed::Applied { version: 1 });
        // Once the first ends, the user is free.
        let mut ended = first.clone();
        ended.phase = round_trip(State::Completed);
        store.commit(&update(&ended, 1, "end")).await.unwrap();
        assert_eq!(store.active_for("carol@contoso.com").await.unwrap(), None);
        let third = record("carol@contoso.com", diagnosing());
        assert_eq!(store.commit(&create(&third)).await.unwrap(), Committed::Applied { version: 1 });
        assert_eq!(store.active_for("Carol@Contoso.com").await.unwrap(), Some(third.saga_id));
    }

    timers_come_due_in_order_and_go_with_the_change_they_cause(store, _url) {
        let saga = record("dan@contoso.com", round_trip(running()));
        let mut change = create(&saga);
        let late = Timer::Deadline { step: Step::Descope, attempt: 1 };
        let soon = Timer::Poll { step: Step::Descope, attempt: 1 };
        change.timers = vec![
            (now() + time::Duration::seconds(60), late.clone()),
            (now(), soon.clone()),
        ];
        store.commit(&change).await.unwrap();
        assert!(store.due_timers(now() - time::Duration::seconds(1), 10).await.unwrap().is_empty());
        let due = store.due_timers(now() + time::Duration::seconds(61), 10).await.unwrap();
        assert_eq!(due.iter().map(|t| t.timer.clone()).collect::<Vec<_>>(), vec![soon, late.clone()]);
        let mut fired = update(&saga, 1, &format!("timer:{}", due[0].timer_id));
        fired.fired_timer = Some(due[0].timer_id.clone());
        store.commit(&fired).await.unwrap();
        let left = store.due_timers(now() + time::Duration::seconds(61), 10).await.unwrap();
        assert_eq!(left.len(), 1);
        assert_eq!(left[0].saga_id, saga.saga_id);
        // The same timer for a later time (the next rung's own deadline) is a timer of its
        // own, with an inbox id of its own; the same timer for the same time is one row.
        let mut next_rung = update(&saga, 2, "m-next-rung");
        let later = now() + time::Duration::seconds(120);
        next_rung.timers = vec![(later, late.clone()), (later, late.clone())];
        store.commit(&next_rung).await.unwrap();
        let both = store.due_timers(later, 10).await.unwrap();
        assert_eq!(both.len(), 2, "{both:?}");
        assert_ne!(both[0].timer_id, both[1].timer_id);
    }

    the_outbox_is_published_in_order_and_marked(store, _url) {
        let saga = record("erin@contoso.com", diagnosing());
        let mut change = create(&saga);
        change.outbox = (1..=3)
            .map(|attempt| command(Purpose::Step { step: Step::Verify, attempt }))
            .collect();
        store.commit(&change).await.unwrap();
        let pending = store.unpublished(10).await.unwrap();
        let attempts: Vec<_> = pending
            .iter()
            .map(|p| match p.message.purpose {
                Some(Purpose::Step { attempt, .. }) => attempt,
                _ => 0,
            })
            .collect();
        assert_eq!(attempts, vec![1, 2, 3]);
        store.mark_published(&[pending[0].seq]).await.unwrap();
        assert_eq!(store.unpublished(10).await.unwrap().len(), 2);
        assert!(store.purpose_of("no-such-message").await.unwrap().is_none());
    }

    lists_filter_and_admission_sees_slots_and_the_line(store, _url) {
        let holding = record("f1@contoso.com", round_trip(running()));
        let done = record("f2@contoso.com", round_trip(State::Completed));
        let mut queued = Vec::new();
        for (i, user) in ["q1@contoso.com", "q2@contoso.com"].into_iter().enumerate() {
            let mut r = record(user, Phase::Diagnosed {
                diagnosis: Diagnosis::NothingToDo { address: detour_contracts::ProxyAddress::parse("x@contoso.com").unwrap() },
            });
            r.created_at = now() + time::Duration::seconds(i as i64);
            if let Phase::Running { plan, facts, .. } = round_trip(running()) {
                r.phase = Phase::Queued { plan, facts };
            }
            queued.push(r);
        }
        for r in [&holding, &done, &queued[1], &queued[0]] {
            store.commit(&create(r)).await.unwrap();
        }
        // One slot held: with two in all, the oldest of the line may go; with three, both.
        let slots = |max_descoped| Budgets { max_descoped, max_diagnosing: 1 };
        let ids = |line: Vec<(SagaId, String, i64)>| line.into_iter().map(|(id, _, _)| id).collect::<Vec<_>>();
        assert_eq!(
            store.admissible(slots(2)).await.unwrap(),
            vec![(queued[0].saga_id, "queued".to_owned(), 1)]
        );
        assert_eq!(ids(store.admissible(slots(3)).await.unwrap()), vec![queued[0].saga_id, queued[1].saga_id]);
        assert!(store.admissible(slots(1)).await.unwrap().is_empty());

        let running = store.list(&Filter { status: Some("running".into()), ..Filter::default() }).await.unwrap();
        assert_eq!(running.iter().map(|s| s.saga_id).collect::<Vec<_>>(), vec![holding.saga_id]);
        let by_user = store.list(&Filter { user: Some("F2@contoso.com".into()), ..Filter::default() }).await.unwrap();
        assert_eq!(by_user[0].status, "completed");
        let ticket = done.ticket.as_ref().unwrap().to_string();
        let by_ticket = store.list(&Filter { ticket: Some(ticket), ..Filter::default() }).await.unwrap();
        assert_eq!(by_ticket.len(), 1);
        assert_eq!(store.list(&Filter::default()).await.unwrap().len(), 4);
        let counts = store.counts().await.unwrap();
        assert_eq!(
            counts,
            BTreeMap::from([
                ("completed".to_owned(), 1),
                ("queued".to_owned(), 2),
                ("running".to_owned(), 1),
            ])
        );
    }

    requested_remediations_diagnose_while_diagnosis_slots_are_free(store, _url) {
        store.commit(&create(&record("d1@contoso.com", diagnosing()))).await.unwrap();
        let mut requested = Vec::new();
        for i in 0..3 {
            let mut r = record(&format!("r{i}@contoso.com"), Phase::Requested { user: format!("r{i}@contoso.com"), earlier: None });
            r.created_at = now() + time::Duration::seconds(i);
            store.commit(&create(&r)).await.unwrap();
            requested.push(r.saga_id);
        }
        let readers = |max_diagnosing| Budgets { max_descoped: 1, max_diagnosing };
        assert!(store.admissible(readers(1)).await.unwrap().is_empty(), "the one slot is taken");
        let ids = |line: Vec<(SagaId, String, i64)>| line.into_iter().map(|(id, _, _)| id).collect::<Vec<_>>();
        assert_eq!(ids(store.admissible(readers(3)).await.unwrap()), requested[..2].to_vec());
        assert_eq!(
            store.admissible(readers(64)).await.unwrap().last(),
            Some(&(requested[2], "requested".to_owned(), 1))
        );
        assert_eq!(ids(store.admissible(readers(64)).await.unwrap()), requested);
    }

    two_replicas_racing_on_one_saga_write_it_once(store, url) {
        let other = Store::open(url).await.unwrap();
        let saga = record("gus@contoso.com", diagnosing());
        store.commit(&create(&saga)).await.unwrap();
        for round in 1..=10i64 {
            let mut mine = update(&saga, round, &format!("a-{round}"));
            mine.outbox.push(command(Purpose::Step { step: Step::Verify, attempt: 1 }));
            let mut theirs = update(&saga, round, &format!("b-{round}"));
            theirs.outbox.push(command(Purpose::Step { step: Step::Verify, attempt: 2 }));
            let (a, b) = tokio::join!(store.commit(&mine), other.commit(&theirs));
            let applied = [&a, &b].iter().filter(|r| matches!(r, Ok(Committed::Applied { .. }))).count();
            let conflicts = [&a, &b].iter().filter(|r| matches!(r, Err(StoreError::Conflict(_)))).count();
            assert_eq!((applied, conflicts), (1, 1), "round {round}: {a:?} {b:?}");
        }
        assert_eq!(store.load(saga.saga_id).await.unwrap().unwrap().version, 11);
        assert_eq!(store.unpublished(100).await.unwrap().len(), 10);
    }

    what_was_written_survives_a_reopen(store, url) {
        let saga = record("hal@contoso.com", round_trip(running()));
        store.commit(&create(&saga)).await.unwrap();
        drop(store);
        let reopened = Store::open(url).await.unwrap();
        assert_eq!(reopened.load(saga.saga_id).await.unwrap().unwrap().record, saga);
    }

    the_takeover_lease_is_written_under_its_version_and_an_answer_moves_it_once(store, _url) {
        use crate::saga::takeover::{Lease, Window};
        let (lease, version) = store.lease().await.unwrap();
        assert_eq!((lease.clone(), version), (Lease::default(), 0));
        let mut held = lease.clone();
        held.holders.insert(SagaId::new());
        held.window = Window::Reading;
        let write = LeaseWrite { expected_version: 0, lease: held.clone() };
        assert!(store.commit_lease(None, &write, SagaId::new(), &[]).await.unwrap());
        // A second writer that read version 0 lost the race.
        assert!(matches!(
            store.commit_lease(None, &write, SagaId::new(), &[]).await,
            Err(StoreError::LeaseConflict)
        ));
        assert_eq!(store.lease().await.unwrap(), (held.clone(), 1));
        let open = LeaseWrite {
            expected_version: 1,
            lease: Lease { window: Window::Open { restore: true }, ..held },
        };
        assert!(store.commit_lease(Some("answer-1"), &open, SagaId::new(), &[]).await.unwrap());
        // The same answer again is a redelivery: nothing is written.
        let again = LeaseWrite { expected_version: 2, ..open.clone() };
        assert!(!store.commit_lease(Some("answer-1"), &again, SagaId::new(), &[]).await.unwrap());
        assert_eq!(store.lease().await.unwrap().1, 2);
    }
}
