//! A Cloud Sync tenant's synchronization objects, as plain data: the configuration's service
//! principal (made from Cloud Sync's app template, named after the AD domain), its
//! `AD2AADProvisioning` job with the rule on-demand provisioning names, the job's state
//! (paused, quarantined), and what on-demand provisioning did, for the provisioning log
//! (domain-2026.md 1.1). The engine and its scheduled runs are Connect's own
//! (`sync_engine`): Cloud Sync runs the same joins on its schedule.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use detour_contracts::connect_agent::RunResult;

/// The application template every Cloud Sync configuration is made from (domain-2026.md 1.1).
pub const APP_TEMPLATE_ID: &str = "1a4721b3-e57f-4451-ae87-ef078703ec94";
pub const JOB_TEMPLATE_ID: &str = "AD2AADProvisioning";

/// On-demand provisioning is limited to 5 requests per 10 seconds (domain-2026.md 1.1).
pub const ON_DEMAND_PER_10_SECONDS: usize = 5;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CloudSyncSpec {
    /// The job's schedule is paused: no scheduled run until `start`.
    pub paused: bool,
    /// The job is in quarantine (e.g. the agent lost its credentials): no run until `start`.
    pub quarantined: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CloudSync {
    pub service_principal_id: Uuid,
    pub app_id: Uuid,
    /// The configuration's name: the AD domain.
    pub display_name: String,
    /// `AD2AADProvisioning.<hex>`.
    pub job_id: String,
    /// The schema's user rule, which on-demand provisioning names.
    pub rule_id: String,
    pub paused: bool,
    pub quarantined: bool,
    /// Why it is in quarantine, when it is.
    pub quarantine_reason: Option<String>,
    /// What on-demand provisioning did, oldest first (one object each).
    pub on_demand: Vec<RunResult>,
    /// When on-demand provisioning was last asked for, for its rate limit.
    #[serde(skip)]
    pub on_demand_calls: Vec<OffsetDateTime>,
}

impl CloudSync {
    pub fn new(spec: &CloudSyncSpec, ad_domain: &str) -> Self {
        Self {
            service_principal_id: Uuid::new_v4(),
            app_id: Uuid::new_v4(),
            display_name: ad_domain.to_owned(),
            job_id: format!("{JOB_TEMPLATE_ID}.{}", Uuid::new_v4().simple()),
            rule_id: format!("{}", Uuid::new_v4().simple()),
            paused: spec.paused,
            quarantined: spec.quarantined,
            quarantine_reason: spec
                .quarantined
                .then(|| "EncounteredQuarantineException".to_owned()),
            on_demand: Vec::new(),
            on_demand_calls: Vec::new(),
        }
    }

    /// Whether the job runs on its schedule.
    pub fn runs(&self) -> bool {
        !self.paused && !self.quarantined
    }

    /// Takes one on-demand call at `now`, or says how long until one may be made.
    pub fn admit_on_demand(&mut self, now: OffsetDateTime) -> Result<(), time::Duration> {
        let window = time::Duration::seconds(10);
        self.on_demand_calls.retain(|at| *at > now - window);
        if self.on_demand_calls.len() >= ON_DEMAND_PER_10_SECONDS {
            let oldest = self.on_demand_calls[0];
            return Err(oldest + window - now);
        }
        self.on_demand_calls.push(now);
        Ok(())
    }
}
