//! Where the journal and the driver lock live: the git directory (file lock)
//! or etcd (a lease and a fence).

pub mod etcd;
pub mod lock;
