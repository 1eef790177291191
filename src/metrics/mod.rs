//! Metrics sources behind `rollout::gates::MetricsSource`: one file per source.

pub mod prometheus;
