//! Loading the site model for the policy compiler: sites, zones, doors and schedules as
//! the decision engine's types, read in one consistent snapshot.

use super::{DoorRecord, ScheduleRecord, SiteRecord, Store, StoreError, ZoneRecord};
use gatehouse_core::model::{Door, Schedule, Site, Zone};

/// Everything the policy compiler needs about the site model.
pub type SiteModel = (Vec<Site>, Vec<Zone>, Vec<Door>, Vec<Schedule>);

impl Store {
    /// The whole site model in the decision engine's types, read in one snapshot so the
    /// four lists are consistent with each other (the policy compiler's input).
    #[tracing::instrument(skip_all)]
    pub async fn load_site_model(&self) -> Result<SiteModel, StoreError> {
        let mut tx = self.read().await?;
        let sites = tx.db().all_model_records::<SiteRecord>().await?;
        let zones = tx.db().all_model_records::<ZoneRecord>().await?;
        let doors = tx.db().all_model_records::<DoorRecord>().await?;
        let schedules = tx.db().all_model_records::<ScheduleRecord>().await?;
        tx.commit().await?;
        Ok((
            sites
                .into_iter()
                .map(SiteRecord::to_model)
                .collect::<Result<_, _>>()?,
            zones.into_iter().map(ZoneRecord::to_model).collect(),
            doors.into_iter().map(DoorRecord::to_model).collect(),
            schedules
                .into_iter()
                .map(ScheduleRecord::to_model)
                .collect(),
        ))
    }
}
