"""Pure mapping from Rakuten to Cubyn and back: tables and total functions, no IO, no clock, no settings."""
