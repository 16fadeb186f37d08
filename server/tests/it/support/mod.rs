//! Builders and checks shared by several parts of the suite: the site model's records
//! (`site_model`) and answers checked against the OpenAPI document (`openapi`).

pub mod openapi;
pub mod site_model;
