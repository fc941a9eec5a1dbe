"""The web console (一人一档 in a browser): static pages served with the object-services API, and the read log
that records who looked at which entity."""
