//! Builders and checks shared by several parts of the suite: the site model's records
//! (`site_model`), the desk's access questions through the API (`access`) and answers
//! checked against the OpenAPI document (`openapi`).

pub mod access;
pub mod openapi;
pub mod site_model;
