//! What every request handler can reach.

use crate::audit::checkpoint::AuditKey;
use crate::auth::throttle::LoginThrottle;
use crate::auth::tokens::TokenKeys;
use crate::metrics::Metrics;
use crate::policy::PolicyService;
use crate::store::Store;
use std::sync::Arc;

#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub tokens: Arc<TokenKeys>,
    pub throttle: Arc<LoginThrottle>,
    pub metrics: Arc<Metrics>,
    pub policy: Arc<PolicyService>,
    /// The policy version as last seen, which the agents' long-polls wait on.
    pub policy_versions: crate::policy::versions::PolicyVersions,
    /// The presence feed and the door commands, which the agents' long-polls wait on.
    pub feeds: crate::feeds::Feeds,
    /// Signs audit checkpoints.
    pub audit_key: Arc<AuditKey>,
    /// The import jobs running on this replica, with their live counts.
    pub import_jobs: Arc<crate::import::job::Jobs>,
    /// The web console's session lengths and cookie attributes.
    pub console: crate::console::ConsoleConfig,
    /// Each alarm kind's priority and instructions (`[alarms]`), for every alarm served.
    pub alarm_desk: Arc<crate::alarm_desk::AlarmDesk>,
    /// The whole-trail verification last started from the console on this server.
    pub verifications: Arc<crate::console::records::audit::Verifications>,
    /// Builds notifications and wakes their delivery worker after an enqueue.
    pub notifier: Arc<crate::notify::Notifier>,
    /// Site card keys: made, rotated, sealed to agents (issue 15).
    pub card_keys: Arc<crate::cards::CardKeyring>,
    /// The issuing station's desk reader jobs (issue 15).
    pub desk: Arc<crate::issuing::DeskJobs>,
}
