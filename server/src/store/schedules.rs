//! Schedules: weekly windows in the site's local time, plus holidays on which nothing is
//! admitted. A window whose end is not after its start crosses midnight: `22:00`–`06:00`
//! listed on Friday admits Friday 22:00 to Saturday 06:00 (and `08:00`–`08:00` is a full
//! day). Windows and holidays are stored as JSON in the API's own shape.

use super::operator_log::{Actor, NewLogEntry};
use super::policy_changes::changed_since;
use super::site_model::{ModelError, Record};
use super::{Db, Store, StoreError, now, on};
use crate::store::stored_time::StoredTime;
use chrono::{DateTime, NaiveDate, NaiveTime, Utc, Weekday};
use gatehouse_core::model::{Schedule, Window};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sqlx::types::Json;
use uuid::Uuid;

/// A schedule as stored and served.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ScheduleRecord {
    pub id: Uuid,
    /// The site whose time zone the windows are in.
    pub site_id: Uuid,
    pub name: String,
    pub windows: Vec<WindowSpec>,
    /// Local dates (`YYYY-MM-DD`) on which nothing is admitted, ascending.
    #[schema(value_type = Vec<String>, format = Date)]
    pub holidays: Vec<NaiveDate>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A weekly window: on each listed day, from `start` (inclusive) to `end` (exclusive);
/// an `end` not after `start` means the next day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WindowSpec {
    /// The days the window starts on.
    #[schema(min_items = 1, max_items = 7)]
    pub days: Vec<Day>,
    /// Local start time, `HH:MM`.
    #[schema(value_type = String, pattern = "^([01][0-9]|2[0-3]):[0-5][0-9]$")]
    pub start: ClockTime,
    /// Local end time, `HH:MM`.
    #[schema(value_type = String, pattern = "^([01][0-9]|2[0-3]):[0-5][0-9]$")]
    pub end: ClockTime,
}

/// A day of the week.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Day {
    Mon,
    Tue,
    Wed,
    Thu,
    Fri,
    Sat,
    Sun,
}

impl From<Day> for Weekday {
    fn from(day: Day) -> Weekday {
        match day {
            Day::Mon => Weekday::Mon,
            Day::Tue => Weekday::Tue,
            Day::Wed => Weekday::Wed,
            Day::Thu => Weekday::Thu,
            Day::Fri => Weekday::Fri,
            Day::Sat => Weekday::Sat,
            Day::Sun => Weekday::Sun,
        }
    }
}

/// A local time of day to the minute, written `HH:MM` (00:00 to 23:59).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ClockTime(pub NaiveTime);

impl ClockTime {
    /// Parses exactly `HH:MM`.
    pub fn parse(text: &str) -> Option<ClockTime> {
        let (hours, minutes) = text.split_once(':')?;
        let two_digits = |s: &str| s.len() == 2 && s.bytes().all(|b| b.is_ascii_digit());
        if !two_digits(hours) || !two_digits(minutes) {
            return None;
        }
        NaiveTime::from_hms_opt(hours.parse().ok()?, minutes.parse().ok()?, 0).map(ClockTime)
    }
}

impl Serialize for ClockTime {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&self.0.format("%H:%M"))
    }
}

impl<'de> Deserialize<'de> for ClockTime {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        ClockTime::parse(&text)
            .ok_or_else(|| serde::de::Error::custom("must be a time HH:MM from 00:00 to 23:59"))
    }
}

/// A new schedule.
pub struct NewSchedule {
    pub site_id: Uuid,
    pub name: String,
    pub windows: Vec<WindowSpec>,
    pub holidays: Vec<NaiveDate>,
}

/// Fields of a schedule that may change; `None` keeps the current value.
#[derive(Debug, Default)]
pub struct ScheduleChange {
    pub name: Option<String>,
    pub windows: Option<Vec<WindowSpec>>,
    pub holidays: Option<Vec<NaiveDate>>,
}

#[derive(sqlx::FromRow)]
pub(crate) struct ScheduleRow {
    id: Uuid,
    site_id: Uuid,
    name: String,
    windows: Json<Vec<WindowSpec>>,
    holidays: Json<Vec<NaiveDate>>,
    #[sqlx(try_from = "StoredTime")]
    created_at: DateTime<Utc>,
    #[sqlx(try_from = "StoredTime")]
    updated_at: DateTime<Utc>,
}

impl TryFrom<ScheduleRow> for ScheduleRecord {
    type Error = StoreError;

    fn try_from(row: ScheduleRow) -> Result<Self, StoreError> {
        Ok(ScheduleRecord {
            id: row.id,
            site_id: row.site_id,
            name: row.name,
            windows: row.windows.0,
            holidays: row.holidays.0,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

impl ScheduleRecord {
    /// The schedule in the decision engine's terms.
    pub fn to_model(self) -> Schedule {
        Schedule {
            id: self.id,
            site_id: self.site_id,
            windows: self
                .windows
                .into_iter()
                .map(|w| Window {
                    days: w.days.into_iter().map(Weekday::from).collect(),
                    start: w.start.0,
                    end: w.end.0,
                })
                .collect(),
            holidays: self.holidays,
        }
    }
}

macro_rules! select_schedule {
    ($rest:expr) => {
        concat!(
            "SELECT id, site_id, name, windows, holidays, created_at, updated_at FROM schedules ",
            $rest
        )
    };
}

impl Record for ScheduleRecord {
    type Row = ScheduleRow;
    const KIND: &'static str = "schedule";
    const BY_ID: &'static str = select_schedule!("WHERE id = $1");
    const ALL: &'static str = select_schedule!("ORDER BY id");
    const CHANGED: &'static str = select_schedule!(changed_since!("schedule"));
    const DELETE: &'static str = "DELETE FROM schedules WHERE id = $1";
    const DELETE_ACTION: &'static str = "schedule.delete";
    const BY_SITE: &'static str = select_schedule!(
        "WHERE ($1 IS NULL OR site_id = $1) AND ($2 IS NULL OR id > $2) ORDER BY id LIMIT $3"
    );

    fn id(&self) -> Uuid {
        self.id
    }
}

const INSERT: &str = "INSERT INTO schedules \
    (id, site_id, name, windows, holidays, created_at, updated_at) \
    VALUES ($1, $2, $3, $4, $5, $6, $7)";
const UPDATE: &str = "UPDATE schedules SET site_id = $2, name = $3, windows = $4, \
    holidays = $5, created_at = $6, updated_at = $7 WHERE id = $1";

impl Db<'_> {
    /// Writes every column of `schedule` with `sql` ([`INSERT`] or [`UPDATE`], which take
    /// them in the same order).
    async fn put_schedule(
        self,
        sql: &'static str,
        schedule: &ScheduleRecord,
    ) -> Result<(), StoreError> {
        on!(self, |c| {
            sqlx::query(sql)
                .bind(schedule.id)
                .bind(schedule.site_id)
                .bind(&schedule.name)
                .bind(Json(&schedule.windows))
                .bind(Json(&schedule.holidays))
                .bind(schedule.created_at)
                .bind(schedule.updated_at)
                .execute(c)
                .await?;
        });
        Ok(())
    }
}

/// Holidays ascending, each once.
fn tidy(mut holidays: Vec<NaiveDate>) -> Vec<NaiveDate> {
    holidays.sort_unstable();
    holidays.dedup();
    holidays
}

impl Store {
    /// Creates a schedule on an existing site.
    #[tracing::instrument(skip_all)]
    pub async fn create_schedule(
        &self,
        new: NewSchedule,
        actor: &Actor,
    ) -> Result<ScheduleRecord, ModelError> {
        let at = now();
        let schedule = ScheduleRecord {
            id: Uuid::now_v7(),
            site_id: new.site_id,
            name: new.name,
            windows: new.windows,
            holidays: tidy(new.holidays),
            created_at: at,
            updated_at: at,
        };
        let entry = NewLogEntry::new(
            actor,
            "schedule.create",
            "schedule",
            schedule.id,
            None,
            Some(&schedule),
        );
        let mut tx = self.write().await?;
        tx.db().site_exists(schedule.site_id).await?;
        tx.db().put_schedule(INSERT, &schedule).await?;
        tx.db().log_change(&entry).await?;
        tx.commit().await?;
        Ok(schedule)
    }

    #[tracing::instrument(skip_all, fields(%id))]
    pub async fn schedule(&self, id: Uuid) -> Result<ScheduleRecord, StoreError> {
        self.model_record(id).await
    }

    /// Schedules in creation order after the cursor id, of one site or of all.
    #[tracing::instrument(skip_all)]
    pub async fn list_schedules(
        &self,
        site_id: Option<Uuid>,
        after: Option<Uuid>,
        limit: u32,
    ) -> Result<Vec<ScheduleRecord>, StoreError> {
        self.list_model_records(site_id, after, limit).await
    }

    /// Renames a schedule or replaces its windows or holidays.
    #[tracing::instrument(skip_all, fields(%id))]
    pub async fn update_schedule(
        &self,
        id: Uuid,
        change: ScheduleChange,
        actor: &Actor,
    ) -> Result<ScheduleRecord, StoreError> {
        let mut tx = self.write().await?;
        let before: ScheduleRecord = tx.db().model_record(id).await?;
        let after = ScheduleRecord {
            name: change.name.unwrap_or_else(|| before.name.clone()),
            windows: change.windows.unwrap_or_else(|| before.windows.clone()),
            holidays: change
                .holidays
                .map_or_else(|| before.holidays.clone(), tidy),
            updated_at: now(),
            ..before.clone()
        };
        tx.db().put_schedule(UPDATE, &after).await?;
        let entry = NewLogEntry::new(
            actor,
            "schedule.update",
            "schedule",
            id,
            Some(&before),
            Some(&after),
        );
        tx.db().log_change(&entry).await?;
        tx.commit().await?;
        Ok(after)
    }

    /// Deletes a schedule; refused with [`StoreError::InUse`] while grants use it.
    #[tracing::instrument(skip_all, fields(%id))]
    pub async fn delete_schedule(&self, id: Uuid, actor: &Actor) -> Result<(), StoreError> {
        self.delete_model_record::<ScheduleRecord>(id, actor).await
    }
}
