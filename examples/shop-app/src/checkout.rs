// The shop's checkout service (an illustration for `ringmaster flags stale --code`):
// flag names are read through `flags.is_enabled("…")` and friends.

pub fn checkout(flags: &Flags, cart: &Cart) -> Receipt {
    if flags.is_enabled("new-checkout") {
        return new_flow::checkout(cart);
    }
    // `new-cart` was never defined in the config repo: `flags stale` reports it.
    if flags.is_enabled("new-cart") {
        return cart_v2::checkout(cart);
    }
    legacy::checkout(cart)
}
