"""tblog's own protocol buffer definitions (package ``tblog``, TensorBoard's field numbers)."""
