//! A delivery target in memory, for tests of whatever delivers (the driver,
//! its steps): the same compare-and-set as the real targets, and a way to
//! move a ring behind ringmaster's back. No manifest section names it.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;

use crate::deliver::{Delivered, Delivery, DeliveryError, DeliveryTarget, withdraw_cas};

/// A ring's revision and the configs delivered with it.
type Held = (String, Vec<(String, String)>);

/// Each ring's revision and the configs delivered with it.
#[derive(Debug, Default)]
pub struct MemoryTarget {
    rings: RefCell<BTreeMap<String, Held>>,
    moves: Cell<usize>,
}

impl MemoryTarget {
    pub fn new() -> MemoryTarget {
        MemoryTarget::default()
    }

    /// The configs the ring got with its current revision.
    pub fn configs(&self, ring: &str) -> Vec<(String, String)> {
        self.rings
            .borrow()
            .get(ring)
            .map(|(_, configs)| configs.clone())
            .unwrap_or_default()
    }

    /// How many times this target moved a ring (deliveries and withdrawals;
    /// not [`set`](Self::set), nor a delivery of what a ring already held).
    pub fn moves(&self) -> usize {
        self.moves.get()
    }

    /// Moves the ring as someone else would (`None`: takes it away).
    pub fn set(&self, ring: &str, revision: Option<&str>) {
        let mut rings = self.rings.borrow_mut();
        match revision {
            Some(r) => {
                rings.insert(ring.to_owned(), (r.to_owned(), Vec::new()));
            }
            None => {
                rings.remove(ring);
            }
        }
    }
}

impl DeliveryTarget for MemoryTarget {
    fn current(&self, ring: &str) -> anyhow::Result<Option<String>> {
        Ok(self.rings.borrow().get(ring).map(|(r, _)| r.clone()))
    }

    fn write(&self, delivery: &mut Delivery<'_>) -> Result<Delivered, DeliveryError> {
        let configs = delivery.all_configs()?;
        self.rings.borrow_mut().insert(
            delivery.ring.to_owned(),
            (delivery.revision.to_owned(), configs),
        );
        self.moves.set(self.moves.get() + 1);
        Ok(Delivered::Moved)
    }

    fn withdraw(&self, ring: &str, expected: &str) -> Result<Delivered, DeliveryError> {
        withdraw_cas(ring, self.current(ring)?, expected, || {
            self.rings.borrow_mut().remove(ring);
            self.moves.set(self.moves.get() + 1);
            Ok(())
        })
    }

    fn describe(&self) -> String {
        "memory".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_compares_and_sets_like_the_real_targets() {
        let target = MemoryTarget::new();
        let configs = [("a".to_owned(), "x: 1\n".to_owned())];
        assert_eq!(
            target.deliver("r", None, "v1", &configs).unwrap(),
            Delivered::Moved
        );
        assert_eq!(
            target.deliver("r", None, "v1", &configs).unwrap(),
            Delivered::AlreadyThere
        );
        assert_eq!(target.configs("r"), configs.to_vec());
        target.set("r", Some("theirs"));
        let err = target.deliver("r", Some("v1"), "v2", &[]).unwrap_err();
        assert!(matches!(err, DeliveryError::Conflict { .. }), "{err}");
        assert!(target.withdraw("r", "v1").is_err());
        assert_eq!(target.withdraw("r", "theirs").unwrap(), Delivered::Moved);
        assert_eq!(target.current("r").unwrap(), None);
        assert_eq!(
            target.withdraw("r", "theirs").unwrap(),
            Delivered::AlreadyThere
        );
    }
}
