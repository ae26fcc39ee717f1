//! Handing a user's source of authority to the cloud and back, and the takeover block, against
//! the in-memory tenant: one write per change, a late copy refused as stale.

use detour_contracts::cloud_directory::{SetTakeoverBlock, SetUserCloudManaged};
use time::macros::datetime;

use super::*;
use crate::handlers::source_of_authority::{set_takeover_block, set_user_cloud_managed};

fn hand_over(only_if_last_sync: Option<time::OffsetDateTime>) -> SetUserCloudManaged {
    SetUserCloudManaged {
        user_id: Uuid::from_u128(1),
        cloud_managed: true,
        only_if_last_sync,
    }
}

fn synced_ada() -> CloudUserState {
    CloudUserState {
        on_premises_last_sync: Some(datetime!(2026-11-30 08:00 UTC)),
        ..ada(Some(true), None)
    }
}

#[tokio::test]
async fn a_synced_user_is_handed_to_the_cloud_once_and_a_repeat_writes_nothing() {
    let graph = FakeGraph::with_user(synced_ada());
    let fence = Some(datetime!(2026-11-30 08:00 UTC));
    let set = set_user_cloud_managed(graph.clone(), hand_over(fence))
        .await
        .unwrap();
    assert!(!set.already);
    let again = set_user_cloud_managed(graph.clone(), hand_over(fence))
        .await
        .unwrap();
    assert!(again.already);
    assert_eq!(graph.writes(), ["isCloudManaged true"]);
}

#[tokio::test]
async fn a_late_copy_after_a_later_export_is_stale_and_writes_nothing() {
    let graph = FakeGraph::with_user(synced_ada());
    let earlier = Some(datetime!(2026-11-29 08:00 UTC));
    let error = set_user_cloud_managed(graph.clone(), hand_over(earlier))
        .await
        .unwrap_err();
    assert!(matches!(error, GraphError::Stale(_)), "{error}");
    let cloud_only = FakeGraph::with_user(ada(None, None));
    let error = set_user_cloud_managed(cloud_only.clone(), hand_over(None))
        .await
        .unwrap_err();
    assert!(matches!(error, GraphError::Stale(_)), "{error}");
    assert!(graph.writes().is_empty() && cloud_only.writes().is_empty());
}

#[tokio::test]
async fn the_takeover_block_is_written_only_when_it_changes_and_says_what_it_was() {
    let graph = Arc::new(FakeGraph::default());
    *graph.takeover_block.lock().unwrap() = true;
    let read = set_takeover_block(graph.clone(), SetTakeoverBlock { enabled: None })
        .await
        .unwrap();
    assert_eq!((read.enabled, read.previous), (true, true));
    let lifted = set_takeover_block(
        graph.clone(),
        SetTakeoverBlock {
            enabled: Some(false),
        },
    )
    .await
    .unwrap();
    assert_eq!((lifted.enabled, lifted.previous), (false, true));
    let again = set_takeover_block(
        graph.clone(),
        SetTakeoverBlock {
            enabled: Some(false),
        },
    )
    .await
    .unwrap();
    assert_eq!((again.enabled, again.previous), (false, false));
    assert_eq!(graph.writes(), ["sync-object takeover block false"]);
}
