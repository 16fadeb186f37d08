//! One module per resource.

pub mod access;
pub mod audit;
pub mod auth;
pub mod health;
pub mod import;
pub mod occupancy;
pub mod operator_log;
pub mod operators;
pub mod policy;
// site model routes (sites, zones, doors, schedules)
pub mod door_live;
pub mod doors;
pub mod schedules;
pub mod site_model;
pub mod sites;
pub mod zones;
// people model routes (people, credentials, groups, grants, visits)
pub mod badges;
pub mod credentials;
pub mod documents;
pub mod grants;
pub mod groups;
pub mod notifications;
pub mod people;
pub mod visit_rules;
pub mod visitor_cards;
pub mod visitor_photo;
pub mod visits;
pub mod watchlist;
// door agents: operator side, agent side, and the events they upload
pub mod agent_api;
pub mod agent_doors;
pub mod agents;
// site card keys (issue 15): admins' side here, agents' side in agent_card_keys
pub mod agent_card_keys;
pub mod card_keys;
pub mod events;
pub mod secure_cards;
// live alarms: list, acknowledge, stream
pub mod alarms;
