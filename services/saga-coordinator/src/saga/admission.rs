//! Admission: one active saga per user, and at most `max_descoped` users out of sync scope at
//! once, kept below Connect's accidental-delete threshold (500 by default [S19]) so a burst of
//! remediations can never trip it. Pure: the active sagas come in, a verdict goes out.

use detour_contracts::SagaId;

use super::diagnosis::Strategy;

/// Connect stops an export that deletes more than this by default [S19].
pub const CONNECT_DELETION_THRESHOLD: usize = 500;
/// Detour's default ceiling, with room below the threshold for deletions it does not cause.
pub const DEFAULT_MAX_DESCOPED: usize = 400;
const _: () = assert!(DEFAULT_MAX_DESCOPED < CONNECT_DELETION_THRESHOLD);

/// A saga that has not ended, as admission sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActiveSaga {
    pub saga_id: SagaId,
    /// The user's UPN; compared case-insensitively.
    pub user: String,
    pub strategy: Strategy,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    Start,
    /// The user already has a saga: this request joins it.
    Join {
        existing: SagaId,
    },
    /// No descope slot free (or others wait already): wait in line at this position (1-based).
    Wait {
        position: usize,
    },
}

/// Decides what happens to a new request for `user`. `waiting` is how many round trips already
/// wait in line: they go first, so the line stays fair.
pub fn admit(
    active: &[ActiveSaga],
    waiting: usize,
    user: &str,
    strategy: Strategy,
    max_descoped: usize,
) -> Admission {
    if let Some(existing) = active.iter().find(|s| s.user.eq_ignore_ascii_case(user)) {
        return Admission::Join {
            existing: existing.saga_id,
        };
    }
    if strategy == Strategy::CloudManaged {
        return Admission::Start;
    }
    // Every round trip not yet ended may have its user out of scope: it holds a slot.
    let holding = active
        .iter()
        .filter(|s| s.strategy == Strategy::RoundTrip)
        .count();
    if waiting > 0 || !may_start(holding, strategy, max_descoped) {
        return Admission::Wait {
            position: waiting + 1,
        };
    }
    Admission::Start
}

/// Whether a diagnosed remediation at the head of the line may start while `holding` slots
/// are held: a cloud-managed one always (it never descopes), a round trip if a slot is free.
pub fn may_start(holding: usize, strategy: Strategy, max_descoped: usize) -> bool {
    strategy == Strategy::CloudManaged || holding < max_descoped
}

#[cfg(test)]
mod tests {
    use super::*;

    fn active(n: usize, strategy: Strategy) -> Vec<ActiveSaga> {
        (0..n)
            .map(|i| ActiveSaga {
                saga_id: SagaId::new(),
                user: format!("user{i}@contoso.com"),
                strategy,
            })
            .collect()
    }

    #[test]
    fn a_second_request_for_a_user_joins_the_first() {
        let sagas = active(3, Strategy::RoundTrip);
        assert_eq!(
            admit(&sagas, 0, "USER1@Contoso.com", Strategy::RoundTrip, 400),
            Admission::Join {
                existing: sagas[1].saga_id
            }
        );
        assert_eq!(
            admit(&sagas, 5, "user2@contoso.com", Strategy::CloudManaged, 400),
            Admission::Join {
                existing: sagas[2].saga_id
            }
        );
    }

    #[test]
    fn round_trips_wait_in_line_past_the_ceiling_and_cloud_managed_ones_never_do() {
        let full = active(400, Strategy::RoundTrip);
        assert_eq!(
            admit(&full, 0, "new@contoso.com", Strategy::RoundTrip, 400),
            Admission::Wait { position: 1 }
        );
        assert_eq!(
            admit(&full, 7, "new@contoso.com", Strategy::RoundTrip, 400),
            Admission::Wait { position: 8 }
        );
        assert_eq!(
            admit(&full, 7, "new@contoso.com", Strategy::CloudManaged, 400),
            Admission::Start
        );
        let almost = active(399, Strategy::RoundTrip);
        assert_eq!(
            admit(&almost, 0, "new@contoso.com", Strategy::RoundTrip, 400),
            Admission::Start
        );
        // Others already in line go first, even with a slot free.
        assert_eq!(
            admit(&almost, 2, "new@contoso.com", Strategy::RoundTrip, 400),
            Admission::Wait { position: 3 }
        );
        // Cloud-managed sagas hold no slot.
        let mixed = active(500, Strategy::CloudManaged);
        assert_eq!(
            admit(&mixed, 0, "new@contoso.com", Strategy::RoundTrip, 400),
            Admission::Start
        );
    }
}
