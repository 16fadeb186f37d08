//! Whether a visit keeps the visit rules security set: every zone open to visitors, on
//! one site, within the zone's longest visit, and enterable by the host. Pure: the
//! caller looks up the zones and asks the engine about the host.

use crate::domain::FieldErrors;
use crate::store::VisitorZone;
use std::collections::BTreeMap;
use uuid::Uuid;

/// A visit as the rules judged it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Judged {
    pub site_id: Option<Uuid>,
    /// Asked for, or required by one of the zones.
    pub escort_required: bool,
    /// The rules the visit breaks, in words; empty when it keeps them all. Such a visit
    /// is refused, or waits for approval where the site allows it.
    pub outside_rules: Vec<String>,
}

/// What the caller knows of the visit: its zones as found (unknown ids missing), its
/// length, the host's answer per zone, and the site asked for.
pub struct Facts<'a> {
    pub requested: &'a [Uuid],
    pub zones: &'a [VisitorZone],
    pub window_minutes: i64,
    pub escort_asked: bool,
    /// `Err(reason in words)` where the host may not enter the zone.
    pub host_may_enter: &'a BTreeMap<Uuid, Result<(), String>>,
    pub site_id: Option<Uuid>,
}

/// Judges a visit: `Err` for what no approval can fix (unknown zones, zones on several
/// sites or not on the site asked for, zones requiring vetting: visitors are never
/// vetted), else what the visit keeps and breaks.
pub fn judge(f: &Facts<'_>) -> Result<Judged, FieldErrors> {
    let mut hard = FieldErrors::new();
    let by_id: BTreeMap<Uuid, &VisitorZone> = f.zones.iter().map(|z| (z.zone_id, z)).collect();
    if f.requested.iter().any(|id| !by_id.contains_key(id)) {
        hard.insert(
            "allowed_zone_ids".into(),
            "names a zone that does not exist".into(),
        );
        return Err(hard);
    }
    let mut sites: Vec<(Uuid, &str)> = f
        .zones
        .iter()
        .map(|z| (z.site_id, z.site_name.as_str()))
        .collect();
    sites.sort();
    sites.dedup();
    let site_id = match (sites.as_slice(), f.site_id) {
        ([], asked) => asked,
        ([(one, _)], None) => Some(*one),
        ([(one, _)], Some(asked)) if *one == asked => Some(asked),
        ([(_, name)], Some(_)) => {
            let problem = format!("the zones are at {name}, not at the visit's site");
            hard.insert("site_id".into(), problem);
            None
        }
        (many, _) => {
            let names: Vec<&str> = many.iter().map(|s| s.1).collect();
            let problem = format!(
                "a visit is at one site; these zones are at {}",
                names.join(", ")
            );
            hard.insert("allowed_zone_ids".into(), problem);
            None
        }
    };
    let vetted: Vec<&str> = f
        .zones
        .iter()
        .filter(|z| z.vetting_required)
        .map(|z| z.zone_name.as_str())
        .collect();
    if !vetted.is_empty() {
        let problem = format!(
            "visitors are never admitted where vetting is required: {}",
            vetted.join(", ")
        );
        hard.insert("allowed_zone_ids".into(), problem);
    }
    if !hard.is_empty() {
        return Err(hard);
    }
    let mut outside_rules = Vec::new();
    for zone in f.zones {
        let name = &zone.zone_name;
        match zone.longest_visit_minutes {
            None => outside_rules.push(format!("{name} is not open to visitors")),
            Some(longest) if f.window_minutes > i64::from(longest) => outside_rules.push(format!(
                "{name} allows visits of at most {}",
                crate::visits::words::minutes(longest)
            )),
            Some(_) => {}
        }
        if let Some(Err(why)) = f.host_may_enter.get(&zone.zone_id) {
            outside_rules.push(format!("the host may not enter {name} ({why})"));
        }
    }
    Ok(Judged {
        site_id,
        escort_required: f.escort_asked || f.zones.iter().any(|z| z.escort_required),
        outside_rules,
    })
}

#[cfg(test)]
mod tests;
