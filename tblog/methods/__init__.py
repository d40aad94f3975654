"""``SummaryWriter``'s ``add_*`` methods: one mixin class per TensorBoard dashboard."""
