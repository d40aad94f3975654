"""Record framing, event files and the background writer."""
