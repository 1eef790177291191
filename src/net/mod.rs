//! Network clients: the HTTP client every adapter shares, and etcd's JSON gateway.

pub(crate) mod etcd;
pub(crate) mod http;
