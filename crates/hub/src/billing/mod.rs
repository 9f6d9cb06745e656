//! Billing in the hub: what turns stored records into `joule_tariff` bills, real-time
//! costs and `joule_insights` insights. The pricing itself lives in the pure crates; this
//! module reads the store, converts, calls them and keeps the results.

pub mod convert;
