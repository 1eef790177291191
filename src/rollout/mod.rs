//! The rollout domain: rings and their gates, the typed journal and its
//! hash chain, the pure fold of the journal into state, and backtests.

pub mod backtest;
pub mod baseline;
pub mod compare;
pub mod event;
pub mod gates;
pub mod journal;
pub mod onset;
pub mod policy;
pub mod rings;
pub mod soakclock;
pub mod state;
pub mod step;
pub mod timeline;
