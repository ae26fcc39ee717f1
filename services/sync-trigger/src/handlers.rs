//! Commands in, events out: a cycle request is answered by an on-demand run where the server
//! makes one for its objects (Cloud Sync), else once a run that started after its change has
//! completed (the delivery stays unacked until then, so a crash loses nothing), with
//! what every run that may have seen the change did to the requester's own objects.

use std::sync::Arc;

use detour_bus::Outcome;
use detour_contracts::{
    Envelope, Service,
    sync_trigger::{
        ConnectStateRead, ReadConnectState, RequestSyncCycle, SyncCycleCompleted, SyncCycleRefused,
    },
};
use detour_service::{Dispatch, HandlerContext};

use crate::{
    connect::{Connect, ConnectError},
    cycles::{CycleAnswer, Cycles},
    history::CompletedRun,
};

/// More objects than one saga batch would ever name.
const MAX_OBJECTS: usize = 10_000;

pub fn dispatch<C: Connect>(client: Arc<C>, cycles: Cycles) -> Dispatch {
    let reader = client.clone();
    Dispatch::new(Service::SyncTrigger)
        .on::<RequestSyncCycle, _, _>(move |command, context| {
            let (client, cycles) = (client.clone(), cycles.clone());
            async move { request_cycle(client.as_ref(), &cycles, command, context).await }
        })
        .on::<ReadConnectState, _, _>(move |command, context| {
            let client = reader.clone();
            async move { read_state(client.as_ref(), command, context).await }
        })
}

async fn request_cycle<C: Connect>(
    client: &C,
    cycles: &Cycles,
    command: Envelope<RequestSyncCycle>,
    context: HandlerContext,
) -> Outcome {
    if command.payload.objects.len() > MAX_OBJECTS {
        return Outcome::Reject(format!(
            "{} objects in one request; at most {MAX_OBJECTS}",
            command.payload.objects.len()
        ));
    }
    let payload = &command.payload;
    let on_demand = if payload.provision_on_demand {
        client.provision_on_demand(&payload.located_at).await
    } else {
        Ok(None)
    };
    match on_demand {
        Ok(Some(run)) => {
            let Some(run) = CompletedRun::new(run) else {
                return Outcome::Reject("an on-demand run that did not finish".into());
            };
            let event = SyncCycleCompleted {
                runs: vec![run.seen_by(&payload.objects)],
                requests_coalesced: 1,
            };
            return context.reply(&command, event).await;
        }
        Ok(None) => {}
        Err(ConnectError::Refused { code, message }) => {
            let failure = SyncCycleRefused {
                code,
                reason: message.clone(),
            };
            return context.refuse(&command, failure, message).await;
        }
        Err(error @ ConnectError::Rejected(_)) => return Outcome::Reject(error.to_string()),
        Err(error) => return context.retry::<RequestSyncCycle>(error.to_string()),
    }
    match cycles.request(payload.since, payload.policy_type).await {
        CycleAnswer::Completed { runs, coalesced } => {
            let mut event = SyncCycleCompleted {
                runs: runs
                    .iter()
                    .map(|run| run.seen_by(&payload.objects))
                    .collect(),
                requests_coalesced: coalesced,
            };
            // A server whose runs do not list their objects says what it holds of them now,
            // after the newest run.
            let unreported = payload
                .located_at
                .iter()
                .filter(|(guid, _)| event.outcomes_for(**guid).next().is_none())
                .map(|(guid, dn)| (*guid, dn.clone()))
                .collect();
            match client.object_results(&unreported).await {
                Ok(results) => {
                    if let Some(newest) = event.runs.last_mut() {
                        newest.objects.extend(results);
                    }
                }
                Err(error @ ConnectError::Rejected(_)) => {
                    return Outcome::Reject(error.to_string());
                }
                Err(error) => return context.retry::<RequestSyncCycle>(error.to_string()),
            }
            context.reply(&command, event).await
        }
        CycleAnswer::Refused { code, reason } => {
            let failure = SyncCycleRefused {
                code,
                reason: reason.clone(),
            };
            context.refuse(&command, failure, reason).await
        }
        CycleAnswer::Failed(reason) => context.retry::<RequestSyncCycle>(reason),
    }
}

async fn read_state<C: Connect>(
    client: &C,
    command: Envelope<ReadConnectState>,
    context: HandlerContext,
) -> Outcome {
    let read = async {
        let version = client.version().await?;
        let scheduler = client.scheduler().await?;
        let threshold = client.deletion_threshold().await?;
        let scope = client.scope().await?;
        Ok::<_, ConnectError>(ConnectStateRead {
            connect_version: version.connect_version,
            scheduler,
            deletion_threshold_enabled: threshold.enabled,
            deletion_threshold: threshold.threshold,
            included_containers: scope.included_containers,
            sync_client: client.sync_client(),
        })
    };
    match read.await {
        Ok(event) => context.reply(&command, event).await,
        Err(error @ ConnectError::Rejected(_)) => Outcome::Reject(error.to_string()),
        Err(error) => Outcome::Retry(error.to_string()),
    }
}
