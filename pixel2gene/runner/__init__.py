"""p2g-run: the local runner that calls every step in order, above the steps themselves."""
