//! Admission: at most `max_descoped` users out of sync scope at once, kept below Connect's
//! accidental-delete threshold (500 by default [S19]) so a burst of remediations can never trip
//! it. A round trip holds a slot from admission until its user is back at its own DN
//! ([`Phase::holds_descope_slot`]), so batches overlap: the next batch's descope rides the same
//! cycle as the previous batch's return. One active saga per user is the store's unique index.
//! Pure: phases in, verdicts out.

use super::remediation::Phase;

/// Connect stops an export that deletes more than this by default [S19].
pub const CONNECT_DELETION_THRESHOLD: usize = 500;
/// Detour's default ceiling, with room below the threshold for deletions it does not cause.
pub const DEFAULT_MAX_DESCOPED: usize = 400;
const _: () = assert!(DEFAULT_MAX_DESCOPED < CONNECT_DELETION_THRESHOLD);
/// Remediations diagnosing at once by default: enough to keep cloud-directory's Graph calls
/// busy (8 at a time, each ~3 reads per user), few enough that a step waits behind seconds of
/// reads, not minutes.
pub const DEFAULT_MAX_DIAGNOSING: usize = 64;

/// How many remediations may be out of scope, and how many diagnosing, at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budgets {
    pub max_descoped: usize,
    pub max_diagnosing: usize,
}

/// Whether a change from `before` to `after` calls for an admission pass: it freed a descope
/// or diagnosis slot, or a remediation joined a line. Any other change leaves admission as it
/// was, so a pass costs nothing on the events that make up most of a saga's life.
pub fn admission_due(before: &Phase, after: &Phase) -> bool {
    let freed = before.holds_descope_slot() && !after.holds_descope_slot();
    let diagnosed = is_diagnosing(before) && !is_diagnosing(after);
    let joined = |line: fn(&Phase) -> bool| line(after) && !line(before);
    freed || diagnosed || joined(is_queued) || joined(is_requested)
}

fn is_diagnosing(phase: &Phase) -> bool {
    matches!(phase, Phase::Diagnosing { .. })
}

fn is_queued(phase: &Phase) -> bool {
    matches!(phase, Phase::Queued { .. })
}

fn is_requested(phase: &Phase) -> bool {
    matches!(phase, Phase::Requested { .. })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::saga::{
        Compensation, Saga, State, Step,
        remediation::{Phase, Reads, sample_round_trip},
    };

    fn round_trip(state: State, completed: &[Step]) -> Phase {
        sample_round_trip(Saga {
            state,
            completed: completed.to_vec(),
        })
    }

    fn running(step: Step) -> State {
        State::Running {
            step,
            attempt: 1,
            deadline: time::OffsetDateTime::UNIX_EPOCH,
        }
    }

    #[test]
    fn a_round_trip_holds_its_slot_until_its_user_is_back_at_its_dn() {
        let out = [Step::Snapshot, Step::Descope, Step::SyncOut];
        assert!(round_trip(State::New { approval: None }, &[]).holds_descope_slot());
        assert!(round_trip(running(Step::Restore), &out).holds_descope_slot());
        let back = [Step::Snapshot, Step::Descope, Step::SyncOut, Step::Rescope];
        assert!(!round_trip(running(Step::SyncIn), &back).holds_descope_slot());
        assert!(!round_trip(State::Completed, &back).holds_descope_slot());

        // Undoing: held while moving back is still ahead, free once it is done.
        let plan = vec![
            Compensation::RemoveTemporaryLicense,
            Compensation::MoveBack,
            Compensation::SyncBack,
        ];
        let undoing = |index| State::Compensating {
            plan: plan.clone(),
            index,
            attempt: 1,
            reason: "restore failed".into(),
            deadline: None,
        };
        assert!(round_trip(undoing(1), &out).holds_descope_slot());
        assert!(!round_trip(undoing(2), &out).holds_descope_slot());
        let stuck = State::NeedsAttention {
            plan: plan.clone(),
            index: 1,
            attempt: 5,
            reason: "cannot move back".into(),
        };
        assert!(
            round_trip(stuck, &out).holds_descope_slot(),
            "still out of scope"
        );
    }

    #[test]
    fn a_pass_is_due_when_a_slot_frees_or_the_line_grows_and_not_otherwise() {
        let out = [Step::Snapshot, Step::Descope];
        let back = [Step::Snapshot, Step::Descope, Step::Rescope];
        let before = round_trip(running(Step::Rescope), &out);
        assert!(admission_due(
            &before,
            &round_trip(running(Step::SyncIn), &back)
        ));
        assert!(!admission_due(
            &round_trip(running(Step::SyncOut), &out),
            &round_trip(running(Step::AwaitSoftDelete), &out)
        ));
        let diagnosing = Phase::Diagnosing {
            reads: Reads::default(),
        };
        let Phase::Running { plan, facts, .. } = before else {
            unreachable!()
        };
        let queued = Phase::Queued { plan, facts };
        assert!(admission_due(&diagnosing, &queued));
        assert!(!admission_due(&queued, &queued));

        let requested = Phase::Requested {
            user: "ada@contoso.com".into(),
            earlier: None,
        };
        let undiagnosable = Phase::Undiagnosable {
            reason: "no answer".into(),
        };
        assert!(!admission_due(&requested, &requested));
        assert!(!admission_due(&requested, &diagnosing), "took a slot");
        assert!(
            admission_due(&diagnosing, &undiagnosable),
            "a diagnosis slot freed"
        );
    }
}
