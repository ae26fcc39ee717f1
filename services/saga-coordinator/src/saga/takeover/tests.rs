//! The lease walked through: shared by many sagas, restored once after the last, never
//! granted during a restore, indifferent to late answers, and a tenant without the block
//! never written.

use std::time::Duration;

use time::macros::datetime;

use super::*;

const NOW: OffsetDateTime = datetime!(2026-12-01 12:00 UTC);

/// Sends whatever the lease asks for and returns its message id.
fn send(lease: &mut Lease, command: Option<SetTakeoverBlock>, id: &str) -> SetTakeoverBlock {
    let command = command.expect("a flag command");
    lease.sent(id.into(), NOW);
    command
}

fn answer(enabled: bool, previous: bool) -> TakeoverBlockSet {
    TakeoverBlockSet { enabled, previous }
}

/// A lease `saga` holds, the flag read as set and its lift sent as `lift`.
fn lifting(saga: SagaId, lift: &str) -> Lease {
    let mut lease = Lease::default();
    let read = lease.apply(saga, LeaseOp::Hold).1;
    send(&mut lease, read, "read");
    let lift_command = lease.answered("read", &answer(true, true));
    assert_eq!(send(&mut lease, lift_command, lift).enabled, Some(false));
    lease
}

#[test]
fn many_sagas_share_one_lift_and_the_last_release_restores() {
    let (a, b) = (SagaId::new(), SagaId::new());
    let mut lease = Lease::default();
    let (heard, read) = lease.apply(a, LeaseOp::Hold);
    assert!(matches!(heard, LeaseAnswer::Waiting(_)));
    assert_eq!(send(&mut lease, read, "read").enabled, None);
    let (heard, nothing) = lease.apply(b, LeaseOp::Hold);
    assert!(matches!(heard, LeaseAnswer::Waiting(_)) && nothing.is_none());
    let lift = lease.answered("read", &answer(true, true));
    assert_eq!(send(&mut lease, lift, "lift").enabled, Some(false));
    assert_eq!(lease.answered("lift", &answer(false, true)), None);
    assert_eq!(lease.window, Window::Open { restore: true });
    assert_eq!(lease.apply(a, LeaseOp::Hold).0, LeaseAnswer::Held);
    assert_eq!(lease.apply(b, LeaseOp::Hold).0, LeaseAnswer::Held);

    assert_eq!(
        lease.apply(a, LeaseOp::Release),
        (LeaseAnswer::Released, None)
    );
    let (heard, restore) = lease.apply(b, LeaseOp::Release);
    assert_eq!(heard, LeaseAnswer::Released);
    assert_eq!(send(&mut lease, restore, "restore").enabled, Some(true));
    // A newcomer waits out the restore rather than hold a window about to close.
    let c = SagaId::new();
    assert!(matches!(
        lease.apply(c, LeaseOp::Hold).0,
        LeaseAnswer::Waiting(_)
    ));
    assert!(!lease.holders.contains(&c));
    assert_eq!(lease.answered("restore", &answer(true, false)), None);
    assert!(lease.is_closed());
}

#[test]
fn a_tenant_without_the_block_is_read_and_never_written() {
    let a = SagaId::new();
    let mut lease = Lease::default();
    let read = lease.apply(a, LeaseOp::Hold).1;
    send(&mut lease, read, "read");
    assert_eq!(lease.answered("read", &answer(false, false)), None);
    assert_eq!(lease.apply(a, LeaseOp::Hold).0, LeaseAnswer::Held);
    assert_eq!(lease.apply(a, LeaseOp::Release).1, None);
    assert!(lease.is_closed());
}

#[test]
fn a_release_while_lifting_restores_once_the_lift_is_confirmed() {
    let a = SagaId::new();
    let mut lease = lifting(a, "lift");
    // The saga fails and lets go before the lift's answer.
    assert_eq!(
        lease.apply(a, LeaseOp::Release),
        (LeaseAnswer::Released, None)
    );
    let restore = lease.answered("lift", &answer(false, true));
    assert_eq!(
        restore,
        Some(SetTakeoverBlock {
            enabled: Some(true)
        })
    );
    assert_eq!(lease.window, Window::Restoring);
}

#[test]
fn late_and_foreign_answers_move_nothing_and_a_lost_one_is_asked_again() {
    let a = SagaId::new();
    let mut lease = lifting(a, "lift-1");
    // The previous window's lift answered late: not this window's word.
    assert_eq!(lease.answered("an-old-lift", &answer(false, true)), None);
    assert_eq!(lease.window, Window::Lifting);
    // No answer in time: the lift again, under a new id; the first copy's answer is then
    // ignored, the second's counts even though it found the flag already off.
    assert_eq!(
        lease.tend(NOW + Duration::from_secs(1), Duration::from_secs(30)),
        None
    );
    let again = lease.tend(NOW + Duration::from_secs(31), Duration::from_secs(30));
    send(&mut lease, again, "lift-2");
    assert_eq!(lease.answered("lift-1", &answer(false, true)), None);
    assert_eq!(lease.window, Window::Lifting);
    lease.answered("lift-2", &answer(false, false));
    assert_eq!(lease.window, Window::Open { restore: true });
}

#[test]
fn an_open_window_nobody_holds_is_closed_by_tending() {
    let mut lease = Lease {
        window: Window::Open { restore: true },
        ..Lease::default()
    };
    let restore = lease.tend(NOW, Duration::from_secs(30));
    assert_eq!(
        restore,
        Some(SetTakeoverBlock {
            enabled: Some(true)
        })
    );
    assert_eq!(lease.window, Window::Restoring);
}

#[test]
fn a_window_whose_holders_all_left_stops_opening_and_undoes_a_lift_that_may_have_landed() {
    let a = SagaId::new();
    let mut lease = lifting(a, "lift");
    // The lift is refused again and again (the app may not write the flag); the saga gives up.
    lease.apply(a, LeaseOp::Release);
    let later = NOW + Duration::from_secs(31);
    let undo = lease.tend(later, Duration::from_secs(30));
    assert_eq!(
        undo,
        Some(SetTakeoverBlock {
            enabled: Some(true)
        })
    );
    assert_eq!(lease.window, Window::Restoring);

    // Still reading when the last holder left: nothing was written, nothing to undo.
    let mut reading = Lease::default();
    let read = reading.apply(a, LeaseOp::Hold).1;
    send(&mut reading, read, "read");
    reading.apply(a, LeaseOp::Release);
    assert_eq!(reading.tend(later, Duration::from_secs(30)), None);
    assert!(reading.is_closed());
}
