//! Failure on demand and Graph's throttling, as data: which requests to hit, how, how often;
//! and a token bucket shaped like the identity service's resource-unit limits [S9][S53].

use serde::{Deserialize, Serialize};

/// Which API a request belongs to, by its path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Api {
    Token,
    Graph,
    Exchange,
    Connect,
    Tickets,
}

impl Api {
    pub fn name(self) -> &'static str {
        match self {
            Api::Token => "token",
            Api::Graph => "graph",
            Api::Exchange => "exchange",
            Api::Connect => "connect",
            Api::Tickets => "tickets",
        }
    }

    pub fn of(path: &str) -> Option<Self> {
        if path.starts_with("/v1.0/") {
            Some(Api::Graph)
        } else if path.starts_with("/adminapi/") {
            Some(Api::Exchange)
        } else if path.starts_with("/connect/") {
            Some(Api::Connect)
        } else if path.starts_with("/rest/api/") || path.starts_with("/api/now/") {
            Some(Api::Tickets)
        } else if path.ends_with("/oauth2/v2.0/token") {
            Some(Api::Token)
        } else {
            None
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum FaultKind {
    /// 429 with `Retry-After` [S9].
    Throttle { retry_after_seconds: u64 },
    /// A 5xx (500, 502, 503, 504).
    ServerError { status: u16 },
    /// Answer normally, but late.
    Delay { milliseconds: u64 },
    /// Never answer; the client's timeout decides.
    Timeout,
    /// The service's own "busy": Exchange's concurrency refusal [S33], Connect's running cycle.
    Busy,
}

/// A fault to inject. (Its kind is flattened into it, which serde cannot combine with
/// refusing unknown fields.)
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fault {
    pub api: Api,
    /// Only requests whose path contains this (e.g. `/assignLicense`).
    #[serde(default)]
    pub path_contains: Option<String>,
    /// Only this method (e.g. `POST`).
    #[serde(default)]
    pub method: Option<String>,
    #[serde(flatten)]
    pub kind: FaultKind,
    /// How many matching requests to hit; unset hits every one until cleared.
    #[serde(default)]
    pub count: Option<u32>,
    /// How many matching requests to let through first (a fault on the second write, say).
    #[serde(default)]
    pub skip: u32,
}

/// The faults in force; the first that matches a request takes it.
#[derive(Debug, Default)]
pub struct Faults {
    active: Vec<Fault>,
}

impl Faults {
    pub fn add(&mut self, fault: Fault) {
        self.active.push(fault);
    }

    pub fn clear(&mut self) {
        self.active.clear();
    }

    pub fn list(&self) -> Vec<Fault> {
        self.active.clone()
    }

    /// The fault that takes this request, counted down; an exhausted fault is removed.
    pub fn take(&mut self, api: Api, method: &str, path: &str) -> Option<FaultKind> {
        let index = self.active.iter().position(|f| {
            f.api == api
                && f.method
                    .as_deref()
                    .is_none_or(|m| m.eq_ignore_ascii_case(method))
                && f.path_contains.as_deref().is_none_or(|p| path.contains(p))
        })?;
        let fault = &mut self.active[index];
        if fault.skip > 0 {
            fault.skip -= 1;
            return None;
        }
        let kind = fault.kind.clone();
        if let Some(count) = &mut fault.count {
            *count = count.saturating_sub(1);
            if *count == 0 {
                self.active.remove(index);
            }
        }
        Some(kind)
    }
}

/// The identity service's per app+tenant budget: resource units refilled over 10 seconds
/// (3,500 for a small tenant) [S9-limits].
#[derive(Debug)]
pub struct ResourceUnits {
    capacity: f64,
    available: f64,
    last: time::OffsetDateTime,
}

impl ResourceUnits {
    pub fn new(per_ten_seconds: u32, now: time::OffsetDateTime) -> Self {
        let capacity = f64::from(per_ten_seconds);
        Self {
            capacity,
            available: capacity,
            last: now,
        }
    }

    /// Spends `cost` units, or says how long until they are there.
    pub fn spend(
        &mut self,
        cost: u32,
        now: time::OffsetDateTime,
    ) -> Result<(), std::time::Duration> {
        let refill_per_second = self.capacity / 10.0;
        let elapsed = (now - self.last).as_seconds_f64().max(0.0);
        self.available = (self.available + elapsed * refill_per_second).min(self.capacity);
        self.last = now;
        let cost = f64::from(cost);
        if self.available >= cost {
            self.available -= cost;
            Ok(())
        } else {
            Err(std::time::Duration::from_secs_f64(
                (cost - self.available) / refill_per_second,
            ))
        }
    }
}

/// What a Graph request costs: `GET users` 2, `subscribedSkus` 3, any other identity path 1;
/// `$select` takes one off; never below 1 [S9-limits draft].
pub fn graph_cost(method: &str, path: &str, query: &str) -> u32 {
    let base: u32 = if path.ends_with("/subscribedSkus") {
        3
    } else if method == "GET" && path.starts_with("/v1.0/users") {
        2
    } else {
        1
    };
    let select = u32::from(query.contains("$select=") || query.contains("%24select="));
    base.saturating_sub(select).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_match_by_api_method_and_path_skip_and_count_down() {
        let mut faults = Faults::default();
        faults.add(Fault {
            api: Api::Graph,
            path_contains: Some("/assignLicense".into()),
            method: Some("POST".into()),
            kind: FaultKind::ServerError { status: 503 },
            count: Some(2),
            skip: 1,
        });
        assert_eq!(
            faults.take(Api::Graph, "GET", "/v1.0/users/x/assignLicense"),
            None
        );
        assert_eq!(
            faults.take(Api::Exchange, "POST", "/v1.0/users/x/assignLicense"),
            None
        );
        assert_eq!(
            faults.take(Api::Graph, "POST", "/v1.0/users/x/assignLicense"),
            None,
            "the first is let through"
        );
        for _ in 0..2 {
            assert!(
                faults
                    .take(Api::Graph, "POST", "/v1.0/users/x/assignLicense")
                    .is_some()
            );
        }
        assert_eq!(
            faults.take(Api::Graph, "POST", "/v1.0/users/x/assignLicense"),
            None,
            "used up"
        );
    }

    #[test]
    fn the_bucket_refills_over_ten_seconds() {
        let start = time::OffsetDateTime::now_utc();
        let mut units = ResourceUnits::new(10, start);
        assert!(units.spend(10, start).is_ok());
        let wait = units.spend(2, start).unwrap_err();
        assert!((wait.as_secs_f64() - 2.0).abs() < 0.01, "{wait:?}");
        assert!(units.spend(2, start + time::Duration::seconds(2)).is_ok());
    }

    #[test]
    fn costs_follow_the_documented_table() {
        assert_eq!(graph_cost("GET", "/v1.0/users", ""), 2);
        assert_eq!(graph_cost("GET", "/v1.0/users/x", "$select=id"), 1);
        assert_eq!(graph_cost("GET", "/v1.0/subscribedSkus", ""), 3);
        assert_eq!(
            graph_cost("POST", "/v1.0/directory/deletedItems/x/restore", ""),
            1
        );
    }
}
