//! Network clients: the HTTP client every adapter shares, and etcd's JSON gateway.

pub mod etcd;
pub mod http;
