//! The tenant's takeover block as a lease. Handing a cloud-managed user back to AD needs
//! `blockCloudObjectTakeoverThroughHardMatchEnabled` off until the next cycle has taken the
//! user over, then on again (domain-2026.md 3.4). The flag is tenant-wide and many sagas may
//! need it off at once, so none writes it: each holds the lease, the first hold opens the
//! window (read the flag, lift it if set) and the last release closes it (restore it, if it
//! was lifted). No hold is granted while a restore is under way, so a restore never lands
//! under a saga that thinks the flag is off. Pure: the shell stores it, sends its commands and
//! brings back their answers.

use std::collections::BTreeSet;

use detour_contracts::{
    SagaId,
    cloud_directory::{SetTakeoverBlock, TakeoverBlockSet},
};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// Where the window stands.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "window", rename_all = "kebab-case")]
pub enum Window {
    /// Nobody needs the flag off; it is as the tenant set it.
    #[default]
    Closed,
    /// Reading the flag, before anything is written.
    Reading,
    /// It was on: lifting it.
    Lifting,
    /// Off: AD may take users back. `restore`: it was on, and closing puts it back.
    Open { restore: bool },
    /// Putting it back on; no hold is granted until that is confirmed.
    Restoring,
}

/// The flag command in flight, whose answer moves the window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pending {
    pub message_id: String,
    #[serde(with = "time::serde::rfc3339")]
    pub sent_at: OffsetDateTime,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lease {
    pub window: Window,
    pub holders: BTreeSet<SagaId>,
    pub pending: Option<Pending>,
}

/// What a saga is asked to do with the lease.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeaseOp {
    Hold,
    Release,
}

/// What a saga hears back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LeaseAnswer {
    /// The window is open and the saga holds it: AD may take its user back now.
    Held,
    /// Not yet, and why: ask again.
    Waiting(String),
    /// The saga holds it no longer; the restore, if one is due, is the lease's own work.
    Released,
}

impl Lease {
    /// `op` by `saga`, and the flag command it calls for.
    pub fn apply(&mut self, saga: SagaId, op: LeaseOp) -> (LeaseAnswer, Option<SetTakeoverBlock>) {
        match op {
            LeaseOp::Hold => self.hold(saga),
            LeaseOp::Release => (LeaseAnswer::Released, self.release(saga)),
        }
    }

    fn hold(&mut self, saga: SagaId) -> (LeaseAnswer, Option<SetTakeoverBlock>) {
        match self.window {
            Window::Restoring => (
                LeaseAnswer::Waiting(
                    "the takeover block is being restored after the last rollback".into(),
                ),
                None,
            ),
            Window::Open { .. } => {
                self.holders.insert(saga);
                (LeaseAnswer::Held, None)
            }
            Window::Closed => {
                self.holders.insert(saga);
                self.window = Window::Reading;
                (Self::waiting(), self.command())
            }
            Window::Reading | Window::Lifting => {
                self.holders.insert(saga);
                (Self::waiting(), None)
            }
        }
    }

    fn waiting() -> LeaseAnswer {
        LeaseAnswer::Waiting("the tenant's takeover block is being lifted".into())
    }

    fn release(&mut self, saga: SagaId) -> Option<SetTakeoverBlock> {
        self.holders.remove(&saga);
        self.close_if_unheld()
    }

    /// With no holder left, an open window closes: restored if it was lifted.
    fn close_if_unheld(&mut self) -> Option<SetTakeoverBlock> {
        match self.window {
            Window::Open { restore } if self.holders.is_empty() => {
                self.window = if restore {
                    Window::Restoring
                } else {
                    Window::Closed
                };
                self.command()
            }
            _ => None,
        }
    }

    /// The answer to the command `causation`; an answer to any other (an earlier copy, a
    /// window since closed) moves nothing.
    pub fn answered(
        &mut self,
        causation: &str,
        set: &TakeoverBlockSet,
    ) -> Option<SetTakeoverBlock> {
        if self.pending.as_ref().map(|p| p.message_id.as_str()) != Some(causation) {
            return None;
        }
        self.pending = None;
        self.window = match (self.window, set.enabled) {
            // Nobody is left to need it: nothing was written, nothing to put back.
            (Window::Reading, _) if self.holders.is_empty() => Window::Closed,
            (Window::Reading, true) => Window::Lifting,
            (Window::Reading, false) => Window::Open { restore: false },
            (Window::Lifting, false) => Window::Open { restore: true },
            (Window::Restoring, true) => Window::Closed,
            // Not yet as asked (someone wrote it meanwhile): ask again.
            (window, _) => window,
        };
        match self.window {
            Window::Open { .. } => self.close_if_unheld(),
            _ => self.command(),
        }
    }

    /// The pending command again when its answer is overdue (lost, or refused for now);
    /// an open window nobody holds is closed. A window still opening when its last holder has
    /// gone stops opening: nothing more is read, and a lift that may have landed is undone.
    pub fn tend(
        &mut self,
        now: OffsetDateTime,
        answer_within: std::time::Duration,
    ) -> Option<SetTakeoverBlock> {
        let overdue = self
            .pending
            .as_ref()
            .is_none_or(|pending| now - pending.sent_at >= answer_within);
        if !overdue {
            return None;
        }
        if self.holders.is_empty() {
            match self.window {
                Window::Reading => {
                    self.window = Window::Closed;
                    self.pending = None;
                    return None;
                }
                Window::Lifting => self.window = Window::Restoring,
                _ => {}
            }
        }
        self.close_if_unheld().or_else(|| self.command())
    }

    /// The flag command the window waits on, if it waits on one.
    fn command(&self) -> Option<SetTakeoverBlock> {
        let enabled = match self.window {
            Window::Reading => None,
            Window::Lifting => Some(false),
            Window::Restoring => Some(true),
            Window::Closed | Window::Open { .. } => return None,
        };
        Some(SetTakeoverBlock { enabled })
    }

    /// Records the command just sent, whose answer the window now waits on.
    pub fn sent(&mut self, message_id: String, now: OffsetDateTime) {
        self.pending = Some(Pending {
            message_id,
            sent_at: now,
        });
    }

    /// Whether the window is at rest: closed, nothing in flight.
    pub fn is_closed(&self) -> bool {
        self.window == Window::Closed && self.pending.is_none()
    }
}

#[cfg(test)]
mod tests;
