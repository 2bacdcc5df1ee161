"""One module per page: layout first, then wiring; handlers call store/ and return updates."""
